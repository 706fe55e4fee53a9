#include "server/options.hpp"

#include <CLI/CLI.hpp>
#include <thread>

#include "etcd/client.hpp"
#include "fleet/protocol.hpp"
#include "tend/parse.hpp"

namespace tend::agent {

namespace {

// How usage errors name the program (tend::usage_error).
constexpr std::string_view kProgram = "tend agent";

}  // namespace

std::optional<int> parse_options(int argc, char** argv, AgentOptions& o) {
  CLI::App app{"tend agent: the job service (HTTP API, durable records, web page)", "tend agent"};
  std::string listen = o.listen.to_string(), output_limit = "64MiB", body_limit = "1MiB";
  size_t max_connections = o.http.max_connections;
  std::string head_timeout = "10s", idle_timeout = "60s", keep_for = "30d";
  std::string allow_users, deny_users;
  LimitFlags limit_flags;
  app.add_option("--listen", listen, "ADDR:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--data", o.data, "directory for the database, job directories and token")
      ->capture_default_str();
  app.add_option("--token-file", o.token_file,
                 "read the API token from this file instead of DATA/token");
  app.add_option("--max-running", o.max_running,
                 "jobs running at once (0, the default: 2 x cores)");
  app.add_option("--max-queued", o.max_queued, "jobs waiting at most; more are refused with 429")
      ->capture_default_str();
  app.add_option("--output-limit", output_limit, "output kept per job (head + tail), e.g. 64MiB")
      ->capture_default_str();
  app.add_option("--body-limit", body_limit, "largest request body accepted")
      ->capture_default_str();
  app.add_option("--max-connections", max_connections,
                 "client connections open at once; more are answered 503")
      ->capture_default_str();
  app.add_option("--head-timeout", head_timeout,
                 "a client must send a whole request head within this; slower ones are closed")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "a kept-alive connection with no request for this long is closed")
      ->capture_default_str();
  app.add_option("--keep-jobs", o.retention.keep_jobs,
                 "finished jobs beyond the newest N are removed (record and directory)")
      ->capture_default_str();
  app.add_option("--keep-for", keep_for, "finished jobs older than this are removed, e.g. 30d")
      ->capture_default_str();
  app.add_option("--pass-env", o.pass_env,
                 "an environment variable of the agent that jobs get too (repeatable; jobs "
                 "otherwise start from a clean environment)");
  app.add_option("--allow-users", allow_users,
                 "comma-separated users jobs may run as (default: any not denied)");
  app.add_option("--deny-users", deny_users, "comma-separated users jobs may not run as");
  // One value per limit, both default and ceiling (server/limit_policy.hpp, docs/api.md).
  app.add_option("--job-memory", limit_flags.memory,
                 "memory limit of every job (512M, 2G): jobs that name none get it, a job may "
                 "ask for less, a request above it is refused (400). Default: none")
      ->type_name("SIZE");
  app.add_option("--job-pids", limit_flags.pids,
                 "process limit of every job, default and ceiling as --job-memory. Default: 15 % "
                 "of the system's threads, as systemd's DefaultTasksMax; \"unlimited\": none")
      ->type_name("N");
  app.add_option("--job-cpu", limit_flags.cpu,
                 "CPU quota of every job in CPUs (0.5, 2), default and ceiling as --job-memory. "
                 "Default: none")
      ->type_name("CPUS");
  app.add_flag("--recover", o.recover,
               "rebuild the job records from the job directories (after a damaged database "
               "was moved aside), then serve");
  std::vector<std::string> labels;
  std::string ttl = "10s", lost_after;
  app.add_option("--etcd", o.fleet.etcd.endpoints,
                 "join the fleet on this etcd: comma-separated endpoints, all http://HOST:PORT "
                 "or all https://HOST:PORT");
  etcd::add_connect_flags(app, o.fleet.etcd);
  app.add_option("--name", o.fleet.name, "this machine's name in the fleet (with --etcd)");
  app.add_option("--label", labels, "KEY=VALUE label of this machine (repeatable; with --etcd)");
  app.add_option("--ttl", ttl, "the machine's lease in etcd: unreachable this long after it stops")
      ->capture_default_str();
  app.add_option("--advertise", o.fleet.advertise,
                 "the URL servers reach this agent's API at (default: http://LISTEN)");
  app.add_option("--lost-after", lost_after,
                 "back after this long away from etcd: kill and report unfinished fleet runs as "
                 "lost (default: only when a server marked them lost)");
  app.add_option("--etcd-prefix", o.fleet.prefix, "the fleet's keys in etcd start with this")
      ->capture_default_str();
  // KEY = VALUE lines whose keys are the long options (packaging/agent.conf); flags given on
  // the command line win. An unknown key or a missing file is an error, not ignored.
  app.set_config("--config", "",
                 "read options from this file (KEY = VALUE, keys as the long options)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(kProgram, e.what()).status;
  }

