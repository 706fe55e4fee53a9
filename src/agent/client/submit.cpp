// `tend submit`: sends a job to the agent; with --wait, follows it and exits with its status.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <tuple>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "client/failover.hpp"
#include "http/heartbeat.hpp"
#include "tend/parse.hpp"

namespace tend::agent {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

// How long the submission's connection may take to open (the client's own default).
constexpr std::chrono::milliseconds kConnectFor = 5s;

// Waits until the job has ended and returns it: an agent's job, or a fleet job once every run
// has ended. `follow`: while the job runs, wait on its output stream (an agent's, which ends
// with the job) rather than poll. A fleet job is long-polled (`?wait=`: the server answers when
// the job changed, or after 10 s): asked again at once after a change; after an answer
// that did not change (the deadline, or a server without long-polls) a pause, short at first
// as most jobs are short, then longer (x1.5 per poll up to kPollAtMost). Lost contact (no
// answer, a 5xx) moves to the next server of --addr that answers (or waits for the agent's
// restart), for at most --reconnect-for since the last answer: the job goes on meanwhile and
// is polled by its id, never submitted again.
asio::awaitable<Expected<json>> wait_until_ended(Failover& servers, const std::string& id,
                                                 bool follow) {
  constexpr auto kPollFirst = 20ms, kPollAtMost = 500ms;
  // The server holds a long-poll this long; an answer later than kPollTimeout is a server in
  // trouble.
  constexpr auto kPollTimeout = 15s;
  const std::string path = "/v1/jobs/" + id + (follow ? "" : "?wait=10s");
  std::string last;  // the previous answer's body
  auto poll_for = kPollFirst;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    auto r = co_await servers.get(path, kPollTimeout);
    if (!r || r->status / 100 == 5)
      co_return Error::with_detail("wait",
                                   servers.gave_up() + "; the last request: " + why_failed(r));
    if (r->status != 200) co_return Error::with_detail("wait", r->describe());
    json job = json::parse(r->body, nullptr, false);
    std::string state = job.is_object() ? job.value("state", "") : "";
    if (state != "queued" && state != "running") co_return job;
    if (follow) {
      // Returns when the job ends, the agent stops, or is silent beyond a few heartbeats (frozen):
      // the poll above then finds the job's state or recovers.
      (void)co_await servers.client().stream(
          "/v1/jobs/" + id + "/output?sse=1&offset=0", [](std::string_view) { return true; },
          http::kHeartbeatLost);
      continue;
    }
    const bool changed = r->body != last;
    last = r->body;
    if (changed) continue;
    pause.expires_after(poll_for);
    co_await pause.async_wait(asio::use_awaitable);
    poll_for = std::min<std::chrono::milliseconds>(poll_for * 3 / 2, kPollAtMost);
  }
}

