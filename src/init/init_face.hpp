// The `tend init` face. Depends on libtend only.
#pragma once

namespace tend::init_face {

// argv[0] is "init"; returns the process exit status.
int main(int argc, char** argv);

}  // namespace tend::init_face
