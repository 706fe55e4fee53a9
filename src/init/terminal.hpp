// The controlling terminal: handed to the job's process group so that Ctrl-C and Ctrl-Z reach
// the job as they would from a shell (and not tend too), and taken back at the end.
#pragma once

#include <sys/types.h>

namespace tend::init_face {

class TerminalHandoff {
 public:
  TerminalHandoff() = default;
  TerminalHandoff(TerminalHandoff&& other) noexcept;
  TerminalHandoff& operator=(TerminalHandoff&&) = delete;
  TerminalHandoff(const TerminalHandoff&) = delete;
  TerminalHandoff& operator=(const TerminalHandoff&) = delete;
  ~TerminalHandoff() { give_back(); }

  static bool stdin_is_terminal();
  // Before the job starts: notes whether our group is the terminal's foreground now (started in
  // the background, we take nothing and give nothing back).
  static TerminalHandoff prepare();
  // Makes `pgid` the foreground group (the job's child did it already: Command::take_terminal;
  // this covers a child that could not) and lets it go on if it stopped on the terminal.
  void give_to(pid_t pgid);
  // Makes our own process group the foreground again. Idempotent.
  void give_back();

 private:
  int fd_ = -1;
  pid_t ours_ = -1;
};

}  // namespace tend::init_face
