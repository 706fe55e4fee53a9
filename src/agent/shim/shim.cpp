#include "shim/shim.hpp"

#include "agent_face.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "shim/files.hpp"
#include "shim/job_dir.hpp"
#include "shim/job_request.hpp"
#include "tend/job.hpp"
#include "tend/reaper.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

constexpr std::chrono::milliseconds kDefaultKillAfter{10'000};

struct Spec {
  JobRequest request;
  std::string job_id;
  uint64_t output_limit = 64ull << 20;
};

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
  Spec spec{std::move(*req), j.value("id", std::string()),
            j.value("output_limit", uint64_t{64} << 20)};
  return spec;
}

Expected<void> apply_user(const std::string& name, Command& cmd) {
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
  cmd.set_env("HOME", pw.pw_dir).set_env("USER", pw.pw_name).set_env("LOGNAME", pw.pw_name);
  return {};
}

Expected<Command> build_command(const JobDir& dir, const Spec& spec) {
  const JobRequest& req = spec.request;
  Command cmd(job_argv(req, dir.script()));
  for (const auto& [k, v] : req.env) cmd.set_env(k, v);
  cmd.set_env("TEND_JOB_ID", spec.job_id);
  if (req.cwd) cmd.cwd(*req.cwd);
  if (req.user) {
    if (auto r = apply_user(*req.user, cmd); !r) return r.error();
  }
  cmd.stdin_(file_exists(dir.stdin_file()) ? Stdio::file(dir.stdin_file()) : Stdio::null());
  cmd.stdout_(Stdio::capture()).merge_stderr();
  return cmd;
}

// The shim's own diagnostics go to shim.log, made only when there is something to say (most
// jobs have nothing, and creating a file is the dearest thing a job costs on ext4).
void log(const JobDir& dir, const std::string& message) {
  UniqueFd fd(::open(dir.shim_log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return;
  std::string line = "tend agent-shim: " + message + "\n";
  (void)!::write(fd.get(), line.data(), line.size());
}

// Written in place (no temporary + rename) and fsync'ed before the shim exits: the agent reads
// it only once this process is gone, and a file cut short by a crash does not parse (the job is
// then `lost`, which is the truth).
void write_result(const JobDir& dir, const Result& result) {
  if (auto r = write_file_synced(dir.result(), to_json(result).dump()); !r)
    log(dir, r.error().message());
}

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

  auto spec = read_spec();
  if (!spec) {
    write_result(dir, failed_before_start(spec.error()));
    return 0;
  }
  auto cmd = build_command(dir, *spec);
  if (!cmd) {
    write_result(dir, failed_before_start(cmd.error()));
    return 0;
  }
  auto out = FileOutput::open(
      dir.output(),
      OutputLimits{spec->output_limit / 2, spec->output_limit - spec->output_limit / 2},
      FileOutput::Create::on_first_byte);
  if (!out) {
    write_result(dir, failed_before_start(out.error()));
    return 0;
  }
  auto loop = Loop::create();
  if (!loop) {
    write_result(dir, failed_before_start(loop.error()));
    return 0;
  }

  JobOptions opts;
  if (spec->request.timeout) opts.timeout = *spec->request.timeout;
  opts.stop.grace = spec->request.kill_after.value_or(kDefaultKillAfter);
  opts.orphans = OrphanPolicy::kill;
  opts.output = out->get();
  // A name the agent knows: how it finds (and kills) the job's cgroup if this shim dies.
  if (!spec->job_id.empty()) opts.scope.name = job_cgroup_name(spec->job_id);
  auto job = Job::start(*loop, *cmd, opts);
  if (!job) {
    write_result(dir, failed_before_start(job.error()));
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
  write_result(dir, result);
  return 0;
}

}  // namespace tend::agent
