// The `tend timeout` face: GNU timeout's command line and exit statuses, tend's containment.
// Depends on libtend only.
#pragma once

namespace tend::timeout_face {

// argv[0] is the name messages start with ("timeout", or the path a multi-call binary was run
// as, as GNU timeout does); returns the process exit status.
int main(int argc, char** argv);

}  // namespace tend::timeout_face
