// The agent's counters, rendered in the Prometheus text format by GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "http/server.hpp"
#include "server/store.hpp"

namespace tend::agent {

class Metrics {
 public:
  // Upper bounds (seconds) of the spawn latency histogram buckets; +Inf is implicit.
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.25,  1.0};

  void observe_spawn(double seconds);
  void add_leftovers_killed(int n) { leftovers_killed_ += n; }
  void add_orphans_reaped(int n) { orphans_reaped_ += n; }
  void add_oom_killed(int n) { oom_killed_ += n; }
  void add_jobs_removed(int n) { jobs_removed_ += n; }
  void set_running(int64_t n) { running_ = n; }

  std::string render(const std::map<JobState, int64_t>& jobs_by_state) const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets.size()> buckets_{};
  std::atomic<uint64_t> spawn_count_{0};
  std::atomic<uint64_t> spawn_sum_us_{0};
  std::atomic<uint64_t> leftovers_killed_{0};
  std::atomic<uint64_t> orphans_reaped_{0};
  std::atomic<uint64_t> jobs_removed_{0};
  std::atomic<uint64_t> oom_killed_{0};
  std::atomic<int64_t> running_{0};
};

}  // namespace tend::agent
