#include "shim/shim.hpp"

#include "agent_face.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/falloc.h>
#include <pwd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "jobspec/job_request.hpp"
#include "shim/files.hpp"
#include "shim/job_dir.hpp"
#include "shim/job_env.hpp"
#include "shim/output_times.hpp"
#include "tend/job.hpp"
#include "tend/reaper.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

constexpr std::chrono::milliseconds kDefaultKillAfter{10'000};

struct Spec {
  JobRequest request;
  std::string job_id;
  std::string cgroup;  // the job cgroup's name, chosen by the agent (job_cgroup_name)
  uint64_t output_limit = 64ull << 20;
  std::map<std::string, std::string> passed_env;  // from the agent: locale, TZ, --pass-env
  std::optional<mode_t> umask;                    // the agent's own, before it made its 077
};

// The job's script reaches the job as this fd (a sealed memfd, readable through /dev/fd/N by
// whatever user the job runs as), so the script file itself stays private to the agent.
constexpr int kScriptFd = 3;

// The agent passes the spec on stdin (a sealed memfd): one file fewer per job on the disk, and
// the spec is only ever needed here, once.
Expected<Spec> read_spec() {
  auto text = read_fd(STDIN_FILENO, "stdin");
  if (!text) return text.error();
  // The job never sees this fd (its stdin is set explicitly), but a shim that lives for days
  // should not pin the memfd either.
  if (UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC)); null)
    (void)::dup2(null.get(), STDIN_FILENO);
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("request"))
    return Error{"read spec", 0, "stdin", "not a job spec"};
  auto req = request_from_json(j["request"]);
  if (!req) return Error{"read spec", 0, "stdin", req.error().stage + ": " + req.error().detail};
  Spec spec{std::move(*req),
            j.value("id", std::string()),
            j.value("cgroup", std::string()),
            j.value("output_limit", uint64_t{64} << 20),
            {},
            std::nullopt};
  // An agent before fleet ids in cgroup names sent none: its name for the job's cgroup.
  if (spec.cgroup.empty() && !spec.job_id.empty()) spec.cgroup = job_cgroup_name("", spec.job_id);
  if (spec.cgroup.find('/') != std::string::npos || spec.cgroup == "." || spec.cgroup == "..")
    return Error{"read spec", 0, "stdin", "cgroup: not a directory name: " + spec.cgroup};
  if (auto it = j.find("env"); it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_string()) spec.passed_env[k] = v.get<std::string>();
  if (auto it = j.find("umask"); it != j.end() && it->is_number_unsigned())
    spec.umask = static_cast<mode_t>(it->get<unsigned>() & 0777);
  return spec;
}

// Switches the command to `name`'s uid, gid and groups; returns who that is for the environment.
Expected<JobIdentity> apply_user(const std::string& name, Command& cmd) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
    return Error{"getpwnam", ENOENT, name, "no such user"};
  int n = 64;
  std::vector<gid_t> groups(n);
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(n);
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) n = 0;
  }
  groups.resize(n);
  cmd.credentials(Credentials{pw.pw_uid, pw.pw_gid, groups});
  return JobIdentity{pw.pw_dir, pw.pw_name, pw.pw_shell ? pw.pw_shell : ""};
}

// Who this process is, for a job that names no user (it runs as the agent's user).
std::optional<JobIdentity> own_identity() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
    return std::nullopt;
  return JobIdentity{pw.pw_dir, pw.pw_name, pw.pw_shell ? pw.pw_shell : ""};
}

bool is_python(const std::string& interpreter) {
  auto slash = interpreter.rfind('/');
  std::string base = slash == std::string::npos ? interpreter : interpreter.substr(slash + 1);
  return base.rfind("python", 0) == 0;
}

// `script_fd`: the script as a sealed memfd, kept open by the caller until the job has started.
Expected<Command> build_command(const JobDir& dir, const Spec& spec, UniqueFd& script_fd) {
  const JobRequest& req = spec.request;
  if (req.script) {
    auto text = read_file(dir.script());
    if (!text) return text.error();
    auto fd = sealed_memory_file("tend-job-script", *text);
    if (!fd) return fd.error();
    script_fd = std::move(*fd);
  }
  Command cmd(job_argv(req, "/dev/fd/" + std::to_string(kScriptFd)));
  if (script_fd) cmd.pass_fd(script_fd.get(), kScriptFd);
  JobEnvInput env{spec.passed_env, std::nullopt, spec.job_id,
                  req.script && is_python(req.interpreter), req.env};
  if (req.cwd) cmd.cwd(*req.cwd);
  if (req.user) {
    auto who = apply_user(*req.user, cmd);
    if (!who) return who.error();
    env.identity = *who;
  } else {
    env.identity = own_identity();
  }
  cmd.clear_env();
  for (const auto& [k, v] : job_environment(env)) cmd.set_env(k, v);
  if (spec.umask) cmd.umask(*spec.umask);
  cmd.stdin_(file_exists(dir.stdin_file()) ? Stdio::file(dir.stdin_file()) : Stdio::null());
  cmd.stdout_(Stdio::capture()).merge_stderr();
  return cmd;
}

