// `tend logs [-f] ID`: prints a job's output (stdout and stderr, merged in write order).
#include <cstdio>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "http/text.hpp"

namespace tend::agent {

int logs_main(int argc, char** argv) {
  CLI::App app{"tend logs: print a job's output (stdout and stderr, merged)", "tend logs"};
  Connection conn;
  add_connection_options(app, conn);
  bool follow = false;
  uint64_t offset = 0;
  std::string id, machine;
  app.add_option("--machine", machine,
                 "fleet: the output of the run on this machine (to a server)");
  app.add_flag("-f,--follow", follow, "keep printing until the job ends");
  app.add_option("--offset", offset, "start at this byte");
  app.add_option("id", id, "job id")->required();
  if (auto rc = parse_client(app, argc, argv)) return *rc;
  std::string target = "/v1/jobs/" + http::percent_encode(id) +
                       (machine.empty() ? "" : "/runs/" + http::percent_encode(machine)) +
                       "/output?offset=" + std::to_string(offset) + (follow ? "&follow=1" : "");

  return http::run_blocking<int>(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<int> {
        auto cli = open_client(conn, "logs", ex);
        if (!cli) co_return kToolFailed;
        auto r = co_await cli->stream(
            target,
            [](std::string_view piece) {
              std::fwrite(piece.data(), 1, piece.size(), stdout);
              std::fflush(stdout);
              return true;
            },
            std::chrono::hours(24));
        if (!r || r->status != 200) {
          std::fprintf(stderr, "tend logs: %s\n",
                       r ? r->describe().c_str() : r.error().detail.c_str());
          co_return r && r->status == 404 ? 1 : kToolFailed;
        }
        co_return 0;
      });
}

}  // namespace tend::agent