// The "target" of a fleet submission (to `tend server`) from --on / --match / --all; null when
// none was given (a submission to an agent). The error: one line for the user.
Expected<json> fleet_target(const std::string& on, const std::vector<std::string>& match,
                            bool all) {
  int given = !on.empty() + !match.empty() + all;
  if (given == 0) return json(nullptr);
  if (given > 1) return Error::with_detail("target", "give one of --on, --match and --all");
  if (all) return json{{"all", true}};
  if (!on.empty()) {
    json names = json::array();
    size_t start = 0;
    for (;;) {
      size_t comma = on.find(',', start);
      std::string name = on.substr(start, comma == std::string::npos ? on.npos : comma - start);
      if (name.empty()) return Error::with_detail("target", "--on: expected NAME[,NAME...]");
      names.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return json{{"machines", names}};
  }
  json labels = json::object();
  for (const auto& item : match) {
    std::string k, v;
    if (!split_kv(item, '=', k, v))
      return Error::with_detail("target", "--match: expected KEY=VALUE, got \"" + item + "\"");
    labels[k] = v;
  }
  return json{{"match", labels}};
}

// One line per machine; 0 only if every run succeeded, else 1.
int report_runs(const json& job) {
  int rc = 0;
  for (const auto& run : job.value("runs", json::array())) {
    std::string state = run.value("state", "");
    std::string exit = run.contains("exit_code") && run["exit_code"].is_number_integer()
                           ? "exit " + std::to_string(run["exit_code"].get<int>())
                       : run.contains("signal") && run["signal"].is_number_integer()
                           ? "signal " + std::to_string(run["signal"].get<int>())
                           : "";
    std::string error = run.contains("error") && run["error"].is_string()
                            ? "  " + run["error"].get<std::string>()
                            : "";
    std::printf("%-20s  %-10s  %s%s\n", run.value("machine", "").c_str(), state.c_str(),
                exit.c_str(), error.c_str());
    if (state != "succeeded") rc = 1;
  }
  return rc;
}

// --memory, --memory-high, --swap, --pids, --cpu as given: the request's "limits" (the agent
// applies its defaults and refuses what is above its ceilings).
struct LimitTexts {
  std::string memory, memory_high, swap, pids, cpu;
};

void add_limit_options(CLI::App& app, LimitTexts& l) {
  app.add_option("--memory", l.memory, "memory limit of the whole job (512M, 2G)")
      ->type_name("SIZE");
  app.add_option("--memory-high", l.memory_high, "memory level above which the job is slowed")
      ->type_name("SIZE");
  app.add_option("--swap", l.swap, "swap the job may use")->type_name("SIZE");
  app.add_option("--pids", l.pids, "most processes the job may have at once")->type_name("N");
  app.add_option("--cpu", l.cpu, "CPU time the job may use, in CPUs (0.5, 2)")->type_name("CPUS");
}

// Checked here so that a typo sends nothing; sizes go as written (the agent reads them alike).
Expected<json> limits_json(const LimitTexts& l) {
  json out = json::object();
  for (auto [flag, field, text] : {std::tuple{"--memory", "memory", &l.memory},
                                   std::tuple{"--memory-high", "memory_high", &l.memory_high},
                                   std::tuple{"--swap", "swap", &l.swap}}) {
    if (text->empty()) continue;
    if (auto n = parse_size(*text); !n)
      return Error::with_detail(flag, std::string(flag) + " " + n.error().detail);
    out[field] = *text;
  }
  if (!l.pids.empty()) {
    auto n = parse_count(l.pids);
    if (!n) return Error::with_detail("--pids", "--pids " + n.error().detail + " (processes)");
    out["pids"] = *n;
  }
  if (!l.cpu.empty()) {
    auto n = parse_cpus(l.cpu);
    if (!n) return Error::with_detail("--cpu", "--cpu " + n.error().detail);
    out["cpu"] = *n;
  }
  return out;
}

}  // namespace