// The shim's own diagnostics go to shim.log, made only when there is something to say (most
// jobs have nothing, and creating a file is the dearest thing a job costs on ext4).
void log(const JobDir& dir, const std::string& message) {
  UniqueFd fd(::open(dir.shim_log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return;
  std::string line = "tend agent-shim: " + message + "\n";
  (void)!::write(fd.get(), line.data(), line.size());
}

// result.json, with its space reserved when the job starts: a job that fills the disk must not
// take the place of its own result (the agent reconciles the record from it once space returns).
// Written in place (no temporary + rename), into the reserved blocks, and fsync'ed before the
// shim exits: the agent reads it only once this process is gone, and a file cut short by a
// crash does not parse (the job is then `lost`, which is the truth).
class ResultFile {
 public:
  // Blocks for this many bytes are allocated beyond the end of the still empty file
  // (FALLOC_FL_KEEP_SIZE): a shim killed before writing leaves an empty file, not zeros.
  static constexpr off_t kReserve = 64 * 1024;

  // Creates the file and reserves its space; an error if the disk has no room for it.
  Expected<void> reserve(const JobDir& dir) {
    fd_.reset(::open(dir.result().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) return Error::from_errno("open", dir.result());
    if (::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, 0, kReserve) != 0 && errno != EOPNOTSUPP)
      return Error::from_errno("reserve space for the result", dir.result());
    return {};
  }

  void write(const JobDir& dir, const Result& result) {
    if (!fd_) {
      // Not reserved (the reservation itself failed): the best that can be done.
      if (auto r = write_file_synced(dir.result(), to_json(result).dump()); !r)
        log(dir, r.error().message());
      return;
    }
    std::string text = to_json(result).dump();
    // No O_TRUNC anywhere: truncating would give the reserved blocks back on ext4.
    for (size_t done = 0; done < text.size();) {
      ssize_t n =
          ::pwrite(fd_.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return log(dir, Error::from_errno("write", dir.result()).message());
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd_.get()) != 0) log(dir, Error::from_errno("fsync", dir.result()).message());
  }

 private:
  UniqueFd fd_;
};

Result failed_before_start(Error e) {
  Result r;
  r.reason = EndReason::spawn_failed;
  r.error = std::move(e);
  r.started_at = r.finished_at = std::chrono::system_clock::now();
  return r;
}

}  // namespace

int shim_main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: tend agent-shim JOBDIR (started by tend agent)\n", stderr);
    return 125;
  }
  JobDir dir{argv[1]};
  // First: a cancel (SIGTERM) that arrives while the job is being set up must not kill the shim
  // before it can stop the job properly. SIGCHLD: orphans that come back to us are reaped.
  auto sigfd = make_signalfd({SIGTERM, SIGINT, SIGHUP, SIGCHLD});
  if (!sigfd) {
    log(dir, sigfd.error().message());
    return 125;
  }

  ResultFile result_file;
  auto reserved = result_file.reserve(dir);
  auto spec = read_spec();
  if (!spec) {
    result_file.write(dir, failed_before_start(spec.error()));
    return 0;
  }
  if (!reserved) {
    result_file.write(dir, failed_before_start(reserved.error()));
    return 0;
  }
  UniqueFd script_fd;
  auto cmd = build_command(dir, *spec, script_fd);
  if (!cmd) {
    result_file.write(dir, failed_before_start(cmd.error()));
    return 0;
  }
  const OutputLimits limits{spec->output_limit / 2, spec->output_limit - spec->output_limit / 2};
  auto out = FileOutput::open(dir.output(), limits, FileOutput::Create::on_first_byte);
  if (!out) {
    result_file.write(dir, failed_before_start(out.error()));
    return 0;
  }
  auto loop = Loop::create();
  if (!loop) {
    result_file.write(dir, failed_before_start(loop.error()));
    return 0;
  }

  JobOptions opts;
  if (spec->request.timeout) opts.timeout = *spec->request.timeout;
  opts.stop.grace = spec->request.kill_after.value_or(kDefaultKillAfter);
  opts.orphans = OrphanPolicy::kill;
  TimedOutput timed(**out, dir.output_times(), limits);
  opts.output = &timed;
  // A name the agent knows: how it finds (and kills) the job's cgroup if this shim dies.
  opts.scope.name = spec->cgroup;
  // The agent checked that this host can enforce them (limit_policy.hpp); one that cannot after
  // all fails the job's start, never runs it unlimited.
  opts.scope.limits = spec->request.limits;
  auto job = Job::start(*loop, *cmd, opts);
  if (!job) {
    result_file.write(dir, failed_before_start(job.error()));
    return 0;
  }

  // Where the job's processes are, so the agent can still kill them if this shim is killed. A
  // cgroup has a name the agent knows (job_cgroup_name); a session needs to be written down.
  // No fsync: this only matters if the shim dies while the machine stays up.
  if (const Scope* s = (*job)->scope(); s && s->level() == ScopeLevel::session) {
    json scope = {{"level", to_string(s->level())}, {"session", (*job)->pid()}};
    if (auto r = replace_file(dir.scope(), scope.dump()); !r) log(dir, r.error().message());
  }

  auto watched = loop->watch(sigfd->get(), EPOLLIN, [&](uint32_t) {
    // One signal per wakeup: epoll is level-triggered, so pending ones come back at once.
    struct signalfd_siginfo si {};
    if (::read(sigfd->get(), &si, sizeof si) != static_cast<ssize_t>(sizeof si)) return;
    if (si.ssi_signo == SIGCHLD)
      Reaper::reap_orphans();
    else
      (*job)->stop();
  });
  if (!watched) log(dir, watched.error().message());
  if (auto r = loop->run_until([&] { return (*job)->done(); }); !r) log(dir, r.error().message());
  loop->unwatch(sigfd->get());

  Result result = (*job)->result();
  // The job ran, but its output could not be kept (disk full, the directory gone): say so in
  // the record rather than show an empty or cut output as if it were all.
  if (const auto& e = (*out)->error(); e && !result.error) result.error = *e;
  // Times lost are not worth a job's error: the output itself is whole.
  if (const auto& e = timed.error()) log(dir, e->message());
  result_file.write(dir, result);
  return 0;
}

}  // namespace tend::agent
