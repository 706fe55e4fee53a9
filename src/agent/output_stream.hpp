// Streams a job's output file as it grows: plain bytes (?follow=1) or server-sent events.
// Waits on inotify for the job directory (bounded by a short timeout that also re-reads the
// job's state), never on a busy loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "store.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

class OutputFollower {
 public:
  // `state_of` returns the job's record now (nullopt: gone).
  OutputFollower(std::string dir, std::string id, uint64_t offset, bool sse,
                 std::function<std::optional<JobRecord>()> state_of);

  // Produces the next piece of the stream, waiting (bounded) for one if there is none yet.
  // Returns false once the stream is over (after the final piece).
  bool next(std::string& piece);

 private:
  void wait_for_change();
  // Reads every pending inotify event; true if one of them may change what the stream shows.
  bool drain_inotify();
  std::string sse_output(std::string_view text);

  std::string dir_, id_;
  uint64_t pos_;
  bool sse_;
  std::function<std::optional<JobRecord>()> state_of_;
  std::optional<JobState> last_state_;
  UniqueFd inotify_;
  UniqueFd output_;  // the job's output file, once it exists
  bool ended_ = false;
  int idle_rounds_ = 0;
};

// The largest prefix of `s` that does not end inside a UTF-8 sequence (SSE is UTF-8 text).
size_t utf8_complete_prefix(std::string_view s);

}  // namespace tend::agent
