// The server's watch-fed view of jobs (docs/fleet.md, "Reads"): `GET /v1/jobs/{id}` is polled by
// every waiting client, and each poll used to be one read through etcd's JSON gateway (most of
// etcd's work after the writes). The cache reads jobs/ and runs/ once, at one revision, then
// follows one watch on them from that revision; a poll of a job it holds costs etcd nothing.
//
// Rules (each a test in tests/fleet/job_cache_test.cpp):
//  - find() answers only while the view is current: loaded, its watch stream delivering, and an
//    update (event or progress notification) seen within `silence`. Otherwise nullopt, and the
//    caller reads etcd as before: a view known to be behind is never served.
//  - A job it does not hold (created through another server and not seen yet, evicted, or
//    beyond the bound) is nullopt too: the caller reads etcd, so a job that exists is never a 404.
//  - A job this server just wrote is inserted at once (created()): read-your-writes.
//  - A compaction (or any cancel of the watch) drops the view: re-read, watch again from the new
//    revision. A broken stream is reopened by etcd::watch from the next revision (no gap).
//  - Bounded: every job not ended yet (at most `max_jobs` in all: beyond that new jobs are not
//    held) plus the `max_ended` most recently ended ones; older ones are read from etcd on demand.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "etcd/client.hpp"
#include "etcd/watch.hpp"
#include "fleet/protocol.hpp"
#include "server/fleet_read.hpp"

namespace tend::server {

struct JobCacheStats {
  uint64_t hits = 0;     // finds answered from the view
  uint64_t misses = 0;   // finds the caller had to read from etcd (not held, or not current)
  uint64_t loads = 0;    // full reads of jobs/ and runs/ (the first, then one per resync)
  uint64_t resyncs = 0;  // watches ended by etcd (compaction, cancel): the view was dropped
};

class JobCache {
 public:
  // `max_ended` (≥ 1): ended jobs kept. The cache holds at most 10 × max_ended jobs in all.
  JobCache(etcd::Client& etcd, fleet::Keys keys, size_t max_ended);

  // Loads and follows the watch until stop(); never returns an error (etcd away: it retries).
  boost::asio::awaitable<void> run();
  void stop() {
    stopping_ = true;
    wake_all();
  }

  // The job as of the view's revision, if the view is current and holds it.
  std::optional<JobView> find(const std::string& id);
  // A job this server just wrote, at `revision`: known at once (no-op if the view has it).
  void created(const fleet::JobSpec& spec, int64_t revision);

  // Whether find(id) would answer from the view now.
  bool holds(const std::string& id) const { return current() && jobs_.contains(id); }
  // Returns once the view's record of job `id` changed, the view stopped being current, or at
  // `deadline` (the long-poll GET /v1/jobs/{id}?wait=).
  boost::asio::awaitable<void> wait_change(const std::string& id,
                                           std::chrono::steady_clock::time_point deadline);

  bool current() const;
  size_t size() const { return jobs_.size(); }
  const JobCacheStats& stats() const { return stats_; }

 private:
  struct Entry {
    JobView job;
    bool ended = false;
  };

  boost::asio::awaitable<bool> load();
  void apply(const etcd::Event& e);
  void apply_run(const std::string& id, const std::string& machine, const etcd::Event& e);
  bool insert(JobView job);  // false: over the bound, not held
  void note_ended(Entry& e);
  void evict();
  void wake(const std::string& id);
  void wake_all();

  etcd::Client& etcd_;
  fleet::Keys keys_;
  size_t max_ended_, max_jobs_;
  std::unordered_map<std::string, Entry> jobs_;
  std::deque<std::string> ended_;  // ended job ids, oldest first (evicted from the front)
  int64_t revision_ = 0;           // every change up to here is in the view
  bool loaded_ = false;            // a full read is installed and its watch not ended
  bool streaming_ = false;         // the watch's stream delivers (false from a break to an update)
  std::chrono::steady_clock::time_point last_update_{};
  bool stopping_ = false;
  JobCacheStats stats_;
  // Long-polls waiting on a job: woken (their timer cancelled) by its change. A multimap: its
  // iterators stay valid while others are added.
  std::multimap<std::string, boost::asio::steady_timer*> waiters_;
};

}  // namespace tend::server
