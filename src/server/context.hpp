// What the server's routes share: the etcd client, the key layout, the token, the counters.
// One io_context thread runs everything, so the counters are plain integers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "etcd/client.hpp"
#include "fleet/protocol.hpp"
#include "http/server.hpp"

namespace tend::server {

using namespace std::chrono_literals;

struct ServerCounters {
  uint64_t jobs_submitted = 0;
  uint64_t submissions_refused = 0;      // 4xx: nothing written
  uint64_t submissions_unavailable = 0;  // 503: etcd could not be reached or had no quorum
  uint64_t submit_seconds_sum_us = 0;    // accepted submissions, request to answer
  uint64_t cancels = 0;
  uint64_t output_proxies = 0;
  uint64_t runs_marked_lost = 0;       // by this server's housekeeping (housekeeping.hpp)
  uint64_t housekeeping_failures = 0;  // rounds etcd did not let finish
};

class Election;
class JobCache;

struct ServerContext {
  etcd::Client& etcd;
  fleet::Keys keys;
  std::string token;
  // A submission is answered within this (503 if etcd did not confirm it in time).
  std::chrono::milliseconds submit_deadline = 9s;
  ServerCounters counters;
  const http::Server* server = nullptr;
  const Election* election = nullptr;               // null when --lost-after is off
  const etcd::Client* housekeeping_etcd = nullptr;  // the election's and housekeeping's client
  JobCache* jobs = nullptr;  // the watch-fed view of jobs; null with --job-cache 0
};

}  // namespace tend::server
