#include "server/routes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "http/auth.hpp"
#include "http/guard.hpp"
#include "http/list_query.hpp"
#include "http/text.hpp"
#include "jobspec/job_request.hpp"
#include "server/clock.hpp"
#include "server/job_admission.hpp"
#include "server/job_json.hpp"
#include "server/output_times.hpp"
#include "server/retention.hpp"
#include "server/store_errors.hpp"
#include "server/web_routes.hpp"
#include "shim/files.hpp"

namespace tend::agent {

using json = nlohmann::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;
using http::Status;
using http::Verb;

namespace {

// 507 for a full disk (the usual cause of a failed write), 500 for anything else.
Response refuse_write(const Error& e, const std::string& what) {
  if (e.code == ENOSPC || e.code == EDQUOT)
    return error_response(Status::insufficient_storage, "",
                          what + ": the disk is full: " + e.message());
  return error_response(Status::internal_server_error, "", what + ": " + e.message());
}

Response healthz(AgentContext& ctx) {
  if (auto broken = ctx.scheduler.broken())
    return json_response(Status::service_unavailable,
                         {{"ok", false}, {"status", "broken"}, {"error", *broken}});
  if (auto degraded = ctx.scheduler.degraded())
    return json_response(Status::service_unavailable,
                         {{"ok", false}, {"status", "degraded"}, {"error", *degraded}});
  return json_response(Status::ok, {{"ok", true}, {"status", "ok"}});
}

Response metrics(AgentContext& ctx) {
  auto counts = ctx.store.count_by_state();
  if (!counts) return store_error_response(counts.error());
  std::string text = ctx.metrics.render(*counts);
  if (ctx.server) text += http::render_http_metrics(ctx.server->stats());
  if (ctx.extra_metrics) text += ctx.extra_metrics();
  return http::text_response(Status::ok, std::move(text), "text/plain; version=0.0.4");
}

Response submit_job(AgentContext& ctx, const Request& req) {
  if (auto broken = ctx.scheduler.broken())
    return error_response(Status::service_unavailable, "",
                          "the agent cannot start jobs: " + *broken);
  auto parsed = parse_job_request(req.body());
  if (!parsed)
    return error_response(Status::bad_request, parsed.error().stage, parsed.error().detail);
  if (auto ok = admit(*parsed, ctx.admission); !ok) {
    const Error& e = ok.error();
    return error_response(e.kind == ErrorKind::permission ? Status::forbidden : Status::bad_request,
                          e.stage, e.detail);
  }
  if (auto degraded = ctx.scheduler.degraded())
    return error_response(Status::insufficient_storage, "",
                          "the agent cannot take jobs now: " + *degraded);
  auto queued = ctx.store.count(JobState::queued);
  if (!queued) return store_error_response(queued.error());
  if (*queued >= ctx.max_queued)
    return error_response(
        Status::too_many_requests, "",
        "the queue is full (" + std::to_string(ctx.max_queued) + " jobs waiting); retry later");
  JobRecord rec;
  rec.id = http::random_hex(8);
  rec.request = to_json(*parsed);
  rec.created_ms = now_ms();
  std::string dir = ctx.jobs_dir + "/" + rec.id;
  if (auto r = prepare_job_dir(dir, *parsed); !r)
    return refuse_write(r.error(), "could not prepare the job");
  if (auto r = ctx.store.insert(rec); !r) {
    // Nothing of a refused submission stays (a crash right here: the next start removes it).
    (void)remove_job_dir(dir);
    return r.error().code == EUCLEAN ? store_error_response(r.error())
                                     : refuse_write(r.error(), "could not record the job");
  }
  ctx.scheduler.kick();
  auto res = json_response(Status::created, {{"id", rec.id}, {"state", to_string(rec.state)}});
  res.set("Location", "/v1/jobs/" + rec.id);
  return res;
}

Response list_jobs(AgentContext& ctx, const Request& req) {
  ListQuery q;
  q.limit = http::kDefaultPageSize;
  if (auto s = req.query("state")) {
    auto st = job_state_from_string(*s);
    if (!st) return error_response(Status::bad_request, "state", "unknown state \"" + *s + "\"");
    q.state = st;
  }
  if (auto bad = http::read_label_filter(req, q.label)) return std::move(*bad);
  if (auto bad = http::read_page_size(req, q.limit)) return std::move(*bad);
  if (auto c = req.query("cursor"); c && !c->empty()) {
    auto v = http::parse_uint(*c, INT64_MAX);
    if (!v)
      return error_response(Status::bad_request, "cursor", "not a cursor this agent gave out");
    q.before_seq = static_cast<int64_t>(*v);
  }
  auto found = ctx.store.list(q);
  if (!found) return store_error_response(found.error());
  const auto& rows = *found;
  json jobs = json::array();
  for (const auto& r : rows) jobs.push_back(job_json(r, ctx.jobs_dir));
  json next = rows.size() == static_cast<size_t>(q.limit) ? json(std::to_string(rows.back().seq))
                                                          : json(nullptr);
  return json_response(Status::ok, {{"jobs", jobs}, {"next_cursor", next}});
}

// What the page shows in its header: which machine this agent runs on.
Response agent_info() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return json_response(Status::ok, {{"hostname", std::string(host)}});
}

Response get_job(AgentContext& ctx, const Request& req) {
  const std::string& id = req.param(0);
  auto rec = ctx.store.get(id);
  if (!rec) return store_error_response(rec.error());
  if (!*rec) return error_response(Status::not_found, "id", "no job " + id);
  json j = job_json(**rec, ctx.jobs_dir);
  if ((*rec)->state == JobState::running)
    j["now"] = live_json(read_scope_figures(ctx.scheduler.job_cgroup(id)));
  return json_response(Status::ok, std::move(j));
}

Response delete_job(AgentContext& ctx, const Request& req) {
  const std::string& id = req.param(0);
  std::string why;
  switch (ctx.scheduler.remove(id, why)) {
    case Scheduler::RemoveOutcome::removed:
      return json_response(Status::ok, {{"id", id}, {"removed", true}});
    case Scheduler::RemoveOutcome::unknown:
      return error_response(Status::not_found, "id", "no job " + id);
    case Scheduler::RemoveOutcome::still_running:
      return error_response(Status::conflict, "id",
                            "job " + id + " has not finished: cancel it first");
    case Scheduler::RemoveOutcome::failed:
      return error_response(Status::internal_server_error, "",
                            "could not remove " + id + ": " + why);
    case Scheduler::RemoveOutcome::unavailable:
      break;
  }
  return error_response(Status::service_unavailable, "",
                        "the agent cannot remove jobs now: " +
                            ctx.scheduler.broken().value_or("its scheduler does not answer"));
}

Response cancel_job(AgentContext& ctx, const Request& req) {
  const std::string& id = req.param(0);
  switch (ctx.scheduler.cancel(id)) {
    case Scheduler::CancelOutcome::unknown:
      return error_response(Status::not_found, "id", "no job " + id);
    case Scheduler::CancelOutcome::already_finished:
      return error_response(Status::conflict, "id", "job " + id + " has already finished");
    case Scheduler::CancelOutcome::unavailable:
      return error_response(Status::service_unavailable, "",
                            "the agent cannot cancel jobs now: " +
                                ctx.scheduler.broken().value_or("its scheduler does not answer"));
    case Scheduler::CancelOutcome::accepted:
      break;
  }
  auto rec = ctx.store.get(id);
  return json_response(Status::accepted,
                       rec && *rec ? job_json(**rec, ctx.jobs_dir) : json{{"id", id}});
}

}  // namespace

