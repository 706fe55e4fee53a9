#include "server/submit.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>

#include "fleet/protocol.hpp"
#include "fleet/target.hpp"
#include "http/auth.hpp"
#include "jobspec/job_request.hpp"
#include "server/fleet_read.hpp"
#include "server/job_cache.hpp"
#include "tend/time.hpp"

namespace tend::server {

namespace asio = boost::asio;
using json = nlohmann::json;
using http::error_response;
using http::Status;
using Clock = std::chrono::steady_clock;

namespace {

http::Response unavailable(ServerContext& ctx, const etcd::Error& e, const std::string& what) {
  ++ctx.counters.submissions_unavailable;
  return error_response(Status::service_unavailable, "",
                        what + ": etcd did not answer in time (" +
                            std::string(etcd::to_string(e.kind)) + ": " + e.message + ")");
}

http::Response refused(ServerContext& ctx, const std::string& field, const std::string& message) {
  ++ctx.counters.submissions_refused;
  return error_response(Status::bad_request, field, message);
}

// The body without its target, checked by the job spec's rules: the normalized request.
Expected<json> job_spec(const json& body) {
  json rest = body;
  rest.erase("target");
  auto parsed = parse_job_request(rest.dump());
  if (!parsed) return parsed.error();
  return tend::to_json(*parsed);
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

}  // namespace

std::string new_job_id() {
  // 44 bits of milliseconds, then 20 bits of a per-process sequence from a random start: one
  // server never repeats an id (20 random bits alone collided within a millisecond in ~2 % of
  // 200-id bursts); two servers rarely may, and the submit txn's absent-compare catches that.
  static std::atomic<uint32_t> sequence{
      static_cast<uint32_t>(std::stoul(http::random_hex(3), nullptr, 16))};
  const uint32_t seq = sequence.fetch_add(1, std::memory_order_relaxed) & 0xfffffU;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char id[17];
  std::snprintf(id, sizeof id, "%011llx%05x",
                static_cast<unsigned long long>(ms) & 0xfffffffffffULL, seq);
  return id;
}

asio::awaitable<http::Response> submit_job(ServerContext& ctx, const http::Request& req) {
  const auto started = Clock::now();
  const auto deadline = started + ctx.submit_deadline;
  json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    co_return refused(ctx, "body", "must be a JSON object");
  if (!body.contains("target"))
    co_return refused(ctx, "target",
                      "is required: {\"machines\": [...]}, {\"match\": {...}} or {\"all\": true}");
  auto spec = job_spec(body);
  if (!spec) co_return refused(ctx, spec.error().stage, spec.error().detail);

  // The machines as etcd has them now. A linearizable read: without quorum it fails here,
  // before anything is proposed.
  auto machines = co_await read_machines(ctx.etcd, ctx.keys);
  if (!machines) co_return unavailable(ctx, machines.error(), "cannot read the machines");
  auto selected = fleet::select_machines(body["target"], as_targets(*machines));
  if (!selected) co_return refused(ctx, "target", selected.error().detail);

  fleet::JobSpec job;
  job.request = std::move(*spec);
  job.target = body["target"];
  job.machines = *selected;
  job.created_at = format_rfc3339(std::chrono::system_clock::now());
  const std::string assigned = fleet::to_json(fleet::Assignment{}).dump();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string id = new_job_id();
    job.id = id;
    const std::string value = fleet::to_json(job).dump();
    etcd::TxnRequest t;
    t.compare.push_back(etcd::Compare::absent(ctx.keys.job_key(id)));
    t.success.push_back(etcd::PutRequest{ctx.keys.job_key(id), value, 0, false});
    for (const std::string& name : *selected)
      t.success.push_back(etcd::PutRequest{ctx.keys.assign_key(name, id), assigned, 0, false});
    t.failure.push_back(etcd::RangeRequest{ctx.keys.job_key(id)});
    auto r = co_await ctx.etcd.txn(t, left(deadline));
    if (!r) {
      // The proposal may still be applied once etcd has a quorum again: say which id to look for.
      ++ctx.counters.submissions_unavailable;
      co_return error_response(
          Status::service_unavailable, "",
          "etcd did not confirm job " + id + " in time (" +
              std::string(etcd::to_string(r.error().kind)) + ": " + r.error().message +
              "); it was not started, unless etcd applies it later: see GET /v1/jobs/" + id);
    }
    bool ours = r->succeeded || etcd::applied_by_earlier_attempt(*r, 0, value);
    if (!ours) continue;  // another job has this id (same millisecond, same 20 random bits)
    if (ctx.jobs) ctx.jobs->created(job, r->header.revision);  // read-your-writes
    ++ctx.counters.jobs_submitted;
    ctx.counters.submit_seconds_sum_us += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
    auto res = http::json_response(Status::created,
                                   {{"id", id}, {"state", "queued"}, {"machines", *selected}});
    res.set("Location", "/v1/jobs/" + id);
    co_return res;
  }
  co_return error_response(Status::internal_server_error, "", "could not find a free job id");
}

}  // namespace tend::server