  auto hp = http::parse_host_port(listen);
  if (!hp) return usage_error(kProgram, "--listen: " + hp.error().detail).status;
  o.listen = *hp;
  if (o.max_running < 0)
    return usage_error(kProgram, "--max-running must be at least 1 (0: 2 x cores)").status;
  if (o.max_running == 0)
    o.max_running = 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.max_queued < 0) return usage_error(kProgram, "--max-queued must not be negative").status;
  auto out = parse_size(output_limit);
  if (!out || *out < 2)
    return usage_error(kProgram,
                       "--output-limit: expected a size like 64MiB, got \"" + output_limit + "\"")
        .status;
  o.output_limit = *out;
  auto body = parse_size(body_limit);
  if (!body || *body == 0)
    return usage_error(kProgram,
                       "--body-limit: expected a size like 1MiB, got \"" + body_limit + "\"")
        .status;
  o.http.body_bytes = *body;
  if (max_connections < 1)
    return usage_error(kProgram, "--max-connections must be at least 1").status;
  o.http.max_connections = max_connections;
  for (auto [flag, text, out] :
       {std::tuple{"--head-timeout", &head_timeout, &o.http.head_timeout},
        std::tuple{"--idle-timeout", &idle_timeout, &o.http.idle_timeout}}) {
    auto d = parse_duration(*text);
    if (!d || d->count() <= 0)
      return usage_error(kProgram, std::string(flag) + ": expected a duration like 10s, got \"" +
                                       *text + "\"")
          .status;
    *out = *d;
  }
  if (o.retention.keep_jobs < 0)
    return usage_error(kProgram, "--keep-jobs must not be negative").status;
  auto kf = parse_duration(keep_for);
  if (!kf || kf->count() <= 0)
    return usage_error(kProgram,
                       "--keep-for: expected a duration like 30d or 12h, got \"" + keep_for + "\"")
        .status;
  o.retention.keep_for = std::chrono::duration_cast<std::chrono::milliseconds>(*kf);
  for (const std::string& name : o.pass_env)
    if (name.empty() || name.find('=') != std::string::npos)
      return usage_error(kProgram, "--pass-env: expected a variable name, got \"" + name + "\"")
          .status;
  if (app.count("--allow-users")) {
    o.users.allow = parse_user_list(allow_users);
    if (o.users.allow->empty())
      return usage_error(kProgram, "--allow-users: expected user names").status;
  }
  auto limits = parse_limit_flags(limit_flags);
  if (!limits)
    return usage_error(kProgram, limits.error().stage + ": " + limits.error().detail).status;
  o.limits = *limits;
  o.users.deny = parse_user_list(deny_users);
  if (app.count("--deny-users") && o.users.deny.empty())
    return usage_error(kProgram, "--deny-users: expected user names").status;
  if (auto bad = check_fleet_options(app.count("--etcd") > 0, labels, ttl, lost_after, o.fleet))
    return usage_error(kProgram, *bad).status;
  return std::nullopt;
}

std::optional<std::string> check_fleet_options(bool etcd_given,
                                               const std::vector<std::string>& labels,
                                               const std::string& ttl,
                                               const std::string& lost_after, FleetOptions& f) {
  if (!etcd_given) {
    if (!f.name.empty() || !labels.empty() || !f.advertise.empty() || !lost_after.empty() ||
        etcd::any_connect_flag(f.etcd))
      return "--name, --label, --advertise, --lost-after and the --etcd-… flags need --etcd (the "
             "fleet)";
    return std::nullopt;
  }
  auto conn = etcd::connect_from_flags(f.etcd);
  if (!conn) return conn.error().message;
  f.connection = std::move(*conn);
  if (f.name.empty()) return "--etcd needs --name NAME (this machine's name in the fleet)";
  if (auto bad = fleet::check_segment("--name", f.name)) return bad->detail;
  for (const std::string& l : labels) {
    auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) return "--label: expected KEY=VALUE, got \"" + l + "\"";
    std::string key = l.substr(0, eq);
    if (!f.labels.emplace(key, l.substr(eq + 1)).second)
      return "--label: \"" + key + "\" given twice";
  }
  auto t = parse_duration(ttl);
  if (!t || t->count() % 1000 != 0 || *t < std::chrono::seconds(2) || *t > std::chrono::hours(1))
    return "--ttl: expected whole seconds from 2s to 1h, got \"" + ttl + "\"";
  f.ttl = std::chrono::duration_cast<std::chrono::seconds>(*t);
  if (!lost_after.empty()) {
    auto la = parse_duration(lost_after);
    if (!la || *la <= f.ttl)
      return "--lost-after: expected a duration longer than --ttl, got \"" + lost_after + "\"";
    f.lost_after = *la;
  }
  if (!f.advertise.empty()) {
    auto u = http::parse_url(f.advertise);
    if (!u || u->tls || f.advertise.rfind("http://", 0) != 0)
      return "--advertise: expected http://HOST:PORT, got \"" + f.advertise + "\"";
  }
  if (f.prefix.empty() || f.prefix.front() != '/')
    return "--etcd-prefix: expected a key prefix starting with '/'";
  if (f.prefix.back() != '/') f.prefix += '/';
  return std::nullopt;
}

}  // namespace tend::agent
