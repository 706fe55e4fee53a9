// Small helpers shared by the fleet member's files (fleet_member.cpp, fleet_reporter.cpp).
#pragma once

#include <cstdio>
#include <string>

#include "etcd/types.hpp"
#include "fleet/protocol.hpp"
#include "tend/time.hpp"

namespace tend::agent::fleet_detail {

inline void log(const std::string& line) {
  std::fprintf(stderr, "tend agent: fleet: %s\n", line.c_str());
}

inline std::string now_text() {
  return format_rfc3339(std::chrono::system_clock::now());
}

// The i-th answer of a txn's branch if it is a range, else null.
inline const etcd::RangeResult* range_at(const etcd::TxnResult& r, size_t i) {
  if (i >= r.responses.size()) return nullptr;
  return std::get_if<etcd::RangeResult>(&r.responses[i]);
}
inline const etcd::KeyValue* first_kv(const etcd::RangeResult* r) {
  return r && !r->kvs.empty() ? &r->kvs.front() : nullptr;
}

// Why a run whose stored record says `lost` is: the marker's own words.
inline std::string lost_reason(const etcd::KeyValue* stored) {
  if (stored)
    if (auto rec = fleet::run_from_json(stored->value); rec && rec->error) return *rec->error;
  return "a server marked the run lost";
}

}  // namespace tend::agent::fleet_detail