http::Router make_routes(AgentContext& ctx) {
  http::Router r;
  r.set_guard([&ctx](const Request& req) { return http::require_bearer(req, ctx.token); });
  r.add_open(Verb::get, "/healthz", [&ctx](const Request&) { return healthz(ctx); });
  r.add(Verb::get, "/metrics", [&ctx](const Request&) { return metrics(ctx); });
  r.add(Verb::get, "/v1/agent", [](const Request&) { return agent_info(); });
  r.add(Verb::post, "/v1/jobs", [&ctx](const Request& q) { return submit_job(ctx, q); });
  r.add(Verb::get, "/v1/jobs", [&ctx](const Request& q) { return list_jobs(ctx, q); });
  r.add(Verb::get, "/v1/jobs/{}", [&ctx](const Request& q) { return get_job(ctx, q); });
  r.add(Verb::delete_, "/v1/jobs/{}", [&ctx](const Request& q) { return delete_job(ctx, q); });
  r.add(Verb::post, "/v1/jobs/{}/cancel", [&ctx](const Request& q) { return cancel_job(ctx, q); });
  r.add_stream(Verb::get, "/v1/jobs/{}/output",
               [&ctx](http::Exchange& ex) { return serve_output(ex, ctx.output); });
  r.add(Verb::get, "/v1/jobs/{}/output/times",
        [&ctx](const Request& q) { return output_times(ctx.store, ctx.jobs_dir, q); });
  add_web_routes(r);
  return r;
}

}  // namespace tend::agent
