// A job's output read as server-sent events (GET …/output?sse=1, docs/api.md) as the bytes come:
// the text of each `output` event, exactly (its `data` lines joined with "\n"); `end` marks the
// output complete — a stream that stops without it was cut short. Comments (the heartbeats) and
// `state` events carry no output and are skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tend::agent {

class SseOutput {
 public:
  // `text`: an output event's text; `after`: its id, the byte offset after it (if it had one).
  using OnOutput = std::function<void(std::string_view text, std::optional<uint64_t> after)>;
  explicit SseOutput(OnOutput on_output) : on_output_(std::move(on_output)) {}

  // The next bytes of the stream, in any pieces.
  void feed(std::string_view bytes);
  // The `end` event arrived: the output is complete.
  bool ended() const { return ended_; }

 private:
  void dispatch(std::string_view block);

  OnOutput on_output_;
  std::string pending_;  // an event not complete yet
  bool ended_ = false;
};

}  // namespace tend::agent
