// `tend jobs`: lists the agent's jobs, newest first.
#include <cstdio>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "http/text.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

std::string what_of(const json& j) {
  std::string what;
  if (j.contains("command") && j["command"].is_array())
    for (const auto& a : j["command"]) what += (what.empty() ? "" : " ") + a.get<std::string>();
  else if (j.contains("script") && j["script"].is_string())
    what = "[" + j.value("interpreter", "sh") + "] " + j["script"].get<std::string>().substr(0, 40);
  for (char& c : what)
    if (c == '\n') c = ' ';
  return what;
}

}  // namespace

int jobs_main(int argc, char** argv) {
  CLI::App app{"tend jobs: list the agent's jobs, newest first", "tend jobs"};
  Connection conn;
  add_connection_options(app, conn);
  std::string state, label, machine;
  int limit = 50;
  bool as_json = false;
  app.add_option("--state", state, "only jobs in this state");
  app.add_option("--label", label, "only jobs with this label K:V");
  app.add_option("--machine", machine, "fleet: only jobs that run on this machine (to a server)");
  app.add_option("--limit", limit, "at most this many (1-500)")->capture_default_str();
  app.add_flag("--json", as_json, "print the API's JSON");
  if (auto rc = parse_client(app, argc, argv)) return *rc;
  std::string target = "/v1/jobs?limit=" + std::to_string(limit);
  if (!state.empty()) target += "&state=" + http::percent_encode(state);
  if (!label.empty()) target += "&label=" + http::percent_encode(label);
  if (!machine.empty()) target += "&machine=" + http::percent_encode(machine);

  return http::run_blocking<int>(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<int> {
        auto cli = co_await open_client(conn, "jobs", ex);
        if (!cli) co_return kToolFailed;
        auto r = co_await cli->request(http::Verb::get, target);
        if (!r || r->status != 200) {
          std::fprintf(stderr, "tend jobs: %s\n",
                       r ? r->describe().c_str() : r.error().detail.c_str());
          co_return kToolFailed;
        }
        json list = json::parse(r->body, nullptr, false);
        if (as_json) {
          std::printf("%s\n", list.dump(2).c_str());
          co_return 0;
        }
        std::printf("%-16s  %-10s  %-6s  %-24s  %s\n", "ID", "STATE", "EXIT", "CREATED", "COMMAND");
        for (const auto& j : list["jobs"]) {
          std::string exit = j["exit_status"].is_number_integer()
                                 ? std::to_string(j["exit_status"].get<int>())
                                 : "-";
          std::printf("%-16s  %-10s  %-6s  %-24s  %s\n", j.value("id", "").c_str(),
                      j.value("state", "").c_str(), exit.c_str(), j.value("created_at", "").c_str(),
                      what_of(j).c_str());
        }
        co_return 0;
      });
}

}  // namespace tend::agent
