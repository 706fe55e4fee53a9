#include "server/output_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>

#include "http/heartbeat.hpp"
#include "http/text.hpp"
#include "server/job_json.hpp"
#include "server/store_errors.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

namespace {

using namespace boost::asio::experimental::awaitable_operators;
using http::Status;
constexpr size_t kChunk = 64 * 1024;
// Bound on one wait: the state is re-read after it (a missed event costs at most this).
constexpr auto kWaitNotified = std::chrono::milliseconds(1000);
constexpr auto kWaitPolling = std::chrono::milliseconds(250);

// Reads up to `max` bytes of `fd` at `pos`; empty at EOF or on error.
std::string read_at(int fd, uint64_t pos, size_t max) {
  std::string buf(max, '\0');
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
}

std::string sse_event(std::string_view event, uint64_t id, std::string_view text) {
  std::string ev = "event: " + std::string(event) + "\nid: " + std::to_string(id) + "\n";
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    ev += "data: ";
    ev.append(
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    ev += "\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return ev + "\n";
}

boost::asio::awaitable<void> send_whole(http::Exchange& ex, const std::string& path,
                                        uint64_t offset) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  uint64_t size = fd && ::fstat(fd.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  uint64_t len = offset < size ? size - offset : 0;
  auto head = http::text_response(Status::ok, "", "text/plain; charset=utf-8");
  head.set("X-Tend-Output-Size", std::to_string(size));
  if (!co_await ex.start_stream(std::move(head), len)) co_return;
  for (uint64_t sent = 0; sent < len;) {
    std::string piece =
        read_at(fd.get(), offset + sent, std::min<uint64_t>(len - sent, 256 * 1024));
    if (piece.empty()) break;  // cut short under us: the client sees a short body and knows
    sent += piece.size();
    if (!co_await ex.send(piece)) co_return;
  }
}

}  // namespace

boost::asio::awaitable<void> serve_output(http::Exchange& ex, OutputContext& ctx) {
  auto& req = ex.request();
  std::string id = req.param(0);
  uint64_t offset = 0;
  if (auto o = req.query("offset")) {
    auto v = http::parse_uint(*o, INT64_MAX);
    if (!v)
      co_return co_await ex.reply(http::error_response(
          Status::bad_request, "offset", "must be a byte offset (a non-negative integer)"));
    offset = *v;
  }
  auto found = ctx.store.get(id);
  if (!found) co_return co_await ex.reply(store_error_response(found.error()));
  std::optional<JobRecord> rec = std::move(*found);
  if (!rec)
    co_return co_await ex.reply(http::error_response(Status::not_found, "id", "no job " + id));
  bool sse = req.query("sse") == "1" ||
             req.header("Accept").find("text/event-stream") != std::string_view::npos;
  bool follow = sse || req.query("follow") == "1" || req.query("follow") == "true";
  if (sse && req.has_header("Last-Event-ID")) {
    if (auto o = http::parse_uint(req.header("Last-Event-ID"), INT64_MAX)) offset = *o;
  }
  std::string dir = ctx.jobs_dir + "/" + id;
  if (!follow) co_return co_await send_whole(ex, dir + "/output", offset);

  DirWatch::Subscription sub(ctx.watch, dir);
  auto head =
      http::text_response(Status::ok, "", sse ? "text/event-stream" : "text/plain; charset=utf-8");
  head.set("Cache-Control", "no-cache");
  head.set("X-Accel-Buffering", "no");
  if (!co_await ex.start_stream(std::move(head))) co_return;

  UniqueFd out;  // the shim only appends to the file it created: one open is enough
  std::optional<JobState> last_state;
  auto quiet_since = std::chrono::steady_clock::now();
  while (ex.open()) {
    uint64_t gen = sub.generation();
    // The state first, then the bytes: a job is recorded finished only after its output file
    // is complete, so "finished and nothing more to read" means the stream is over.
    // A record that cannot be read ends the stream (the Store has logged why) cut short: no
    // `end` event, no last chunk, so the client knows the output may be incomplete.
    auto again = ctx.store.get(id);
    if (!again || !*again) {
      ex.abort();  // cut short, never a clean end: the output may be incomplete
      co_return;
    }
    rec = std::move(*again);
    if (sse && rec->state != last_state) {
      last_state = rec->state;
      if (!co_await ex.send("event: state\ndata: " + job_json(*rec, ctx.jobs_dir).dump() + "\n\n"))
        co_return;
    }
    if (!out) out.reset(::open((dir + "/output").c_str(), O_RDONLY | O_CLOEXEC));
    std::string data = out ? read_at(out.get(), offset, kChunk) : std::string();
    if (!data.empty()) {
      if (sse) {
        // A sequence cut by the chunk size is sent whole next time.
        if (size_t keep = http::utf8_complete_prefix(data); keep > 0) data.resize(keep);
        offset += data.size();  // an event's id is the offset after it: where to resume
        std::string ev = sse_event("output", offset, data);
        if (!co_await ex.send(ev)) co_return;
      } else {
        offset += data.size();
        if (!co_await ex.send(data)) co_return;
      }
      quiet_since = std::chrono::steady_clock::now();
      continue;
    }
    if (is_final(rec->state)) {
      if (sse) co_await ex.send("event: end\ndata: " + std::string(to_string(rec->state)) + "\n\n");
      co_return;
    }
    auto wait = sub.notified() ? kWaitNotified : kWaitPolling;
    auto woke = co_await (sub.changed(gen, wait) || ex.closed());
    if (woke.index() == 1) co_return;  // the client hung up, or the server is stopping
    if (sse && std::chrono::steady_clock::now() - quiet_since >= http::kHeartbeat) {
      quiet_since = std::chrono::steady_clock::now();
      if (!co_await ex.send(": keep-alive\n\n")) co_return;
    }
  }
}

}  // namespace tend::agent
