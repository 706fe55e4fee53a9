// `tend logs [-f] ID [--machine NAME]`: prints a job's output (stdout and stderr, merged in write
// order); to a server, the output of one machine's run.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "http/text.hpp"

namespace tend::agent {

namespace {

std::string output_target(const std::string& id, const std::string& machine, uint64_t offset,
                          bool follow) {
  return "/v1/jobs/" + http::percent_encode(id) +
         (machine.empty() ? "" : "/runs/" + http::percent_encode(machine)) +
         "/output?offset=" + std::to_string(offset) + (follow ? "&follow=1" : "");
}

// A server keeps no output of its own: a fleet job's output is per run. The machines of the job's
// runs (empty if `id` is not a fleet job or cannot be read).
boost::asio::awaitable<std::vector<std::string>> run_machines(http::Client& cli,
                                                              const std::string& id) {
  std::vector<std::string> names;
  auto r = co_await cli.request(http::Verb::get, "/v1/jobs/" + http::percent_encode(id));
  if (!r || r->status != 200) co_return names;
  auto job = nlohmann::json::parse(r->body, nullptr, false);
  if (!job.is_object() || !job.contains("runs") || !job["runs"].is_array()) co_return names;
  for (const auto& run : job["runs"])
    if (run.is_object() && run.contains("machine") && run["machine"].is_string())
      names.push_back(run["machine"].get<std::string>());
  co_return names;
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
  std::string id, machine;
  app.add_option("--machine", machine,
                 "fleet: the output of the run on this machine (to a server; needed when the job "
                 "ran on more than one)");
  app.add_flag("-f,--follow", follow, "keep printing until the job ends");
  app.add_option("--offset", offset, "start at this byte");
  app.add_option("id", id, "job id")->required();
  if (auto rc = parse_client(app, argc, argv)) return *rc;
  return http::run_blocking<int>([&](boost::asio::any_io_executor ex)
                                     -> boost::asio::awaitable<int> {
    auto cli = co_await open_client(conn, "logs", ex);
    if (!cli) co_return kToolFailed;
    if (machine.empty()) {
      // A fleet job without --machine: its one run's output, else say which machines ran it.
      auto names = co_await run_machines(*cli, id);
      if (names.size() == 1) machine = names[0];
      if (names.size() > 1) {
        std::fprintf(stderr,
                     "tend logs: job %s ran on %zu machines (%s): pick one with --machine NAME\n",
                     id.c_str(), names.size(), joined(names).c_str());
        co_return kToolFailed;
      }
    }
    auto r = co_await cli->stream(
        output_target(id, machine, offset, follow),
        [](std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
          return true;
        },
        std::chrono::hours(24));
    if (!r || r->status != 200) {
      std::fprintf(stderr, "tend logs: %s\n", r ? r->describe().c_str() : r.error().detail.c_str());
      co_return r && r->status == 404 ? 1 : kToolFailed;
    }
    co_return 0;
  });
}

}  // namespace tend::agent
