#include "server/agent_main.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "etcd/client.hpp"
#include "http/address.hpp"
#include "http/auth.hpp"
#include "http/stop_signals.hpp"
#include "server/fleet_member.hpp"
#include "server/options.hpp"
#include "server/recovery.hpp"
#include "server/retention.hpp"
#include "server/routes.hpp"
#include "shim/files.hpp"
#include "shim/job_env.hpp"
#include "tend/process.hpp"
#include "tend/reaper.hpp"

namespace tend::agent {

namespace {

namespace asio = boost::asio;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tend agent: %s\n", msg.c_str());
  return 125;
}

Expected<void> mkdir_p(const std::string& path, mode_t mode) {
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string cur = path.substr(0, pos);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Error::from_errno("mkdir", cur);
  }
  return {};
}

// Every connection is an fd: 1,000 clients need more than the usual soft limit of 1,024.
void raise_fd_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// What prepare() made: everything the service needs before it listens.
struct Prepared {
  std::string token_path;
  std::string token;  // empty: to be created once the port is ours
  std::vector<asio::ip::tcp::endpoint> endpoints;
  UniqueFd stop_fd;
  std::unique_ptr<Store> store;
  Metrics metrics;
  LimitPolicy limits;
  std::unique_ptr<Scheduler> scheduler;
  std::shared_ptr<RunChanges> fleet_changes;  // jobs changed (fed by the scheduler's thread)
  std::string fleet_id;                       // DATA/fleet-id (with --etcd)
};

// Stable per data directory: a restarted agent recognises its own registration and claims.
Expected<std::string> fleet_id(const std::string& data) {
  std::string path = data + "/fleet-id";
  if (file_exists(path)) {
    auto t = read_file(path);
    if (!t) return t.error();
    std::string id = *t;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (!id.empty() && id.find(':') == std::string::npos) return id;
  }
  std::string id = http::random_hex(8);
  if (auto w = write_file_atomic(path, id + "\n"); !w) return w.error();
  return id;
}

// The agent's environment, as KEY=VALUE entries (what jobs may inherit from, by name).
std::vector<std::string> own_environment() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

std::string own_user_name() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found)
    return pw.pw_name;
  return std::to_string(::geteuid());
}

