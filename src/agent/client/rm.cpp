// `tend rm ID...`: removes finished jobs (record, output and directory) from the agent.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "http/text.hpp"

namespace tend::agent {

int rm_main(int argc, char** argv) {
  CLI::App app{"tend rm: remove finished jobs, their records and their output", "tend rm"};
  Connection conn;
  add_connection_options(app, conn);
  std::vector<std::string> ids;
  app.add_option("ids", ids, "job ids")->required();
  if (auto rc = parse_client(app, argc, argv)) return *rc;

  return http::run_blocking<int>(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<int> {
        auto cli = co_await open_client(conn, "rm", ex);
        if (!cli) co_return kToolFailed;
        // Every id is tried; the status is the worst: 125 (the agent failed) over 1 (a job that
        // does not exist or still runs) over 0.
        int rc = 0;
        for (const std::string& id : ids) {
          auto r =
              co_await cli->request(http::Verb::delete_, "/v1/jobs/" + http::percent_encode(id));
          if (r && r->status == 200) {
            std::printf("removed %s\n", id.c_str());
            continue;
          }
          std::fprintf(stderr, "tend rm: %s: %s\n", id.c_str(),
                       r ? r->describe().c_str() : r.error().detail.c_str());
          rc = std::max(rc, r && (r->status == 404 || r->status == 409) ? 1 : kToolFailed);
        }
        co_return rc;
      });
}

}  // namespace tend::agent
