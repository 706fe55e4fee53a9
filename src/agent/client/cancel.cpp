// `tend cancel ID`: stops a job and everything it started.
#include <cstdio>

#include "client/client.hpp"
#include "client/connection.hpp"
#include "http/text.hpp"

namespace tend::agent {

int cancel_main(int argc, char** argv) {
  CLI::App app{"tend cancel: stop a job and everything it started", "tend cancel"};
  Connection conn;
  add_connection_options(app, conn);
  std::string id;
  app.add_option("id", id, "job id")->required();
  if (auto rc = parse_client(app, argc, argv)) return *rc;

  return http::run_blocking<int>(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<int> {
        auto cli = co_await open_client(conn, "cancel", ex);
        if (!cli) co_return kToolFailed;
        auto r = co_await cli->request(http::Verb::post,
                                       "/v1/jobs/" + http::percent_encode(id) + "/cancel");
        if (!r || r->status != 202) {
          std::fprintf(stderr, "tend cancel: %s\n",
                       r ? r->describe().c_str() : r.error().detail.c_str());
          co_return r && (r->status == 404 || r->status == 409) ? 1 : kToolFailed;
        }
        std::printf("cancelling %s\n", id.c_str());
        co_return 0;
      });
}

}  // namespace tend::agent