Expected<std::unique_ptr<Prepared>> prepare(AgentOptions& o, mode_t job_umask) {
  auto p = std::make_unique<Prepared>();
  if (auto r = mkdir_p(o.data + "/jobs", 0700); !r) return r.error();
  // Job data (outputs, scripts, environments in the database) is the agent's alone, whatever
  // an older agent or the umask made of these directories.
  for (const std::string& dir : {o.data, o.data + "/jobs"})
    if (::chmod(dir.c_str(), 0700) != 0) return Error::from_errno("chmod", dir);
  // Absolute from here on: shims are found again after a restart by the job directory in their
  // command line, whatever directory the agent is restarted from.
  char* abs = ::realpath(o.data.c_str(), nullptr);
  if (!abs) return Error::from_errno("realpath", o.data);
  o.data = abs;
  std::free(abs);

  auto eps = http::resolve(o.listen);
  if (!eps) return Error::with_detail("--listen", eps.error().detail);
  p->endpoints = *eps;
  p->token_path = o.token_file.empty() ? o.data + "/token" : o.token_file;
  if (!o.token_file.empty() || file_exists(p->token_path)) {
    auto t = http::read_token(p->token_path);
    if (!t) return Error::with_detail("token", t.error().message());
    p->token = *t;
  } else if (!http::all_loopback(p->endpoints)) {
    // A fresh secret is not something to expose to a network before anyone has seen it.
    return Error::with_detail(
        "token", "refusing to listen on " + o.listen.to_string() +
                     " (not a loopback address) without a token: start once on 127.0.0.1 to "
                     "make DATA/token, or pass --token-file");
  }

  // Signals are blocked before any thread exists, so every thread inherits the mask and they
  // arrive only through signalfds (no handlers). SIGPIPE: a write to a client that hung up is
  // an error value, not a death.
  auto stop_fd = make_signalfd({SIGTERM, SIGINT, SIGHUP, SIGPIPE});
  if (!stop_fd) return stop_fd.error();
  p->stop_fd = std::move(*stop_fd);
  auto sigchld_fd = make_signalfd({SIGCHLD});
  if (!sigchld_fd) return sigchld_fd.error();
  raise_fd_limit();

  auto store =
      o.recover ? open_for_recovery(o.data + "/agent.db") : Store::open(o.data + "/agent.db");
  if (!store) return store.error();
  p->store = std::move(*store);
  if (o.recover) {
    auto n = rebuild_records(*p->store, o.data + "/jobs");
    if (!n) return n.error();
    std::fprintf(stderr, "tend agent: --recover: %d job records rebuilt from their directories\n",
                 *n);
  }
  // A submission interrupted by a crash, or a removal cut between record and directory.
  auto orphans = remove_orphan_dirs(*p->store, o.data + "/jobs");
  if (!orphans) return orphans.error();
  if (*orphans > 0)
    std::fprintf(stderr, "tend agent: removed %d job directories without a record\n", *orphans);
  // Before the scheduler looks for its cgroup: with cgroup v2 the agent may move into a leaf.
  std::vector<std::string> notes;
  auto limits = make_limit_policy(o.limits, notes);
  if (!limits) return limits.error();
  p->limits = std::move(*limits);
  for (const auto& n : notes) std::fprintf(stderr, "tend agent: %s\n", n.c_str());
  std::fprintf(stderr, "tend agent: job limits (default and ceiling): %s\n",
               p->limits.describe().c_str());
  SchedulerOptions sopts;
  sopts.jobs_dir = o.data + "/jobs";
  auto tend_exe = sibling_executable("tend");  // it runs each job's shim
  if (!tend_exe) return tend_exe.error();
  sopts.self_exe = *tend_exe;
  sopts.max_running = o.max_running;
  sopts.output_limit = o.output_limit;
  sopts.sigchld_fd = std::move(*sigchld_fd);
  sopts.retention = o.retention;
  sopts.job_env = passed_environment(own_environment(), o.pass_env);
  sopts.job_umask = job_umask;
  if (o.fleet.joins()) {
    auto id = fleet_id(o.data);
    if (!id) return id.error();
    p->fleet_id = *id;
    sopts.cgroup_tag = *id;
    p->fleet_changes = std::make_shared<RunChanges>();
    sopts.on_recorded = [changes = p->fleet_changes](const std::string& id) {
      changes->changed(id);
    };
  }
  auto scheduler = Scheduler::create(*p->store, p->metrics, std::move(sopts));
  if (!scheduler) return scheduler.error();
  p->scheduler = std::move(*scheduler);
  return p;
}

// Registers the machine in the fleet (bounded: etcd unreachable is an error after ~12 s, a live
// agent of the same name one at once) before the API accepts anything.
Expected<std::unique_ptr<FleetMember>> join_fleet(asio::io_context& ioc, const AgentOptions& o,
                                                  Prepared& p, const std::string& addr,
                                                  AgentContext& ctx) {
  FleetMemberConfig cfg;
  cfg.fleet = o.fleet;
  cfg.address = o.fleet.advertise.empty() ? "http://" + addr : o.fleet.advertise;
  if (o.fleet.advertise.empty()) {
    auto listen = http::resolve(o.listen);
    if (listen && !listen->empty() && listen->front().address().is_unspecified())
      return Error::usage("--advertise URL is needed when listening on every address (" +
                          o.listen.to_string() + "): servers must know where to reach this agent");
  }
  cfg.data_id = p.fleet_id;
  cfg.jobs_dir = o.data + "/jobs";
  cfg.version = TEND_AGENT_VERSION;
  cfg.admission = AdmissionPolicy{p.limits, o.users, own_user_name()};
  cfg.changes = p.fleet_changes;
  auto member = std::make_unique<FleetMember>(ioc, cfg, *p.store, *p.scheduler);
  std::optional<Expected<void>> joined;
  asio::co_spawn(ioc, member->join(), [&](std::exception_ptr e, Expected<void> r) {
    joined = e ? Expected<void>(Error::with_detail("etcd", "registration failed")) : std::move(r);
  });
  while (!joined && ioc.run_one() > 0) {
  }
  ioc.restart();
  if (!joined) return Error::with_detail("etcd", "registration did not finish");
  if (!*joined) return joined->error();
  std::string labels;
  for (const auto& [k, v] : o.fleet.labels) labels += " " + k + "=" + v;
  std::printf("tend agent: in the fleet as %s%s%s on etcd %s over %s (lease %llds, API at %s)\n",
              o.fleet.name.c_str(), labels.empty() ? "" : ", labels", labels.c_str(),
              o.fleet.etcd.endpoints.c_str(), o.fleet.connection.describe.c_str(),
              static_cast<long long>(o.fleet.ttl.count()), cfg.address.c_str());
  FleetMember* m = member.get();
  ctx.extra_metrics = [m] { return m->render_metrics(); };
  return member;
}

