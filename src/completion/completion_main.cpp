// `tend completion bash|zsh`: prints the completion script for that shell on stdout.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "completion_face.hpp"
#include "scripts.hpp"

namespace tend::completion_face {

namespace {

constexpr const char* kUsage =
    "usage: tend completion bash|zsh\n"
    "\n"
    "Print the shell completion script for tend on stdout. Installed packages put it where the\n"
    "shell finds it; by hand:\n"
    "  bash: source <(tend completion bash)          (or save it as\n"
    "        ~/.local/share/bash-completion/completions/tend)\n"
    "  zsh:  tend completion zsh > \"${fpath[1]}/_tend\"   (then restart zsh)\n"
    "\n"
    "Options are completed from `tend COMMAND --help`, so they follow the installed tend.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2) {
    std::string_view arg = argv[1];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const char* script = arg == "bash" ? kBashScript : arg == "zsh" ? kZshScript : nullptr;
    if (script) {
      std::fputs(script, stdout);
      return std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 125;
    }
    std::fprintf(stderr, "tend completion: unknown shell '%s' (bash or zsh)\n", argv[1]);
  } else {
    std::fputs(kUsage, stderr);
  }
  return 125;
}

}  // namespace tend::completion_face
