#include "tend/output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace tend {
namespace {

// Adjacent chunks of one stream are merged up to this size: many small writes then cost no
// per-chunk overhead, while trimming the front of the tail stays a small memmove.
constexpr size_t kMergeLimit = 4096;

std::string dropped_marker(uint64_t n) {
  return "[tend: " + std::to_string(n) + " bytes dropped]\n";
}

template <class Chunks>
void append_chunk(Chunks& chunks, Stream s, std::string_view data) {
  if (!chunks.empty() && chunks.back().stream == s && chunks.back().data.size() < kMergeLimit)
    chunks.back().data.append(data);
  else
    chunks.push_back({s, std::string(data)});
}

}  // namespace

// ---- OutputCapture -------------------------------------------------------------------------

void OutputCapture::write(Stream s, std::string_view data) {
  (s == Stream::out ? out_ : err_) += data.size();
  if (head_size_ < limits_.head_bytes) {
    size_t n = std::min(data.size(), limits_.head_bytes - head_size_);
    append_chunk(head_, s, data.substr(0, n));
    head_size_ += n;
    data.remove_prefix(n);
  }
  if (data.empty()) return;
  if (limits_.tail_bytes == 0) {
    dropped_ += data.size();
    return;
  }
  if (data.size() >= limits_.tail_bytes) {
    // This chunk alone fills the tail: everything older is dropped.
    dropped_ += tail_size_ + (data.size() - limits_.tail_bytes);
    tail_.clear();
    data.remove_prefix(data.size() - limits_.tail_bytes);
    tail_.push_back({s, std::string(data)});
    tail_size_ = data.size();
    return;
  }
  append_chunk(tail_, s, data);
  tail_size_ += data.size();
  while (tail_size_ > limits_.tail_bytes) {
    size_t excess = tail_size_ - limits_.tail_bytes;
    Chunk& front = tail_.front();
    if (front.data.size() <= excess) {
      tail_size_ -= front.data.size();
      dropped_ += front.data.size();
      tail_.pop_front();
    } else {
      front.data.erase(0, excess);
      tail_size_ -= excess;
      dropped_ += excess;
    }
  }
}

std::string OutputCapture::text(bool with_marker) const {
  std::string out;
  out.reserve(head_size_ + tail_size_ + 64);
  for (const auto& c : head_) out += c.data;
  if (with_marker && dropped_ > 0) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += dropped_marker(dropped_);
  }
  for (const auto& c : tail_) out += c.data;
  return out;
}

std::string OutputCapture::text(Stream s) const {
  std::string out;
  for (const auto& c : head_)
    if (c.stream == s) out += c.data;
  for (const auto& c : tail_)
    if (c.stream == s) out += c.data;
  return out;
}

// ---- FileOutput ----------------------------------------------------------------------------

Expected<std::unique_ptr<FileOutput>> FileOutput::open(const std::string& path, OutputLimits limits,
                                                       Create when) {
  std::unique_ptr<FileOutput> out(new FileOutput());
  out->path_ = path;
  out->limits_ = limits;
  if (when == Create::at_open && !out->open_file()) return *out->error_;
  return out;
}

bool FileOutput::open_file() {
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    error_ = Error::from_errno("open output", path_);
    return false;
  }
  file_.reset(fd);
  return true;
}

void FileOutput::write(Stream s, std::string_view data) {
  (s == Stream::out ? out_ : err_) += data.size();
  if (!file_ && !error_ && !data.empty()) open_file();
  if (written_head_ < limits_.head_bytes) {
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(data.size(), limits_.head_bytes - written_head_));
    if (auto w = error_ ? Expected<void>{} : write_all(file_.get(), data.substr(0, n)); !w)
      error_ = Error::of_errno(w.error().code, "write output", path_);
    written_head_ += n;
    data.remove_prefix(n);
  }
  if (data.empty()) return;

  uint64_t tail = limits_.tail_bytes;
  if (tail == 0 || error_) {
    ring_total_ += data.size();
    return;
  }
  if (!ring_) {
    std::string ring_path = path_ + ".tail";
    int fd = ::open(ring_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      error_ = Error::from_errno("open output ring", ring_path);
      ring_total_ += data.size();
      return;
    }
    ring_.reset(fd);
  }
  // Only the last `tail` bytes of this write can survive.
  if (data.size() > tail) {
    ring_total_ += data.size() - tail;
    data.remove_prefix(data.size() - tail);
  }
  while (!data.empty()) {
    uint64_t pos = ring_total_ % tail;
    size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), tail - pos));
    if (auto w = pwrite_all(ring_.get(), data.substr(0, n), static_cast<off_t>(pos)); !w) {
      error_ = Error::of_errno(w.error().code, "write output ring", path_ + ".tail");
      ring_total_ += data.size();
      return;
    }
    ring_total_ += n;
    data.remove_prefix(n);
  }
}

uint64_t FileOutput::dropped_bytes() const {
  return ring_total_ - std::min<uint64_t>(ring_total_, limits_.tail_bytes);
}

std::optional<uint64_t> FileOutput::file_offset(uint64_t stream_offset) const {
  if (stream_offset < written_head_) return stream_offset;
  if (!marker_bytes_) return std::nullopt;
  uint64_t kept_from = written_head_ + dropped_bytes();
  if (stream_offset < kept_from || stream_offset >= written_head_ + ring_total_)
    return std::nullopt;
  return written_head_ + *marker_bytes_ + (stream_offset - kept_from);
}

void FileOutput::finish() {
  if (!file_) return;
  uint64_t dropped = dropped_bytes();
  marker_bytes_ = 0;
  if (!error_ && dropped > 0) {
    // The marker is a line of its own even when the head stops mid-line.
    std::string marker = dropped_marker(dropped);
    char last = '\n';
    if (written_head_ > 0 &&
        ::pread(file_.get(), &last, 1, static_cast<off_t>(written_head_ - 1)) == 1 && last != '\n')
      marker.insert(0, 1, '\n');
    if (auto w = write_all(file_.get(), marker); !w)
      error_ = Error::of_errno(w.error().code, "write output", path_);
    marker_bytes_ = marker.size();
  }
  if (ring_) {
    uint64_t tail = limits_.tail_bytes;
    uint64_t kept = std::min<uint64_t>(ring_total_, tail);
    // Oldest byte first: from the write position to the end of the ring, then from its start.
    uint64_t start = ring_total_ > tail ? ring_total_ % tail : 0;
    // Through a small buffer: the tail may be tens of MiB, the memory bound is not.
    std::string buf(std::min<uint64_t>(kept, 256 * 1024), '\0');
    uint64_t copied = 0;
    while (!error_ && copied < kept) {
      uint64_t pos = (start + copied) % tail;
      size_t want =
          static_cast<size_t>(std::min<uint64_t>({kept - copied, tail - pos, buf.size()}));
      ssize_t n = ::pread(ring_.get(), buf.data(), want, static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = EIO;
        const int code = errno;
        error_ = Error::of_errno(code, "read output ring", path_ + ".tail");
        break;
      }
      if (auto w = write_all(file_.get(), std::string_view(buf.data(), static_cast<size_t>(n))); !w)
        error_ = Error::of_errno(w.error().code, "write output", path_);
      copied += static_cast<size_t>(n);
    }
    ring_.reset();
    ::unlink((path_ + ".tail").c_str());
  }
  file_.reset();
  if (error_) marker_bytes_.reset();  // the layout file_offset() describes may not be there
}

}  // namespace tend
