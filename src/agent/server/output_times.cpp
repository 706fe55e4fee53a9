#include "server/output_times.hpp"

#include <algorithm>
#include <cerrno>

#include "http/text.hpp"
#include "server/store_errors.hpp"
#include "shim/files.hpp"
#include "shim/output_times.hpp"

namespace tend::agent {

namespace {

using http::error_response;
using http::Status;
using json = nlohmann::json;

constexpr uint64_t kDefaultLimit = 1000;
constexpr uint64_t kMaxLimit = 10000;  // 10000 pairs: about 300 KB of JSON at most

}  // namespace

// From the record that covers `offset` (the last at or before it): the time of the byte at
// `offset` is in the answer even if its chunk began earlier.
http::Response output_times(Store& store, const std::string& jobs_dir, const http::Request& req) {
  const std::string& id = req.param(0);
  uint64_t offset = 0, limit = kDefaultLimit;
  if (auto o = req.query("offset")) {
    auto v = http::parse_uint(*o, INT64_MAX);
    if (!v)
      return error_response(Status::bad_request, "offset",
                            "must be a byte offset (a non-negative integer)");
    offset = *v;
  }
  if (auto l = req.query("limit")) {
    auto v = http::parse_uint(*l, kMaxLimit);
    if (!v || *v < 1)
      return error_response(Status::bad_request, "limit",
                            "must be a number from 1 to " + std::to_string(kMaxLimit));
    limit = *v;
  }
  auto rec = store.get(id);
  if (!rec) return store_error_response(rec.error());
  if (!*rec) return error_response(Status::not_found, "id", "no job " + id);

  // Bounded by the shim (256 KiB at most), so read whole.
  std::vector<TimeRecord> records;
  if (auto text = read_file(jobs_dir + "/" + id + "/output.times"))
    records = parse_time_records(*text);
  else if (text.error().code != ENOENT)  // no file: no output yet, or none kept
    return error_response(Status::internal_server_error, "", text.error().message());

  auto after = std::partition_point(records.begin(), records.end(),
                                    [&](const TimeRecord& r) { return r.offset <= offset; });
  auto first = after == records.begin() ? after : after - 1;
  auto last = first + static_cast<ptrdiff_t>(
                          std::min<uint64_t>(limit, static_cast<uint64_t>(records.end() - first)));
  json times = json::array();
  for (auto it = first; it != last; ++it) times.push_back({it->offset, it->unix_ms});
  json next = last == records.end() ? json(nullptr) : json(last->offset);
  return http::json_response(Status::ok, {{"times", times}, {"next_offset", next}});
}

}  // namespace tend::agent
