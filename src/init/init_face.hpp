// The `tend init` face. Depends on libtend only.
#pragma once

namespace tend::init_face {

// argv[0] is "init"; returns the process exit status.
int main(int argc, char** argv);
// `tend` run as `tini`: tini's command line and environment (see parse_tini_options).
int tini_main(int argc, char** argv);

}  // namespace tend::init_face
