// Output: where a job's captured stdout/stderr bytes go. Memory stays bounded whatever the job
// writes: the first `head_bytes` and the last `tail_bytes` are kept, the rest is counted.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend {

enum class Stream : uint8_t { out = 1, err = 2 };

// Receives a job's output chunks in the order they were read.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void write(Stream s, std::string_view data) = 0;
  // Called once when the job's streams are closed (the scope is empty).
  virtual void finish() {}
  virtual uint64_t total_bytes(Stream s) const = 0;
  virtual uint64_t dropped_bytes() const = 0;
};

struct OutputLimits {
  size_t head_bytes = 1 << 20;
  size_t tail_bytes = 1 << 20;
};

// In memory: the head and the tail, each as a list of (stream, bytes) chunks in read order.
class OutputCapture final : public OutputSink {
 public:
  struct Chunk {
    Stream stream;
    std::string data;
  };
  explicit OutputCapture(OutputLimits limits = {}) : limits_(limits) {}

  void write(Stream s, std::string_view data) override;
  uint64_t total_bytes(Stream s) const override { return s == Stream::out ? out_ : err_; }
  uint64_t dropped_bytes() const override { return dropped_; }

  const std::vector<Chunk>& head() const { return head_; }
  const std::deque<Chunk>& tail() const { return tail_; }
  // Everything kept, in order; where bytes were dropped, a line "[tend: N bytes dropped]".
  std::string text(bool with_marker = true) const;
  // Only one stream's bytes (order within the stream is exact).
  std::string text(Stream s) const;

 private:
  OutputLimits limits_;
  std::vector<Chunk> head_;
  size_t head_size_ = 0;
  std::deque<Chunk> tail_;
  size_t tail_size_ = 0;
  uint64_t out_ = 0, err_ = 0, dropped_ = 0;
};

// To a file, written as it arrives (O_APPEND), with the same head/tail bound on disk: once the
// head is full, the tail goes to `<path>.tail`, a ring of `tail_bytes`, appended to `path`
// behind a "[tend: N bytes dropped]" line by finish().
class FileOutput final : public OutputSink {
 public:
  // When the file is made. `on_first_byte`: a job that writes nothing leaves no file (readers
  // take a missing file as empty output); creating a file is the dearest part of a short job on
  // some filesystems. An open that fails then is reported by error(), like a write error.
  enum class Create { at_open, on_first_byte };
  static Expected<std::unique_ptr<FileOutput>> open(const std::string& path, OutputLimits limits,
                                                    Create when = Create::at_open);
  void write(Stream s, std::string_view data) override;
  void finish() override;
  uint64_t total_bytes(Stream s) const override { return s == Stream::out ? out_ : err_; }
  uint64_t dropped_bytes() const override;
  // The first write error, if any (the job is not disturbed by a full disk).
  const std::optional<Error>& error() const { return error_; }
  // Where byte `stream_offset` of the stream (all bytes written, in order) is in the file: the
  // same while in the head; for a tail byte, only once finish() has laid the file out (head,
  // marker line, kept tail). nullopt for a dropped byte, or a tail byte before finish().
  std::optional<uint64_t> file_offset(uint64_t stream_offset) const;

 private:
  FileOutput() = default;
  bool open_file();  // false (and error_ set) if the file cannot be made
  std::string path_;
  OutputLimits limits_;
  UniqueFd file_, ring_;
  uint64_t written_head_ = 0;
  uint64_t ring_total_ = 0;               // bytes ever written into the ring
  std::optional<uint64_t> marker_bytes_;  // set by finish(): the dropped-bytes line's length
  uint64_t out_ = 0, err_ = 0;
  std::optional<Error> error_;
};

}  // namespace tend
