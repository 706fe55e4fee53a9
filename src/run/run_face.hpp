// The `tend run` face. Depends on libtend only.
#pragma once

namespace tend::run_face {

// argv[0] is "run"; returns the process exit status.
int main(int argc, char** argv);

}  // namespace tend::run_face
