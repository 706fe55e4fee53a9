// `tend logs [-f] ID [--machine NAME]`: prints a job's output (stdout and stderr, merged in write
// order); to a server, the output of one machine's run.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "client/failover.hpp"
#include "client/sse_output.hpp"
#include "http/heartbeat.hpp"
#include "http/text.hpp"

namespace tend::agent {

namespace {

std::string output_target(const std::string& id, const std::string& machine, uint64_t offset,
                          bool follow) {
  return "/v1/jobs/" + http::percent_encode(id) +
         (machine.empty() ? "" : "/runs/" + http::percent_encode(machine)) +
         "/output?offset=" + std::to_string(offset) + (follow ? "&sse=1" : "");
}

// A server keeps no output of its own: a fleet job's output is per run. The machines of the job's
// runs (empty if `id` is not a fleet job or cannot be read).
boost::asio::awaitable<std::vector<std::string>> run_machines(Failover& servers,
                                                              const std::string& id) {
  std::vector<std::string> names;
  auto r = co_await servers.get("/v1/jobs/" + http::percent_encode(id), std::chrono::seconds(15));
  if (!r || r->status != 200) co_return names;
  auto job = nlohmann::json::parse(r->body, nullptr, false);
  if (!job.is_object() || !job.contains("runs") || !job["runs"].is_array()) co_return names;
  for (const auto& run : job["runs"])
    if (run.is_object() && run.contains("machine") && run["machine"].is_string())
      names.push_back(run["machine"].get<std::string>());
  co_return names;
}

// A 5xx that is about the machine (a server's "unreachable: its output is on it", a bad
// address): every server would say the same, so it is reported rather than recovered from.
bool about_the_machine(const http::ClientResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return false;
  const auto& e = j["error"];
  // No field is null (value() would throw on it): only a string names one.
  return e.contains("field") && e["field"].is_string() && e["field"] == "machine";
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

int logs_main(int argc, char** argv) {
  CLI::App app{"tend logs: print a job's output (stdout and stderr, merged)", "tend logs"};
  Connection conn;
  add_connection_options(app, conn);
  bool follow = false;
  uint64_t offset = 0;
  std::string id, machine, reconnect_text;
  app.add_option("--machine", machine,
                 "fleet: the output of the run on this machine (to a server; needed when the job "
                 "ran on more than one)");
  app.add_flag("-f,--follow", follow,
               "keep printing until the job ends; if the server in use stops answering, go on "
               "from the next byte with the next of --addr that answers");
  app.add_option("--offset", offset, "start at this byte");
  add_reconnect_option(app, reconnect_text);
  app.add_option("id", id, "job id")->required();
  if (auto rc = parse_client(app, argc, argv)) return *rc;
  auto limit = reconnect_for(reconnect_text, "logs");
  if (!limit) return kToolFailed;
  return http::run_blocking<int>([&](boost::asio::any_io_executor ex)
                                     -> boost::asio::awaitable<int> {
    auto servers = co_await open_failover(conn, "logs", *limit, ex);
    if (!servers) co_return kToolFailed;
    if (machine.empty()) {
      // A fleet job without --machine: its one run's output, else say which machines ran it.
      auto names = co_await run_machines(*servers, id);
      if (names.size() == 1) machine = names[0];
      if (names.size() > 1) {
        std::fprintf(stderr,
                     "tend logs: job %s ran on %zu machines (%s): pick one with --machine NAME\n",
                     id.c_str(), names.size(), joined(names).c_str());
        co_return kToolFailed;
      }
    }
    const uint64_t first = offset;
    // Where a cut-off output stopped, for the messages: "" when nothing was printed.
    auto resume = [&] {
      return offset == first
                 ? std::string()
                 : " (the output was cut off: printed up to byte " + std::to_string(offset) +
                       ", go on with --offset " + std::to_string(offset) + ")";
    };
    auto print = [&](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      offset += piece.size();
    };
    // `offset`: the next byte to print. A stream cut short (the server killed, the connection
    // lost, the agent failing under a server's relay), or silent beyond a few heartbeats (the
    // server frozen), is resumed from it, on the next server that answers: no byte twice, none
    // missed. Followed, the output comes as events: complete only with the `end` event.
    for (;;) {
      SseOutput events([&](std::string_view text, std::optional<uint64_t>) { print(text); });
      // The head of a 2xx is an answer: a stream that then stays quiet for long and fails
      // starts a new --reconnect-for.
      http::Client::AsyncHead head =
          [&](const http::ClientResponse&) -> boost::asio::awaitable<bool> {
        servers->answered();
        co_return true;
      };
      http::Client::AsyncData data = [&](std::string_view piece) -> boost::asio::awaitable<bool> {
        if (follow)
          events.feed(piece);
        else
          print(piece);
        co_return true;
      };
      auto r =
          co_await servers->client().relay(output_target(id, machine, offset, follow),
                                           std::move(head), std::move(data), http::kHeartbeatLost);
      if (r && r->status == 200 && (!follow || events.ended())) co_return 0;
      if (r && r->status != 200 && (r->status / 100 != 5 || about_the_machine(*r))) {
        std::fprintf(stderr, "tend logs: %s%s\n", r->describe().c_str(), resume().c_str());
        co_return r->status == 404 ? 1 : kToolFailed;
      }
      std::string why = r ? "the output stream ended before the job did" : why_failed(r);
      if (!co_await servers->recover(why)) {
        std::fprintf(stderr, "tend logs: %s; the last request: %s%s\n", servers->gave_up().c_str(),
                     why.c_str(), resume().c_str());
        co_return kToolFailed;
      }
    }
  });
}

}  // namespace tend::agent
