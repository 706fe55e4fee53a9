// The completion scripts themselves, one per shell.
#pragma once

namespace tend::completion_face {

extern const char* const kBashScript;
extern const char* const kZshScript;

}  // namespace tend::completion_face
