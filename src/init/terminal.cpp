#include "terminal.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

namespace tend::init_face {
namespace {

// Whether `pid` is stopped (state T in /proc/PID/stat, after the parenthesised command name).
bool is_stopped(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");  // "e": O_CLOEXEC
  if (f == nullptr) return false;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'T';
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
