#include "client/failover.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tend/parse.hpp"

namespace tend::agent {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

milliseconds until(Clock::time_point deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

}  // namespace

void add_reconnect_option(CLI::App& app, std::string& text) {
  app.add_option("--reconnect-for", text,
                 "when the server in use stops answering: how long to try the servers of --addr "
                 "(the next that answers takes over) before giving up (default 60s)")
      ->type_name("DURATION");
}

std::optional<milliseconds> reconnect_for(const std::string& text, const char* cmd) {
  if (text.empty()) return kReconnectFor;
  auto d = parse_duration(text);
  if (!d || d->count() <= 0) {
    std::fprintf(stderr, "tend %s: --reconnect-for: expected a duration like 30s, got \"%s\"\n",
                 cmd, text.c_str());
    return std::nullopt;
  }
  return *d;
}

std::string why_failed(const Expected<http::ClientResponse>& r) {
  return r ? r->describe() : r.error().detail;
}

Failover::Failover(Endpoints e, Chosen chosen, milliseconds limit, const char* cmd,
                   asio::any_io_executor ex)
    : endpoints_(std::move(e)),
      current_(chosen.index),
      client_(std::move(chosen.client)),
      limit_(limit),
      cmd_(cmd),
      ex_(std::move(ex)),
      contacted_(chosen.answered) {}

std::string Failover::where() const {
  return endpoints_.urls[current_].where.to_string();
}

std::string Failover::all() const {
  std::string out;
  for (const auto& u : endpoints_.urls) out += (out.empty() ? "" : ", ") + u.where.to_string();
  return out;
}

std::string Failover::gave_up() const {
  if (!contacted_) return "no server of " + all() + " answers";
  return "no server answered for " + format_duration(limit_) + " (" + all() + ")";
}

void Failover::answered() {
  contacted_ = true;
  failing_since_.reset();
  pause_ = milliseconds(100);
}

asio::awaitable<bool> Failover::recover(const std::string& why) {
  if (!contacted_) co_return false;
  if (!failing_since_) failing_since_ = Clock::now();
  const auto give_up_at = *failing_since_ + limit_;
  const size_t n = endpoints_.urls.size(), failed = current_;
  asio::steady_timer pause(ex_);
  for (;;) {
    // A pause first: a server that answers /healthz but fails every request (no etcd quorum) is
    // not asked in a tight loop.
    pause.expires_after(std::min(pause_, until(give_up_at)));
    co_await pause.async_wait(asio::use_awaitable);
    pause_ = std::min(pause_ * 2, milliseconds(1000));
    for (size_t k = 1; k <= n; ++k) {
      if (Clock::now() >= give_up_at) co_return false;
      const size_t i = (failed + k) % n;
      http::Client cli(ex_, endpoints_.urls[i], endpoints_.opts);
      auto r =
          co_await cli.request_within(std::clamp(until(give_up_at), milliseconds(1), kProbeTimeout),
                                      http::Verb::get, "/healthz");
      if (!r || r->status != 200) continue;
      if (i != current_)
        std::fprintf(stderr, "tend %s: server %s failed (%s): going on with %s\n", cmd_,
                     where().c_str(), why.c_str(), endpoints_.urls[i].where.to_string().c_str());
      current_ = i;
      client_ = std::move(cli);
      co_return true;
    }
  }
}

asio::awaitable<Expected<http::ClientResponse>> Failover::get(std::string target,
                                                              milliseconds timeout) {
  for (;;) {
    auto r = co_await client_.request_within(timeout, http::Verb::get, target);
    if (r && r->status / 100 != 5) {
      answered();
      co_return r;
    }
    if (!co_await recover(why_failed(r))) co_return r;
  }
}

asio::awaitable<std::optional<Failover>> open_failover(Connection& c, const char* cmd,
                                                       milliseconds limit,
                                                       asio::any_io_executor ex) {
  auto e = endpoints_of(c, cmd);
  if (!e) co_return std::nullopt;
  auto chosen = co_await first_answering(*e, ex);
  co_return Failover(std::move(*e), std::move(chosen), limit, cmd, std::move(ex));
}

}  // namespace tend::agent
