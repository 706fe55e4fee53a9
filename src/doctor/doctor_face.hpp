// The `tend doctor` face. Depends on libtend only.
#pragma once

namespace tend::doctor_face {

// argv[0] is "doctor"; returns the process exit status.
int main(int argc, char** argv);

}  // namespace tend::doctor_face
