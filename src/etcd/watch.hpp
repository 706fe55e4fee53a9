// Watching a key range through the gateway: one long POST /v3/watch whose answer streams one
// JSON object per line. The watch survives its member: a stream that breaks (member killed,
// connection reset, an {"error": ...} line) or falls silent (no event and no progress
// notification for `silent_intervals` × `progress_interval`: a stopped or partitioned member)
// is reopened on the next endpoint from the revision after the last one delivered, so no event
// is lost and none is delivered twice.
//
// Progress notifications need the cluster started with
// --experimental-watch-progress-notify-interval (= progress_interval here); without them a
// quiet watch is reopened every silent_intervals × progress_interval, which is harmless.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "etcd/client.hpp"

namespace tend::etcd {

struct WatchOptions {
  std::string key;
  std::string range_end;       // as RangeRequest: "" = the key alone, prefix_end(key) = prefix
  int64_t start_revision = 0;  // 0 = changes after now; else every change from this revision on
  bool prev_kv = false;
  Millis progress_interval = 1s;  // the cluster's progress-notify interval
  int silent_intervals = 3;       // silence longer than this many intervals = a dead stream
  Millis retry_backoff = 100ms;   // before reopening (doubles up to 1 s while failing)
  // Asked before every reopen (a stream that ended, broke or fell silent): false ends the watch
  // as if on_update had returned false. Lets a watch without progress notifications (where
  // on_update may never be called) end within silent_intervals × progress_interval.
  std::function<bool()> keep_going;
};

struct WatchUpdate {
  // Every change up to `revision` has been delivered (this update included).
  int64_t revision = 0;
  std::vector<Event> events;  // in revision order; empty = a progress notification
};

// Watches until `on_update` returns false: then the revision up to which all was delivered.
// Ends with an Error when etcd cancels the watch:
//  - ErrorKind::compacted, error.compact_revision = N: the changes from the next revision on are
//    gone; re-read the range and watch again from that read's header.revision + 1;
//  - ErrorKind::canceled: another reason (e.g. a bad range), in the message.
// Stream failures are never returned: the watch keeps reopening (rotating endpoints) until an
// update arrives; Counters::watch_streams counts the streams opened.
boost::asio::awaitable<Result<int64_t>> watch(Client& client, WatchOptions opts,
                                              std::function<bool(const WatchUpdate&)> on_update);

}  // namespace tend::etcd
