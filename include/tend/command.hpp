// Command: what to run. A value; building one starts nothing (tend::spawn or tend::Job does).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tend {

// Where one of the child's standard streams goes.
struct Stdio {
  enum class Kind {
    inherit,  // the parent's own fd 0/1/2, passed straight through (no copying)
    null,     // /dev/null
    file,     // a file opened by the parent before the child starts (errors surface as values)
    fd,       // a descriptor the caller owns; the child gets a duplicate
    pipe,     // a pipe; the parent end is handed out on the Child
    capture,  // a pipe that tend::Job reads into a bounded capture (see output.hpp)
  };
  Kind kind = Kind::inherit;
  std::string path;     // file
  bool append = false;  // file: O_APPEND instead of O_TRUNC (stdout/stderr)
  int fd = -1;          // fd

  static Stdio inherit() { return {}; }
  static Stdio null() { return {Kind::null}; }
  static Stdio file(std::string path, bool append = false) {
    return {Kind::file, std::move(path), append};
  }
  static Stdio from_fd(int fd) { return {Kind::fd, {}, false, fd}; }
  static Stdio pipe() { return {Kind::pipe}; }
  static Stdio capture() { return {Kind::capture}; }
};

// uid/gid/supplementary groups to switch to before exec. Unset fields keep the parent's.
struct Credentials {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<std::vector<gid_t>> groups;  // setgroups(); empty vector drops all
};

struct Rlimit {
  int resource;  // RLIMIT_*
  rlim_t soft;
  rlim_t hard;
};

class Command {
 public:
  Command() = default;
  explicit Command(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  // `/bin/sh -c script`: a shell only when asked for.
  static Command shell(const std::string& script) { return Command({"/bin/sh", "-c", script}); }

  Command& arg(std::string a) {
    argv_.push_back(std::move(a));
    return *this;
  }
  // Environment: starts as a copy of the parent's unless clear_env().
  Command& clear_env() {
    clear_env_ = true;
    env_ops_.clear();
    return *this;
  }
  Command& set_env(std::string key, std::string value) {
    env_ops_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Command& unset_env(std::string key) {
    env_ops_.emplace_back(std::move(key), std::nullopt);
    return *this;
  }
  Command& cwd(std::string dir) {
    cwd_ = std::move(dir);
    return *this;
  }
  Command& stdin_(Stdio s) {
    stdio_[0] = std::move(s);
    return *this;
  }
  Command& stdout_(Stdio s) {
    stdio_[1] = std::move(s);
    return *this;
  }
  Command& stderr_(Stdio s) {
    stdio_[2] = std::move(s);
    return *this;
  }
  // stderr goes wherever stdout goes (2>&1); with capture, both land in one ordered stream.
  Command& merge_stderr(bool on = true) {
    merge_stderr_ = on;
    return *this;
  }
  Command& credentials(Credentials c) {
    creds_ = std::move(c);
    return *this;
  }
  Command& umask(mode_t m) {
    umask_ = m;
    return *this;
  }
  Command& rlimit(Rlimit r) {
    rlimits_.push_back(r);
    return *this;
  }
  // Pass the parent's `parent_fd` to the child as `child_fd` (parent keeps ownership).
  Command& pass_fd(int parent_fd, int child_fd) {
    extra_fds_.emplace_back(parent_fd, child_fd);
    return *this;
  }
  Command& new_session(bool on = true) {
    new_session_ = on;
    return *this;
  }
  Command& process_group(bool on = true) {
    process_group_ = on;
    return *this;
  }
  // With process_group(): the child makes its group the foreground of the terminal on its stdin,
  // before exec, if the parent's group is the foreground now (as tini and shells do; a job
  // started in the background takes nothing). Done in the child so that the program finds the
  // terminal its own from its first instruction.
  Command& take_terminal(bool on = true) {
    take_terminal_ = on;
    return *this;
  }
  // The child gets SIG_DFL for `sig` even where tend's caller ignored it. Otherwise the job keeps
  // the ignored set tend was started with; a wrapper that handles `sig` itself (GNU timeout does
  // for the signals it passes on) gives its command the default, as its own handler would.
  Command& default_signal(int sig) {
    default_signals_.push_back(sig);
    return *this;
  }
  // Signal the child receives when the thread that spawned it dies (PR_SET_PDEATHSIG).
  Command& parent_death_signal(int sig) {
    pdeathsig_ = sig;
    return *this;
  }

  const std::vector<std::string>& argv() const { return argv_; }
  bool env_cleared() const { return clear_env_; }
  const std::vector<std::pair<std::string, std::optional<std::string>>>& env_ops() const {
    return env_ops_;
  }
  const std::optional<std::string>& cwd() const { return cwd_; }
  const Stdio& stdio(int n) const { return stdio_[n]; }
  bool stderr_merged() const { return merge_stderr_; }
  const Credentials& credentials() const { return creds_; }
  std::optional<mode_t> umask() const { return umask_; }
  const std::vector<Rlimit>& rlimits() const { return rlimits_; }
  const std::vector<std::pair<int, int>>& extra_fds() const { return extra_fds_; }
  bool wants_new_session() const { return new_session_; }
  bool wants_process_group() const { return process_group_; }
  int parent_death_signal() const { return pdeathsig_; }
  bool wants_terminal() const { return take_terminal_; }
  const std::vector<int>& default_signals() const { return default_signals_; }

  // The environment the child will see, as KEY=VALUE strings.
  std::vector<std::string> build_env() const;
  // Looks up argv[0] the way execvp does, in the *child's* PATH. Result is the path to exec.
  std::string resolve_program() const;

 private:
  std::vector<std::string> argv_;
  bool clear_env_ = false;
  std::vector<std::pair<std::string, std::optional<std::string>>> env_ops_;
  std::optional<std::string> cwd_;
  Stdio stdio_[3];
  bool merge_stderr_ = false;
  Credentials creds_;
  std::optional<mode_t> umask_;
  std::vector<Rlimit> rlimits_;
  std::vector<std::pair<int, int>> extra_fds_;
  bool new_session_ = false;
  bool process_group_ = false;
  bool take_terminal_ = false;
  std::vector<int> default_signals_;
  int pdeathsig_ = 0;
};

}  // namespace tend
