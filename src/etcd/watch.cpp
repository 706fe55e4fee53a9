#include "etcd/watch.hpp"

#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "etcd/codec.hpp"

namespace tend::etcd {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// What one line of the stream says.
struct Line {
  enum class Kind { update, created, progress, canceled, broken } kind = Kind::broken;
  WatchUpdate update;
  Error error;                       // canceled / broken
  bool refused_at_creation = false;  // canceled in the answer to the create request itself
};

Line read_line(std::string_view text, int64_t next) {
  Line out;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object() || (!j.contains("result") && !j.contains("error"))) {
    out.error = {ErrorKind::bad_response, "etcd watch: unreadable line"};
    return out;
  }
  if (j.contains("error")) {  // the member went away (or is shutting down)
    out.error = {ErrorKind::unavailable, "etcd watch: " + j["error"].dump()};
    return out;
  }
  try {
    const json& r = j["result"];
    if (!r.is_object()) throw codec::BadJson("result is not an object");
    Header h = codec::decode_header(r);
    if (r.value("canceled", false)) {
      out.kind = Line::Kind::canceled;
      out.refused_at_creation = r.value("created", false);
      int64_t compact = codec::int_field(r, "compact_revision");
      if (compact > 0)
        out.error = {ErrorKind::compacted,
                     "etcd watch: revision " + std::to_string(next) + " is compacted (oldest " +
                         std::to_string(compact) + ")",
                     compact};
      else
        out.error = {ErrorKind::canceled,
                     "etcd watch canceled: " + r.value("cancel_reason", std::string("no reason"))};
      return out;
    }
    out.update.revision = h.revision;
    if (r.contains("events"))
      for (const auto& e : r["events"]) out.update.events.push_back(codec::decode_event(e));
    out.kind = r.value("created", false)   ? Line::Kind::created
               : out.update.events.empty() ? Line::Kind::progress
                                           : Line::Kind::update;
  } catch (const std::exception& e) {
    out.kind = Line::Kind::broken;
    out.error = {ErrorKind::bad_response, std::string("etcd watch: ") + e.what()};
  }
  return out;
}

json create_request(const WatchOptions& o, int64_t from) {
  json c = {{"key", codec::base64_encode(o.key)}, {"progress_notify", true}};
  if (!o.range_end.empty()) c["range_end"] = codec::base64_encode(o.range_end);
  if (from > 0) c["start_revision"] = std::to_string(from);
  if (o.prev_kv) c["prev_kv"] = true;
  return {{"create_request", c}};
}

// How one stream ended.
struct Stream {
  std::optional<Result<int64_t>> end;  // the watch is over (stopped, canceled, refused)
  bool delivered = false;              // it delivered something: the backoff starts over
  bool refused = false;                // canceled at creation while a token was sent
};

// One POST /v3/watch from `next` on `ep`, read until it ends or breaks.
asio::awaitable<Stream> one_stream(Client& client, size_t ep, const std::string& token,
                                   const WatchOptions& opts, int64_t& next, bool fresh_token,
                                   std::function<bool(const WatchUpdate&)>& on_update) {
  const Millis silence = opts.progress_interval * std::max(1, opts.silent_intervals);
  http::Client conn(client.executor(), client.endpoints()[ep], client.connection_options(silence));
  conn.set_authorization(token);
  ++client.counters().watch_streams;
  ++client.counters().attempts;
  std::string pending;
  Stream out;
  std::function<bool(std::string_view)> on_data = [&](std::string_view data) {
    pending.append(data);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string text = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (text.find_first_not_of(" \r\t") == std::string::npos) continue;
      Line line = read_line(text, next);
      switch (line.kind) {
        case Line::Kind::broken:
          return false;  // reopen
        case Line::Kind::canceled:
          // etcd 3.4 says why only in words ("code = Unauthenticated"): a watch refused at
          // creation while a token was sent gets one more try with a fresh token.
          if (line.refused_at_creation && line.error.kind == ErrorKind::canceled &&
              !token.empty() && !fresh_token) {
            out.refused = true;
            return false;
          }
          out.end = Result<int64_t>(line.error);
          return false;
        case Line::Kind::created:
          if (next == 0) next = line.update.revision + 1;
          continue;
        case Line::Kind::progress:
          next = std::max(next, line.update.revision + 1);
          break;
        case Line::Kind::update: {
          // After a reopen etcd may repeat nothing, but never trust it: drop what was seen.
          auto& evs = line.update.events;
          std::erase_if(evs, [&](const Event& e) { return e.kv.mod_revision < next; });
          if (evs.empty()) continue;
          next = evs.back().kv.mod_revision + 1;
          line.update.revision = next - 1;
          break;
        }
      }
      out.delivered = true;
      WatchUpdate u = std::move(line.update);
      if (u.events.empty()) u.revision = next - 1;
      if (!on_update(u)) {
        out.end = Result<int64_t>(next - 1);
        return false;
      }
    }
    return true;
  };
  std::string body = create_request(opts, next).dump();
  auto r = co_await conn.stream(http::Verb::post, "/v3/watch", std::move(body), on_data, silence);
  if (!out.end && r && r->status / 100 != 2) {
    auto e = answer_error(r->status, r->body, "etcd watch");
    if (e.kind != ErrorKind::unavailable) out.end = Result<int64_t>(e);
  }
  co_return out;
}

asio::awaitable<Result<int64_t>> watch_loop(Client& client, WatchOptions opts,
                                            std::function<bool(const WatchUpdate&)> on_update) {
  int64_t next = opts.start_revision;  // the first revision not delivered yet (0: "now")
  Millis backoff = opts.retry_backoff;
  bool fresh_token = false;  // renewed after a refusal: a second refusal is final
  for (;;) {
    size_t ep = client.preferred();
    // No token (etcd did not answer the authentication): as a broken stream.
    auto token = co_await client.token(client.options().call_timeout);
    if (!token && token.error().kind == ErrorKind::auth) co_return token.error();
    if (token) {
      Stream s = co_await one_stream(client, ep, *token, opts, next, fresh_token, on_update);
      if (s.end) co_return std::move(*s.end);
      fresh_token = s.refused;
      if (s.refused) {
        client.forget_token(*token);
        continue;
      }
      if (s.delivered) backoff = opts.retry_backoff;
    }
    if (opts.keep_going && !opts.keep_going()) co_return Result<int64_t>(next - 1);
    // The stream ended or broke: the next member, from `next`, after a pause.
    client.rotate_from(ep);
    asio::steady_timer t(client.executor());
    t.expires_after(backoff);
    co_await t.async_wait(asio::use_awaitable);
    backoff = std::min<Millis>(backoff * 2, 1s);
  }
}

}  // namespace

// A plain function: GCC 12 destroys a temporary passed straight to a coroutine twice (a
// braced WatchOptions, a lambda converted to std::function); moved xvalues are safe.
asio::awaitable<Result<int64_t>> watch(Client& client, WatchOptions opts,
                                       std::function<bool(const WatchUpdate&)> on_update) {
  return watch_loop(client, std::move(opts), std::move(on_update));
}

}  // namespace tend::etcd
