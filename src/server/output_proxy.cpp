#include "server/output_proxy.hpp"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/client.hpp"
#include "http/heartbeat.hpp"
#include "http/text.hpp"
#include "server/fleet_read.hpp"

namespace tend::server {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using json = nlohmann::json;
using http::error_response;
using http::Status;

namespace {

// The query passed on to the agent: only what its output route reads, re-encoded.
std::string upstream_query(const http::Request& req) {
  std::string q;
  for (const char* name : {"offset", "follow", "sse"})
    if (auto v = req.query(name))
      q += std::string(q.empty() ? "?" : "&") + name + "=" + http::percent_encode(*v);
  return q;
}

// Where machine `name`'s agent listens, if it is online.
asio::awaitable<etcd::Result<std::optional<std::string>>> address_of(ServerContext& ctx,
                                                                     std::string name) {
  etcd::RangeRequest r;
  r.key = ctx.keys.machine_key(name);
  auto got = co_await ctx.etcd.range(r);
  if (!got) co_return got.error();
  if (got->kvs.empty()) co_return std::optional<std::string>{};
  auto rec = fleet::machine_from_json(got->kvs.front().value);
  if (!rec || rec->address.empty()) co_return std::optional<std::string>{};
  co_return std::optional<std::string>(rec->address);
}

// Relays the upstream answer to the client: its status, its type and its body as it comes.
asio::awaitable<void> relay(http::Client& up, http::Exchange& ex, std::string target) {
  bool follow = ex.request().query("follow") == "1" || ex.request().query("sse") == "1";
  bool started = false;
  http::Client::AsyncHead head =
      [&ex, &started](const http::ClientResponse& r) -> asio::awaitable<bool> {
    started = true;
    http::Response h{static_cast<http::Status>(r.status), 11};
    for (const char* f :
         {"Content-Type", "X-Tend-Output-Size", "Cache-Control", "X-Accel-Buffering"})
      if (auto it = r.headers.find(f); it != r.headers.end()) h.set(f, std::string(it->value()));
    co_return co_await ex.start_stream(std::move(h));
  };
  http::Client::AsyncData data = [&ex](std::string_view piece) -> asio::awaitable<bool> {
    co_return co_await ex.send(piece);
  };
  // Events carry the agent's heartbeats: silence beyond a few is an agent gone. Plain bytes have
  // none, so a quiet job is told from nothing there.
  const bool sse = ex.request().query("sse") == "1";
  auto idle = sse      ? std::chrono::milliseconds(http::kHeartbeatLost)
              : follow ? std::chrono::milliseconds(std::chrono::hours(24))
                       : std::chrono::milliseconds(60s);
  auto r = co_await up.relay(std::move(target), std::move(head), std::move(data), idle);
  if (!r) {
    if (!ex.open()) co_return;
    // After the head, the agent failing midway (killed, its connection lost) must not look like
    // the end of the output: the client's stream is cut short too (no last chunk).
    if (started) {
      ex.abort();
      co_return;
    }
    co_await ex.reply(error_response(Status::bad_gateway, "",
                                     "the machine's agent did not answer: " + r.error().detail));
    co_return;
  }
  if (r->status / 100 != 2) {
    http::Response res{static_cast<http::Status>(r->status), 11};
    res.set("Content-Type", "application/json");
    res.body() = r->body;
    co_await ex.reply(std::move(res));
  }
}

std::string run_of(const JobView& job, const std::string& machine) {
  for (const auto& r : job.runs)
    if (r.machine == machine) return r.state;
  return "";
}

// Polls (every 250 ms) until the run on `machine` is claimed; false if etcd stops answering.
asio::awaitable<bool> until_claimed(ServerContext& ctx, std::string id, std::string machine) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    pause.expires_after(250ms);
    co_await pause.async_wait(asio::use_awaitable);
    auto job = co_await read_job(ctx.etcd, ctx.keys, id);
    if (!job || !*job) co_return false;
    if (run_of(**job, machine) != kAssigned) co_return true;
  }
}

}  // namespace

asio::awaitable<void> proxy_output(ServerContext& ctx, http::Exchange& ex) {
  const std::string id = ex.request().param(0);
  const std::string machine = ex.request().param(1);
  auto job = co_await read_job(ctx.etcd, ctx.keys, id);
  if (!job) {
    co_await ex.reply(error_response(Status::service_unavailable, "",
                                     "cannot read the job from etcd: " + job.error().message));
    co_return;
  }
  if (!*job) {
    co_await ex.reply(error_response(Status::not_found, "id", "no job " + id));
    co_return;
  }
  const auto& names = (*job)->spec.machines;
  if (std::find(names.begin(), names.end(), machine) == names.end()) {
    co_await ex.reply(
        error_response(Status::not_found, "machine", "job " + id + " does not run on " + machine));
    co_return;
  }
  auto addr = co_await address_of(ctx, machine);
  if (!addr) {
    co_await ex.reply(error_response(Status::service_unavailable, "",
                                     "cannot read the machine from etcd: " + addr.error().message));
    co_return;
  }
  if (!*addr) {
    co_await ex.reply(error_response(Status::service_unavailable, "machine",
                                     machine + " is unreachable: its output is on it"));
    co_return;
  }
  // Not claimed yet: the agent has no such job. Nothing to show yet; a follower waits for it.
  if (run_of(**job, machine) == kAssigned) {
    bool follow = ex.request().query("follow") == "1" || ex.request().query("sse") == "1";
    if (!follow) {
      co_await ex.reply(http::text_response(Status::ok, "", "application/octet-stream"));
      co_return;
    }
    auto started = co_await (until_claimed(ctx, id, machine) || ex.closed());
    if (started.index() == 1) co_return;  // the client left
    if (!std::get<0>(started)) {
      co_await ex.reply(error_response(Status::service_unavailable, "",
                                       "lost etcd while waiting for the run to start"));
      co_return;
    }
  }
  auto url = http::parse_url(**addr);
  if (!url) {
    co_await ex.reply(error_response(Status::bad_gateway, "machine",
                                     machine + " announced a bad address: " + url.error().detail));
    co_return;
  }
  ++ctx.counters.output_proxies;
  http::ClientOptions opts;
  opts.token = ctx.token;
  opts.connect_timeout = 3s;
  opts.request_timeout = 10s;
  http::Client up(co_await asio::this_coro::executor, *url, opts);
  std::string target =
      "/v1/jobs/" + http::percent_encode(id) + "/output" + upstream_query(ex.request());
  // Whichever ends first ends the other: the client hanging up closes the upstream connection.
  auto hang_up = [&]() -> asio::awaitable<void> {
    co_await ex.closed();
    up.close();
  };
  co_await (relay(up, ex, std::move(target)) || hang_up());
}

}  // namespace tend::server
