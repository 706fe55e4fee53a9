#include "output_stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "api.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr int kWaitMs = 250;          // bound on one wait: the state is re-read after it
constexpr int kKeepAliveRounds = 60;  // SSE comment every ~15 s of silence

// Reads up to kChunk bytes of `fd` at `pos`; empty at EOF.
std::string read_at(int fd, uint64_t pos) {
  std::string buf(kChunk, '\0');
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
}

}  // namespace

size_t utf8_complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of an unfinished sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

OutputFollower::OutputFollower(std::string dir, std::string id, uint64_t offset, bool sse,
                               std::function<std::optional<JobRecord>()> state_of)
    : dir_(std::move(dir)),
      id_(std::move(id)),
      pos_(offset),
      sse_(sse),
      state_of_(std::move(state_of)) {
  inotify_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify_ &&
      ::inotify_add_watch(inotify_.get(), dir_.c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB) < 0)
    inotify_.reset();
}

std::string OutputFollower::sse_output(std::string_view text) {
  std::string ev = "event: output\nid: " + std::to_string(pos_) + "\n";
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
  ev += "\n";
  return ev;
}

bool OutputFollower::next(std::string& piece) {
  piece.clear();
  if (ended_) return false;
  for (;;) {
    // The state first, then the bytes: a job is recorded finished only after its output file
    // is complete, so "finished and nothing more to read" means the stream is over.
    auto rec = state_of_();
    if (!rec) {
      ended_ = true;
      return false;
    }
    if (sse_ && rec->state != last_state_) {
      last_state_ = rec->state;
      piece = "event: state\ndata: " + job_json(*rec).dump() + "\n\n";
      return true;
    }
    // The shim only appends to the file it created, never replaces it: one open is enough.
    if (!output_) output_.reset(::open((dir_ + "/output").c_str(), O_RDONLY | O_CLOEXEC));
    std::string data = output_ ? read_at(output_.get(), pos_) : std::string();
    if (!data.empty()) {
      if (sse_) {
        size_t keep = utf8_complete_prefix(data);
        // A sequence cut by the chunk size is sent whole next time, unless the file ends here.
        if (keep > 0) data.resize(keep);
        pos_ += data.size();
        piece = sse_output(data);
      } else {
        pos_ += data.size();
        piece = std::move(data);
      }
      idle_rounds_ = 0;
      return true;
    }
    if (is_final(rec->state)) {
      ended_ = true;
      if (sse_) piece = "event: end\ndata: " + std::string(to_string(rec->state)) + "\n\n";
      return true;
    }
    wait_for_change();
    if (sse_ && ++idle_rounds_ >= kKeepAliveRounds) {
      idle_rounds_ = 0;
      piece = ": keep-alive\n\n";  // also how a vanished client is noticed
      return true;
    }
  }
}

void OutputFollower::wait_for_change() {
  if (!inotify_) {
    ::poll(nullptr, 0, kWaitMs);
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return;
    struct pollfd p {
      inotify_.get(), POLLIN, 0
    };
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return;
    if (drain_inotify()) return;
  }
}

bool OutputFollower::drain_inotify() {
  // Writing a temporary file (NAME.tmp, renamed into place afterwards) changes nothing a
  // follower shows: only the rename does. Skipping those events spares a state query each.
  bool relevant = false;
  alignas(struct inotify_event) char buf[4096];
  ssize_t n;
  while ((n = ::read(inotify_.get(), buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      std::string_view name = ev->len > 0 ? std::string_view(ev->name) : std::string_view();
      bool temp = name.size() > 4 && name.substr(name.size() - 4) == ".tmp";
      if (!temp || (ev->mask & IN_Q_OVERFLOW)) relevant = true;
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  return relevant;
}

}  // namespace tend::agent
