// The `tend completion` face: prints a shell completion script. Depends on libtend only.
#pragma once

namespace tend::completion_face {

// argv[0] is "completion"; returns the process exit status.
int main(int argc, char** argv);

}  // namespace tend::completion_face
