#include "terminal.hpp"

#include <signal.h>
#include <unistd.h>

#include <utility>

#include "tend/process.hpp"

namespace tend::init_face {
namespace {

// Whether `pid` is stopped (state T in proc(5)).
bool is_stopped(pid_t pid) {
  auto process = read_process(pid);
  return process && process->state == 'T';
}

}  // namespace

TerminalHandoff::TerminalHandoff(TerminalHandoff&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), ours_(std::exchange(other.ours_, -1)) {}

bool TerminalHandoff::stdin_is_terminal() {
  return ::isatty(STDIN_FILENO) == 1;
}

TerminalHandoff TerminalHandoff::prepare() {
  TerminalHandoff handoff;
  const pid_t ours = ::getpgrp();
  if (!stdin_is_terminal() || ::tcgetpgrp(STDIN_FILENO) != ours) return handoff;
  handoff.fd_ = STDIN_FILENO;
  handoff.ours_ = ours;
  return handoff;
}

void TerminalHandoff::give_to(pid_t pgid) {
  if (fd_ < 0 || pgid <= 0) return;
  if (::tcgetpgrp(fd_) != pgid && ::tcsetpgrp(fd_, pgid) != 0) return;
  // If the job touched the terminal before it was its own, SIGTTIN/SIGTTOU stopped it. It is in
  // the foreground now, so let it go on (as a shell's `fg` does).
  if (is_stopped(pgid)) ::kill(-pgid, SIGCONT);
}

void TerminalHandoff::give_back() {
  if (fd_ < 0) return;
  // We are a background group now: this works only because SIGTTOU is blocked (signalfd).
  (void)::tcsetpgrp(fd_, ours_);
  fd_ = -1;
}

}  // namespace tend::init_face
