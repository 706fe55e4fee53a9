#include "shim/output_times.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "shim/files.hpp"

namespace tend::agent {

namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view bytes_of(const TimeRecord& r) {
  return {reinterpret_cast<const char*>(&r), sizeof r};
}

// Every other record, the first kept (it covers the start of what the records cover).
template <typename Records>
void keep_every_other(Records& records) {
  size_t kept = 0;
  for (size_t i = 0; i < records.size(); i += 2) records[kept++] = records[i];
  records.resize(kept);
}

}  // namespace

std::vector<TimeRecord> parse_time_records(std::string_view bytes) {
  std::vector<TimeRecord> out(bytes.size() / sizeof(TimeRecord));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(TimeRecord));
  return out;
}

// The record goes first: a reader that sees a byte of the output also sees its time.
void TimedOutput::write(Stream s, std::string_view data) {
  const uint64_t at = stream_;
  stream_ += data.size();
  const bool head = at < limits_.head_bytes;
  // The interval on the steady clock (the wall clock may step), the record in wall time.
  const auto now = std::chrono::steady_clock::now();
  if (!data.empty() && !error_ &&
      (!last_ || now - *last_ >= (head ? head_interval_ : tail_interval_))) {
    last_ = now;
    TimeRecord r{at, static_cast<uint64_t>(unix_ms_now())};
    if (head)
      record_head(r);
    else
      record_tail(r);
  }
  out_.write(s, data);
}

bool TimedOutput::append(std::string_view bytes) {
  if (!file_) {
    file_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (!file_) {
      error_ = Error::from_errno("open", path_);
      return false;
    }
  }
  if (auto w = write_all(file_.get(), bytes); !w) {
    error_ = Error::of_errno(w.error().code, "write", path_);
    return false;
  }
  return true;
}

void TimedOutput::record_head(TimeRecord r) {
  if (!append(bytes_of(r))) return;
  if (++head_records_ >= bounds_.max_records) thin_head();
}

// Rewritten whole (a reader sees the old file or the new one), then appended to again.
void TimedOutput::thin_head() {
  file_.reset();
  auto text = read_file(path_);
  if (!text) {
    error_ = text.error();
    return;
  }
  auto records = parse_time_records(*text);
  keep_every_other(records);
  std::string_view data(reinterpret_cast<const char*>(records.data()),
                        records.size() * sizeof(TimeRecord));
  if (auto r = replace_file(path_, std::string(data)); !r) {
    error_ = r.error();
    return;
  }
  file_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!file_) error_ = Error::from_errno("open", path_);
  head_records_ = records.size();
  head_interval_ *= 2;
}

uint64_t TimedOutput::tail_kept_from() const {
  uint64_t head = limits_.head_bytes;
  return std::max(head, stream_ > limits_.tail_bytes ? stream_ - limits_.tail_bytes : 0);
}

void TimedOutput::record_tail(TimeRecord r) {
  if (tail_.capacity() == 0) tail_.reserve(bounds_.max_records);  // the one allocation, when needed
  tail_.push_back(r);
  if (tail_.size() >= bounds_.max_records) thin_tail();
}

void TimedOutput::thin_tail() {
  // What the ring has dropped needs no time, except the last record before what it holds.
  uint64_t from = tail_kept_from();
  auto first_kept = std::partition_point(tail_.begin(), tail_.end(),
                                         [&](const TimeRecord& r) { return r.offset <= from; });
  if (first_kept != tail_.begin()) tail_.erase(tail_.begin(), first_kept - 1);
  if (tail_.size() <= bounds_.max_records / 2) return;
  keep_every_other(tail_);
  tail_interval_ *= 2;
}

// The tail's records, now that finish() has put the tail in the file: moved to file offsets,
// the one before the first kept byte moved up to it, those for dropped bytes left out.
void TimedOutput::finish() {
  out_.finish();
  if (error_ || tail_.empty()) {
    file_.reset();
    return;
  }
  uint64_t from = tail_kept_from();
  auto first = std::partition_point(tail_.begin(), tail_.end(),
                                    [&](const TimeRecord& r) { return r.offset <= from; });
  if (first != tail_.begin()) --first;
  std::string data;
  data.reserve(static_cast<size_t>(tail_.end() - first) * sizeof(TimeRecord));
  for (auto it = first; it != tail_.end(); ++it) {
    auto at = out_.file_offset(std::max(it->offset, from));
    if (at) data.append(bytes_of(TimeRecord{*at, it->unix_ms}));
  }
  if (!data.empty()) append(data);
  file_.reset();
}

}  // namespace tend::agent