int submit_main(int argc, char** argv) {
  CLI::App app{"tend submit: run a command or a script on the agent", "tend submit"};
  Connection conn;
  add_connection_options(app, conn);
  std::string timeout, kill_after, cwd, user, script_file, interpreter;
  std::vector<std::string> labels, env, command;
  bool wait = false;
  app.add_option("--timeout", timeout, "stop the job after this long (30s, 5m, ...)");
  app.add_option("--kill-after", kill_after, "grace between the stop signal and SIGKILL");
  app.add_option("--label", labels, "label K=V (repeatable)");
  app.add_option("--cwd", cwd, "working directory");
  app.add_option("--env", env, "environment variable K=V (repeatable)");
  app.add_option("--user", user, "run as this user");
  app.add_option("--script", script_file, "run this file's text as a script (- for stdin)");
  app.add_option("--interpreter", interpreter,
                 "the script's interpreter: sh, bash, python3 or a path");
  app.add_flag("--wait", wait,
               "wait for the job and exit with its status (like tend run); for a fleet job: "
               "wait for every run, print a line per machine, exit 0 only if all succeeded. "
               "If the server in use stops answering, the wait goes on with the next of --addr "
               "that answers (the job is never submitted twice)");
  std::string reconnect_text;
  add_reconnect_option(app, reconnect_text);
  std::string on;
  std::vector<std::string> match;
  bool all = false;
  app.add_option("--on", on, "fleet: run on these machines (NAME,NAME...; to a tend server)");
  app.add_option("--match", match,
                 "fleet: run on every online machine with label K=V (repeatable)");
  app.add_flag("--all", all, "fleet: run on every online machine");
  LimitTexts limits;
  add_limit_options(app, limits);
  app.add_option("command", command, "the command and its arguments (after --)");
  if (auto rc = parse_client(app, argc, argv)) return *rc;

  json body = json::object();
  auto target = fleet_target(on, match, all);
  if (!target) {
    std::fprintf(stderr, "tend submit: %s\n", target.error().detail.c_str());
    return kToolFailed;
  }
  if (!target->is_null()) body["target"] = *target;
  if (!script_file.empty()) {
    if (!command.empty()) {
      std::fprintf(stderr, "tend submit: give either --script FILE or a command, not both\n");
      return kToolFailed;
    }
    std::stringstream text;
    if (script_file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream f(script_file, std::ios::binary);
      if (!f) {
        std::fprintf(stderr, "tend submit: --script: cannot read \"%s\"\n", script_file.c_str());
        return kToolFailed;
      }
      text << f.rdbuf();
    }
    body["script"] = text.str();
    if (!interpreter.empty()) body["interpreter"] = interpreter;
  } else if (command.empty()) {
    std::fprintf(stderr, "tend submit: nothing to run: give a command after -- or --script FILE\n");
    return kToolFailed;
  } else if (!interpreter.empty()) {
    std::fprintf(stderr, "tend submit: --interpreter goes with --script\n");
    return kToolFailed;
  } else {
    body["command"] = command;
  }
  if (auto l = limits_json(limits); !l) {
    std::fprintf(stderr, "tend submit: %s\n", l.error().detail.c_str());
    return kToolFailed;
  } else if (!l->empty()) {
    body["limits"] = *l;
  }
  if (!timeout.empty()) body["timeout"] = timeout;
  if (!kill_after.empty()) body["kill_after"] = kill_after;
  if (!cwd.empty()) body["cwd"] = cwd;
  if (!user.empty()) body["user"] = user;
  for (const auto& [list, field] : {std::pair{&labels, "labels"}, std::pair{&env, "env"}}) {
    for (const auto& item : *list) {
      std::string k, v;
      if (!split_kv(item, '=', k, v)) {
        std::fprintf(stderr, "tend submit: --%s: expected KEY=VALUE, got \"%s\"\n",
                     std::string(field) == "labels" ? "label" : "env", item.c_str());
        return kToolFailed;
      }
      body[field][k] = v;
    }
  }

  auto limit = reconnect_for(reconnect_text, "submit");
  if (!limit) return kToolFailed;

  return http::run_blocking<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    auto servers = co_await open_failover(conn, "submit", *limit, ex);
    if (!servers) co_return kToolFailed;
    // The submission goes out once, on a connection opened for it: if that cannot be opened,
    // nothing was sent; if the request then gets no answer, the job may exist or not, and
    // sending it again (here or to another server) could run it twice. So it is not resent.
    auto opened = co_await servers->client().connect_now(kConnectFor);
    if (!opened) {
      const Error& e = opened.error();
      std::fprintf(stderr, "tend submit: %s; nothing was submitted\n",
                   (e.detail.empty() ? e.message() : e.detail).c_str());
      co_return kToolFailed;
    }
    auto r = co_await servers->client().request(http::Verb::post, "/v1/jobs", body.dump());
    if (!r) {
      std::fprintf(stderr,
                   "tend submit: the submission got no answer from %s (%s): the job may or may "
                   "not have been created, and is not sent again, which could run it twice; look "
                   "for it with `tend jobs` before submitting again\n",
                   servers->where().c_str(), r.error().detail.c_str());
      co_return kToolFailed;
    }
    if (r->status != 201) {
      std::fprintf(stderr, "tend submit: %s\n", r->describe().c_str());
      co_return kToolFailed;
    }
    servers->answered();
    std::string id = json::parse(r->body, nullptr, false).value("id", "");
    std::printf("%s\n", id.c_str());
    std::fflush(stdout);
    if (!wait) co_return 0;
    const bool fleet = body.contains("target");
    auto job = co_await wait_until_ended(*servers, id, /*follow=*/!fleet);
    if (!job) {
      std::fprintf(stderr,
                   "tend submit: lost contact with the %s while waiting for %s: %s (the job goes "
                   "on: see it later with `tend jobs`)\n",
                   fleet ? "servers" : "agent", id.c_str(), job.error().detail.c_str());
      co_return kToolFailed;
    }
    if (fleet) co_return report_runs(*job);
    if ((*job)["error"].is_string())
      std::fprintf(stderr, "tend submit: job %s: %s\n", id.c_str(),
                   (*job)["error"].get<std::string>().c_str());
    if ((*job)["exit_status"].is_number_integer()) co_return (*job)["exit_status"].get<int>();
    co_return kToolFailed;  // lost: no status to report
  });
}

}  // namespace tend::agent
