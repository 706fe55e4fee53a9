// libFuzzer: parse_job_request must never crash, hang or accept something it cannot round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "jobspec/job_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto req = tend::parse_job_request(body);
  if (!req) {
    // A refusal always names a field and says why.
    if (req.error().stage.empty() || req.error().detail.empty()) std::abort();
    return 0;
  }
  // What the agent stores must read back to the same request (the shim depends on it).
  auto again = tend::request_from_json(tend::to_json(*req));
  if (!again || tend::to_json(*again) != tend::to_json(*req)) std::abort();
  return 0;
}
