#include "server/server_main.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <optional>

#include "etcd/client.hpp"
#include "http/auth.hpp"
#include "http/stop_signals.hpp"
#include "server/election.hpp"
#include "server/housekeeping.hpp"
#include "server/job_cache.hpp"
#include "server/options.hpp"
#include "server/routes.hpp"
#include "tend/fd.hpp"
#include "tend/parse.hpp"
#include "tend/reaper.hpp"

namespace tend::server {

namespace {

namespace asio = boost::asio;

int fail(const std::string& msg) {
  std::fprintf(stderr, "tend server: %s\n", msg.c_str());
  return 125;
}

// Waits until some member answers with a leader (and, with an etcd user, accepts its password),
// for at most `limit`: the error to print if not. A refused password ends the wait at once.
asio::awaitable<std::optional<std::string>> wait_for_etcd(etcd::Client& c,
                                                          std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  std::string why = "no answer";
  asio::steady_timer pause(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() < until) {
    for (size_t i = 0; i < c.endpoints().size(); ++i) {
      auto st = co_await c.status_of(i, 1s);
      if (st && st->leader != 0 && st->errors.empty()) {
        auto token = co_await c.token(2s);
        if (token) co_return std::nullopt;
        if (token.error().kind == etcd::ErrorKind::auth) co_return token.error().message;
        why = token.error().message;
        continue;
      }
      why = st ? (st->errors.empty() ? "no leader" : st->errors.front()) : st.error().message;
    }
    pause.expires_after(200ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
  co_return why;
}

// DATA/address, replaced whole: for scripts that started the server on port 0.
Expected<void> write_address(const std::string& dir, const std::string& addr) {
  const std::string path = dir + "/address", tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return Error::from_errno("open", tmp);
  if (auto r = write_all(fd.get(), addr + "\n"); !r) return r.error();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename", path);
  return {};
}

// The leader's lease: a killed housekeeper is replaced within about this long.
constexpr std::chrono::seconds kElectionTtl{5};

// Often enough that a run is marked within a small part of --lost-after, from 250 ms to 5 s.
std::chrono::milliseconds round_interval(std::chrono::milliseconds lost_after) {
  return std::clamp<std::chrono::milliseconds>(lost_after / 8, 250ms, 5s);
}

asio::awaitable<void> housekeeping_round(Housekeeper& h, ServerContext& ctx) {
  auto r = co_await h.round();
  if (r)
    ctx.counters.runs_marked_lost += static_cast<uint64_t>(*r);
  else
    ++ctx.counters.housekeeping_failures;  // etcd away: the next round does it
}

// The refusal of a --lost-after not longer than a known agent's --ttl (nullopt: fine).
std::optional<std::string> lost_after_refused(asio::io_context& ioc, etcd::Client& etcd,
                                              const ServerOptions& o) {
  std::optional<std::string> bad;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        const fleet::Keys keys{o.prefix};
        auto r = co_await check_lost_after(etcd, keys, o.lost_after);
        if (!r)
          bad = "cannot read the agents' TTLs from etcd: " + r.error().message;
        else
          bad = *r;
      },
      asio::detached);
  ioc.run();
  ioc.restart();
  return bad;
}

}  // namespace

int server_main(int argc, char** argv) {
  ServerOptions o;
  if (auto exit = parse_options(argc, argv, o)) return *exit;
  auto token = http::read_token(o.token_file);
  if (!token) return fail("--token-file: " + token.error().message());
  auto eps = http::resolve(o.listen);
  if (!eps) return fail("--listen: " + eps.error().detail);
  // Signals arrive through a signalfd only (no handlers); SIGPIPE: a write to a client that hung
  // up is an error value, not a death.
  auto stop_fd = make_signalfd({SIGTERM, SIGINT, SIGHUP, SIGPIPE});
  if (!stop_fd) return fail(stop_fd.error().message());

  asio::io_context ioc(1);
  etcd::Client etcd(ioc.get_executor(), o.etcd.endpoints, o.etcd.options);
  std::optional<std::string> unreachable;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> { unreachable = co_await wait_for_etcd(etcd, o.start_wait); },
      asio::detached);
  ioc.run();
  ioc.restart();
  if (unreachable) {
    char within[32];
    std::snprintf(within, sizeof within, "%g s", o.start_wait.count() / 1000.0);
    return fail("etcd at " + o.etcd_flags.endpoints + " (" + o.etcd.describe +
                ") did not answer within " + within + ": " + *unreachable);
  }
  if (o.lost_after.count() > 0)
    if (auto bad = lost_after_refused(ioc, etcd, o)) return fail(*bad);

  ServerContext ctx{etcd, fleet::Keys{o.prefix}, *token};
  http::Server server(ioc, make_routes(ctx), o.http);
  ctx.server = &server;
  auto bound = server.listen(eps->front());
  if (!bound) {
    const Error& e = bound.error();
    return fail("cannot listen on " + o.listen.to_string() + ": " + e.detail);
  }
  server.start();
  std::string addr = http::HostPort{bound->address().to_string(), bound->port()}.to_string();
  if (!o.data.empty())
    if (auto r = write_address(o.data, addr); !r) return fail("--data: " + r.error().message());
  std::printf("tend server: listening on http://%s/ (etcd %s over %s, keys under %s)\n",
              addr.c_str(), o.etcd_flags.endpoints.c_str(), o.etcd.describe.c_str(),
              o.prefix.c_str());
  std::printf("tend server: API token in %s\n", o.token_file.c_str());

  // Housekeeping has its own client: the API's etcd figures stay those of the requests.
  etcd::Client hk_etcd(ioc.get_executor(), o.etcd.endpoints, o.etcd.options);
  std::optional<Housekeeper> housekeeper;
  std::optional<Election> election;
  if (o.lost_after.count() > 0) {
    ctx.housekeeping_etcd = &hk_etcd;
    housekeeper.emplace(hk_etcd, ctx.keys, o.lost_after);
    election.emplace(hk_etcd, ctx.keys.housekeeper_key(),
                     nlohmann::json{{"server", "http://" + addr + "/"}}.dump(), kElectionTtl);
    ctx.election = &*election;
    asio::co_spawn(ioc,
                   election->run([&]() { return housekeeping_round(*housekeeper, ctx); },
                                 round_interval(o.lost_after)),
                   asio::detached);
    std::printf("tend server: runs of a machine unreachable for %s become lost\n",
                format_duration(o.lost_after).c_str());
  }
  // The watch-fed view of jobs, on the API's client (its one watch stream adds no call).
  std::optional<JobCache> jobs;
  if (o.job_cache > 0) {
    jobs.emplace(etcd, ctx.keys, o.job_cache);
    ctx.jobs = &*jobs;
    asio::co_spawn(ioc, jobs->run(), asio::detached);
  }
  std::fflush(stdout);

  asio::posix::stream_descriptor sig(ioc, stop_fd->release());
  asio::co_spawn(ioc,
                 http::stop_on_signal(sig, server, "tend server: stopping\n",
                                      [&] {
                                        if (election) election->stop();
                                        if (jobs) jobs->stop();
                                      }),
                 asio::detached);
  ioc.run();
  return 0;
}

}  // namespace tend::server