int serve(const AgentOptions& o, Prepared& p) {
  asio::io_context ioc(1);
  DirWatch watch(ioc);
  AgentContext ctx{*p.store,     *p.scheduler,
                   p.metrics,    OutputContext{*p.store, watch, o.data + "/jobs"},
                   p.token,      o.data + "/jobs",
                   o.max_queued, AdmissionPolicy{p.limits, o.users, own_user_name()}};
  http::Server server(ioc, make_routes(ctx), o.http);
  ctx.server = &server;
  auto bound = server.listen(p.endpoints.front());
  if (!bound) {
    const Error& e = bound.error();
    return fail("cannot listen on " + o.listen.to_string() + ": " + e.detail +
                (e.code == EADDRINUSE ? " (another program, perhaps another agent, has it)" : ""));
  }
  bool fresh = false;
  if (p.token.empty()) {
    auto t = http::create_token(p.token_path);
    if (!t) return fail(t.error().message());
    ctx.token = p.token = *t;
    fresh = true;
  }
  if (auto r = p.scheduler->start(); !r) return fail(r.error().message());
  std::string addr = http::HostPort{bound->address().to_string(), bound->port()}.to_string();
  std::unique_ptr<FleetMember> member;
  if (o.fleet.joins()) {
    auto joined = join_fleet(ioc, o, p, addr, ctx);
    if (!joined)
      return fail(joined.error().kind == ErrorKind::usage ? joined.error().detail
                                                          : joined.error().message());
    member = std::move(*joined);
  }
  server.start();

  (void)write_file_atomic(o.data + "/address", addr + "\n");
  std::printf("tend agent: listening on http://%s/ (data in %s, up to %d jobs at once%s)\n",
              addr.c_str(), o.data.c_str(), o.max_running,
              Reaper::is_pid1() ? ", PID 1: reaping orphans" : "");
  // The token itself only to a person at a terminal: logs are read by more people.
  if (fresh && ::isatty(STDOUT_FILENO))
    std::printf("tend agent: API token (saved in %s): %s\n", p.token_path.c_str(), p.token.c_str());
  else
    std::printf("tend agent: API token in %s\n", p.token_path.c_str());
  std::fflush(stdout);

  asio::posix::stream_descriptor sig(ioc, p.stop_fd.release());
  FleetMember* m = member.get();
  asio::co_spawn(
      ioc,
      http::stop_on_signal(
          sig, server, "tend agent: stopping (running jobs continue under their shims)\n",
          [m] {
            if (m) m->stop();
          },
          [&watch] { watch.close(); }),
      asio::detached);
  if (member) member->start();
  ioc.run();
  return 0;
}

}  // namespace

int agent_main(int argc, char** argv) {
  AgentOptions o;
  if (auto exit = parse_options(argc, argv, o)) return *exit;
  // Everything the agent and the shims create is private (database, outputs, results); jobs get
  // the umask the agent was started with back.
  mode_t job_umask = ::umask(077);
  auto prepared = prepare(o, job_umask);
  if (!prepared) return fail(prepared.error().message());
  int rc = serve(o, **prepared);
  // The scheduler's thread ends before the database it writes to closes.
  (*prepared)->scheduler.reset();
  return rc;
}

}  // namespace tend::agent
