#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

extern char** environ;

namespace scenario {
namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

TendProcess::TendProcess(const std::vector<std::string>& args, const std::string& marker,
                         Options opts)
    : marker_(marker) {
  // Everything the child needs is built before fork: nothing is allocated after it.
  // argv[0] names the tool a multi-call tend is (`timeout`, `tini`); the binary is the same.
  std::vector<std::string> argv_s{opts.argv0.empty() ? TEND_BINARY : opts.argv0};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    // The scenario decides the containment level and the marker, not the outer environment.
    if (kv.rfind("TEND_SCOPE=", 0) == 0 || kv.rfind("TEND_TEST_MARKER=", 0) == 0) continue;
    env_s.emplace_back(kv);
  }
  env_s.push_back("TEND_TEST_MARKER=" + marker);
  env_s.insert(env_s.end(), opts.env.begin(), opts.env.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (opts.stdin_data && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  started_ = Clock::now();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Only async-signal-safe calls from here to exec.
    ::signal(SIGPIPE, SIG_DFL);  // the harness ignores it; the job must not inherit that
    for (int sig : opts.ignored_signals) ::signal(sig, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : opts.blocked_signals) sigaddset(&mask, sig);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    ::dup2(opts.stdin_data ? in[0] : devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // Nothing of the test binary's reaches tend: every fd a job sees is tend's doing.
    ::close_range(3, ~0U, 0);
    if (!opts.cwd.empty() && ::chdir(opts.cwd.c_str()) != 0) ::_exit(121);
    ::execve(TEND_BINARY, argv.data(), envp.data());
    ::_exit(122);
  }
  ::close(out[1]);
  ::close(devnull);
  out_fd_ = out[0];
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  if (opts.stdin_data) {
    ::close(in[0]);
    // Small inputs fit in the pipe buffer; a reader that never reads cannot block us long.
    const std::string& d = *opts.stdin_data;
    size_t off = 0;
    while (off < d.size()) {
      ssize_t n = ::write(in[1], d.data() + off, d.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(in[1]);
  }
}

TendProcess::~TendProcess() {
  // Abandoned mid-run (a failed assertion): take everything down. After finish() the leftovers
  // are the test's to count; the fixture's TearDown kills them.
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    kill_marked(marker_);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool TendProcess::pump(int timeout_ms) {
  if (eof_) return false;
  struct pollfd p {
    out_fd_, POLLIN, 0
  };
  int r = ::poll(&p, 1, timeout_ms);
  if (r <= 0) return true;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0)
      eof_ = true;
    else if (errno == EINTR)
      continue;
    break;  // EAGAIN: all there is for now
  }
  return !eof_;
}

bool TendProcess::try_reap() {
  if (status_) return true;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    exited_at_ = Clock::now();
    return true;
  }
  return false;
}

bool TendProcess::wait_for_output(const std::string& needle, std::chrono::milliseconds within) {
  auto deadline = Clock::now() + within;
  while (output_.find(needle) == std::string::npos) {
    if (Clock::now() >= deadline || eof_) return output_.find(needle) != std::string::npos;
    pump(10);
  }
  return true;
}

RunResult TendProcess::finish(std::chrono::milliseconds safety) {
  auto deadline = started_ + safety;
  while (!(eof_ && try_reap())) {
    if (Clock::now() >= deadline) break;
    if (eof_)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    else
      pump(5);
    try_reap();
  }
  RunResult r;
  r.output = output_;
  r.elapsed_s = seconds_since(started_);
  if (!(eof_ && status_)) {
    ADD_FAILURE() << "safety timeout after " << safety.count() << " ms: "
                  << (status_ ? "tend exited but its output pipe never reached EOF (a process "
                                "kept it open)"
                              : "tend did not exit")
                  << "; " << marked_pids(marker_).size() << " marked processes alive\n"
                  << "output so far:\n"
                  << output_;
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      status_ = st;
    }
    kill_marked(marker_);
    return r;
  }
  r.finished = true;
  r.exit_s = std::chrono::duration<double>(*exited_at_ - started_).count();
  r.exit_code = WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  return r;
}

RunResult run_tend(const std::vector<std::string>& args, const std::string& marker,
                   TendProcess::Options opts, std::chrono::milliseconds safety) {
  TendProcess p(args, marker, std::move(opts));
  return p.finish(safety);
}

bool cgroup_level_available() {
  static const bool available = [] {
    std::string marker = "doctor-probe-" + std::to_string(::getpid());
    RunResult r = run_tend({"doctor"}, marker);
    return r.finished && r.exit_code == 0;
  }();
  return available;
}

}  // namespace scenario

namespace {
// Writing stdin to a tend that exited must fail with EPIPE, not kill the test binary. The
// child resets it before exec, so no job inherits the ignored disposition.
const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
}  // namespace
