// `tend machines`: the machines of a fleet, as a tend server knows them.
#include <cstdio>

#include "client/client.hpp"
#include "client/connection.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

std::string labels_text(const json& labels) {
  std::string out;
  if (labels.is_object())
    for (const auto& [k, v] : labels.items())
      out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out.empty() ? "-" : out;
}

}  // namespace

int machines_main(int argc, char** argv) {
  CLI::App app{"tend machines: list the machines of a fleet (from a tend server)", "tend machines"};
  Connection conn;
  add_connection_options(app, conn);
  bool as_json = false;
  app.add_flag("--json", as_json, "print the API's JSON");
  if (auto rc = parse_client(app, argc, argv)) return *rc;

  return http::run_blocking<int>(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<int> {
        auto cli = co_await open_client(conn, "machines", ex);
        if (!cli) co_return kToolFailed;
        auto r = co_await cli->request(http::Verb::get, "/v1/machines");
        if (!r || r->status != 200) {
          std::fprintf(stderr, "tend machines: %s\n",
                       r ? r->describe().c_str() : r.error().detail.c_str());
          co_return kToolFailed;
        }
        json list = json::parse(r->body, nullptr, false);
        if (as_json) {
          std::printf("%s\n", list.dump(2).c_str());
          co_return 0;
        }
        std::printf("%-20s  %-11s  %-7s  %-24s  %-28s  %s\n", "NAME", "STATE", "RUNNING",
                    "LAST SEEN", "ADDRESS", "LABELS");
        for (const auto& m : list.value("machines", json::array())) {
          std::string seen = m["last_seen"].is_string() ? m["last_seen"].get<std::string>() : "-";
          std::printf("%-20s  %-11s  %-7lld  %-24s  %-28s  %s\n", m.value("name", "").c_str(),
                      m.value("state", "").c_str(), static_cast<long long>(m.value("running", 0)),
                      seen.c_str(), m.value("address", "").c_str(),
                      labels_text(m.value("labels", json::object())).c_str());
        }
        co_return 0;
      });
}

}  // namespace tend::agent
