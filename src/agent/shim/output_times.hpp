// output.times: when the job's output arrived, beside the output file (written by the shim, so
// it outlives an agent restart like the output does). Fixed-size records, sorted by offset:
// (offset in the output file as GET /v1/jobs/{id}/output counts it, unix time in ms). A byte's
// arrival time is that of the last record at or before it, late by at most the interval.
//
// A record is made for a chunk only if the interval (100 ms to start with) has passed since the
// previous one: never more than one per chunk or per interval, whichever is rarer. Bound: at
// most TimeBounds::max_records (8192) for the head (on disk as they come) and as many for the tail
// (in memory, laid out at the end behind the head's, once the tail's place in the file is known):
// 256 KiB per job on disk, 128 KiB of shim memory at most, and only once the head is full. A part
// that reaches its bound keeps every other record and doubles its interval (the tail first forgets
// what the tail ring has already dropped).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tend/error.hpp"
#include "tend/fd.hpp"
#include "tend/output.hpp"

namespace tend::agent {

struct TimeRecord {
  uint64_t offset;   // in the output file
  uint64_t unix_ms;  // when the chunk holding the byte at `offset` was read
};
static_assert(sizeof(TimeRecord) == 16, "the file format: two native u64");

// Decodes a times file's bytes (a partly written last record is left out).
std::vector<TimeRecord> parse_time_records(std::string_view bytes);

// Passes the job's output to `out` and records when it arrived in `path`.
struct TimeBounds {
  std::chrono::milliseconds interval{100};  // between records, to start with
  size_t max_records = 8192;                // per part (head, tail)
};

class TimedOutput final : public OutputSink {
 public:
  using Bounds = TimeBounds;

  TimedOutput(FileOutput& out, std::string path, OutputLimits limits, Bounds bounds = {})
      : out_(out),
        path_(std::move(path)),
        limits_(limits),
        bounds_(bounds),
        head_interval_(bounds.interval),
        tail_interval_(bounds.interval) {}
  void write(Stream s, std::string_view data) override;
  void finish() override;
  uint64_t total_bytes(Stream s) const override { return out_.total_bytes(s); }
  uint64_t dropped_bytes() const override { return out_.dropped_bytes(); }
  // The first error keeping the times (they stop then; the output is not disturbed).
  const std::optional<Error>& error() const { return error_; }

 private:
  void record_head(TimeRecord r);
  void record_tail(TimeRecord r);
  void thin_head();
  void thin_tail();
  uint64_t tail_kept_from() const;  // the first stream byte the tail ring still holds
  bool append(std::string_view bytes);

  FileOutput& out_;
  std::string path_;
  OutputLimits limits_;
  Bounds bounds_;
  UniqueFd file_;
  uint64_t stream_ = 0;                                        // bytes read so far
  std::optional<std::chrono::steady_clock::time_point> last_;  // of the last record
  std::chrono::milliseconds head_interval_, tail_interval_;
  size_t head_records_ = 0;
  std::vector<TimeRecord> tail_;  // stream offsets until finish()
  std::optional<Error> error_;
};

}  // namespace tend::agent
