#include "server/routes.hpp"

#include <algorithm>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/guard.hpp"
#include "http/list_query.hpp"
#include "http/server.hpp"
#include "http/text.hpp"
#include "server/election.hpp"
#include "server/fleet_read.hpp"
#include "server/job_cache.hpp"
#include "server/output_proxy.hpp"
#include "server/submit.hpp"
#include "server/web_routes.hpp"
#include "tend/parse.hpp"

namespace tend::server {

namespace asio = boost::asio;
using json = nlohmann::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;
using http::Status;
using http::Verb;

namespace {

Response etcd_unavailable(const etcd::Error& e) {
  return error_response(
      Status::service_unavailable, "",
      "etcd did not answer: " + std::string(etcd::to_string(e.kind)) + ": " + e.message);
}

asio::awaitable<Response> healthz(ServerContext& ctx) {
  auto st = co_await ctx.etcd.status_of(ctx.etcd.preferred(), 2s);
  if (!st || !st->errors.empty() || st->leader == 0)
    co_return json_response(Status::service_unavailable,
                            {{"ok", false},
                             {"status", "etcd unavailable"},
                             {"error", st ? (st->errors.empty() ? "no leader" : st->errors.front())
                                          : st.error().message}});
  co_return json_response(Status::ok, {{"ok", true}, {"status", "ok"}});
}

Response metrics(ServerContext& ctx) {
  const auto& c = ctx.counters;
  const auto& e = ctx.etcd.counters();
  std::string out;
  auto one = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  one("tend_server_jobs_submitted_total", "counter", "Jobs written to etcd.", c.jobs_submitted);
  one("tend_server_submissions_refused_total", "counter", "Submissions answered 4xx.",
      c.submissions_refused);
  one("tend_server_submissions_unavailable_total", "counter",
      "Submissions answered 503 (etcd unreachable or without quorum).", c.submissions_unavailable);
  one("tend_server_submit_seconds_sum_microseconds", "counter",
      "Time to accept the submitted jobs, summed.", c.submit_seconds_sum_us);
  one("tend_server_cancels_total", "counter", "Jobs cancelled.", c.cancels);
  one("tend_server_output_proxies_total", "counter", "Output requests relayed to agents.",
      c.output_proxies);
  one("tend_server_runs_marked_lost_total", "counter",
      "Runs this server marked lost (their machine unreachable longer than --lost-after).",
      c.runs_marked_lost);
  one("tend_server_housekeeping_failures_total", "counter",
      "Housekeeping rounds that etcd did not let finish.", c.housekeeping_failures);
  one("tend_server_housekeeper", "gauge", "1 while this server is the elected housekeeper.",
      ctx.election && ctx.election->leading() ? 1 : 0);
  one("tend_server_housekeeping_etcd_writes_total", "counter",
      "etcd writes of the election and housekeeping (apart from the requests' below).",
      ctx.housekeeping_etcd ? ctx.housekeeping_etcd->counters().writes() : 0);
  one("tend_etcd_calls_total", "counter", "etcd calls made (retries not counted).",
      e.range + e.read_txn + e.put + e.txn + e.delete_range + e.lease_grant + e.lease_revoke +
          e.keepalive + e.status + e.compact);
  one("tend_etcd_writes_total", "counter", "etcd calls that change the store.", e.writes());
  one("tend_etcd_failed_calls_total", "counter", "etcd calls that failed.", e.failed_calls);
  one("tend_etcd_rotations_total", "counter", "Moves to the next etcd endpoint after a failure.",
      e.rotations);
  one("tend_etcd_authentications_total", "counter",
      "Auth tokens asked of etcd (--etcd-user: the first, then one per expired token).",
      e.authenticate);
  if (ctx.jobs) {
    const auto& s = ctx.jobs->stats();
    one("tend_server_job_cache_hits_total", "counter",
        "GET /v1/jobs/{id} answered from the watch-fed view (no etcd read).", s.hits);
    one("tend_server_job_cache_misses_total", "counter",
        "GET /v1/jobs/{id} read from etcd (job not held, or the view not current).", s.misses);
    one("tend_server_job_cache_loads_total", "counter",
        "Full reads of jobs/ and runs/ into the view (the first, then one per resync).", s.loads);
    one("tend_server_job_cache_resyncs_total", "counter",
        "Watches of the view ended by etcd (compaction): the view was read again.", s.resyncs);
    one("tend_server_job_cache_jobs", "gauge", "Jobs held in the view.", ctx.jobs->size());
    one("tend_server_job_cache_current", "gauge", "1 while the view is served.",
        ctx.jobs->current() ? 1 : 0);
  }
  if (ctx.server) out += http::render_http_metrics(ctx.server->stats());
  return http::text_response(Status::ok, std::move(out), "text/plain; version=0.0.4");
}

asio::awaitable<Response> list_machines(ServerContext& ctx) {
  auto ms = co_await read_machines(ctx.etcd, ctx.keys);
  if (!ms) co_return etcd_unavailable(ms.error());
  json out = json::array();
  for (const auto& m : *ms) out.push_back(machine_json(m));
  co_return json_response(Status::ok, {{"machines", out}});
}

// The job's JSON, or the answer that says why not (404, 503).
using JobAnswer = std::variant<json, Response>;

asio::awaitable<JobAnswer> job_answer(ServerContext& ctx, const std::string& id) {
  // Polled: answered from the watch-fed view when it is current and holds the job (no etcd read
  // at all; job_cache.hpp). Else a serializable read (the member alone, no ReadIndex round per
  // poll). A job that member does not have yet (created through a member that is ahead) is read
  // again linearizably, so a job a client was told of is found.
  if (ctx.jobs)
    if (auto held = ctx.jobs->find(id)) co_return JobAnswer(job_json(*held));
  auto job = co_await read_job(ctx.etcd, ctx.keys, id, 0, /*serializable=*/true);
  if (job && !*job) job = co_await read_job(ctx.etcd, ctx.keys, id);
  if (!job) co_return JobAnswer(etcd_unavailable(job.error()));
  if (!*job) co_return JobAnswer(error_response(Status::not_found, "id", "no job " + id));
  co_return JobAnswer(job_json(**job));
}

Response answer_of(JobAnswer a) {
  if (auto* j = std::get_if<json>(&a)) return json_response(Status::ok, *j);
  return std::get<Response>(std::move(a));
}

// GET /v1/jobs/{id}, and with ?wait=DURATION the long-poll: answered once the job differs from
// what it was when asked (or it has ended), else at the deadline as it is then. Woken by the
// view's watch; a job the view does not hold (or a view not current) is read from etcd every
// kWaitPoll instead.
constexpr auto kMaxWait = std::chrono::milliseconds(60s);
constexpr auto kWaitPoll = std::chrono::milliseconds(100);

asio::awaitable<Response> get_job(ServerContext& ctx, std::string id,
                                  std::optional<std::string> wait) {
  std::chrono::milliseconds wait_for{0};
  if (wait) {
    auto d = parse_duration(*wait);
    if (!d || d->count() <= 0 || *d > kMaxWait)
      co_return error_response(
          Status::bad_request, "wait",
          "expected a duration from 1ms to 60s, like 30s, got \"" + *wait + "\"");
    wait_for = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  JobAnswer first = co_await job_answer(ctx, id);
  const json* was = std::get_if<json>(&first);
  if (!wait || !was || run_ended(was->value("state", ""))) co_return answer_of(std::move(first));
  const auto deadline = std::chrono::steady_clock::now() + wait_for;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    if (ctx.jobs && ctx.jobs->holds(id)) {
      co_await ctx.jobs->wait_change(id, deadline);
    } else {
      pause.expires_after(std::min<std::chrono::steady_clock::duration>(
          kWaitPoll, deadline - std::chrono::steady_clock::now()));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    JobAnswer now = co_await job_answer(ctx, id);
    const json* is = std::get_if<json>(&now);
    if (!is || *is != *was || std::chrono::steady_clock::now() >= deadline)
      co_return answer_of(std::move(now));
  }
}

struct ListQuery {
  int limit = http::kDefaultPageSize;
  std::optional<std::string> state, machine;
  std::optional<std::pair<std::string, std::string>> label;
  int64_t before_revision = 0;  // the cursor: jobs created before this revision
};

std::optional<Response> read_list_query(const Request& req, ListQuery& q) {
  if (auto bad = http::read_page_size(req, q.limit)) return bad;
  if (auto s = req.query("state")) {
    static const char* kStates[] = {"queued", "running",   "succeeded",
                                    "failed", "cancelled", "lost"};
    if (std::none_of(std::begin(kStates), std::end(kStates),
                     [&](const char* k) { return *s == k; }))
      return error_response(Status::bad_request, "state", "unknown state \"" + *s + "\"");
    q.state = *s;
  }
  if (auto bad = http::read_label_filter(req, q.label)) return bad;
  if (auto m = req.query("machine")) q.machine = *m;
  if (auto c = req.query("cursor"); c && !c->empty()) {
    auto v = http::parse_uint(*c, INT64_MAX);
    if (!v) return error_response(Status::bad_request, "cursor", "not a cursor this server gave");
    q.before_revision = static_cast<int64_t>(*v);
  }
  return std::nullopt;
}

bool spec_matches(const fleet::JobSpec& spec, const ListQuery& q) {
  if (q.machine &&
      std::find(spec.machines.begin(), spec.machines.end(), *q.machine) == spec.machines.end())
    return false;
  if (q.label) {
    const json& labels =
        spec.request.is_object() ? spec.request.value("labels", json::object()) : json::object();
    auto it = labels.find(q.label->first);
    if (it == labels.end() || *it != q.label->second) return false;
  }
  return true;
}

// Newest first: jobs/ keys sorted by creation revision, filtered, each read with its runs at
// the same revision as the list.
asio::awaitable<Response> list_jobs(ServerContext& ctx, const Request& req) {
  ListQuery q;
  if (auto bad = read_list_query(req, q)) co_return std::move(*bad);
  etcd::RangeRequest r;
  r.key = ctx.keys.jobs_prefix();
  r.range_end = etcd::prefix_end(r.key);
  auto all = co_await ctx.etcd.range(r);
  if (!all) co_return etcd_unavailable(all.error());
  std::vector<const etcd::KeyValue*> order;
  for (const auto& kv : all->kvs)
    if (!q.before_revision || kv.create_revision < q.before_revision) order.push_back(&kv);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->create_revision > b->create_revision; });
  json jobs = json::array();
  int64_t last = 0;
  for (const etcd::KeyValue* kv : order) {
    if (static_cast<int>(jobs.size()) == q.limit) break;
    auto spec = fleet::job_from_json(kv->value);
    if (!spec || !spec_matches(*spec, q)) continue;
    auto job = co_await read_job(ctx.etcd, ctx.keys, spec->id, all->header.revision);
    if (!job) co_return etcd_unavailable(job.error());
    if (!*job) continue;
    json j = job_json(**job);
    if (q.state && j["state"] != *q.state) continue;
    jobs.push_back(std::move(j));
    last = kv->create_revision;
  }
  json next = static_cast<int>(jobs.size()) == q.limit ? json(std::to_string(last)) : json(nullptr);
  co_return json_response(Status::ok, {{"jobs", jobs}, {"next_cursor", next}});
}

// Every assignment still there gets {"cancel": true}: its agent stops the run (or never starts
// it) and writes the final state. One txn per machine, each only if the assignment exists (an
// ended run's assignment is gone, and must not come back).
asio::awaitable<Response> cancel_job(ServerContext& ctx, std::string id) {
  auto job = co_await read_job(ctx.etcd, ctx.keys, id);
  if (!job) co_return etcd_unavailable(job.error());
  if (!*job) co_return error_response(Status::not_found, "id", "no job " + id);
  if (run_ended(overall_state((*job)->runs)))
    co_return error_response(Status::conflict, "id", "job " + id + " has already finished");
  for (const auto& run : (*job)->runs) {
    if (run_ended(run.state)) continue;
    const std::string key = ctx.keys.assign_key(run.machine, id);
    etcd::TxnRequest t;
    t.compare.push_back(etcd::Compare::number_of(key, etcd::Compare::Target::create_revision,
                                                 etcd::Compare::Op::greater, 0));
    t.success.push_back(
        etcd::PutRequest{key, fleet::to_json(fleet::Assignment{true}).dump(), 0, false});
    auto r = co_await ctx.etcd.txn(t);
    if (!r) co_return etcd_unavailable(r.error());
  }
  ++ctx.counters.cancels;
  auto now = co_await read_job(ctx.etcd, ctx.keys, id);
  json body = now && *now ? job_json(**now) : json{{"id", id}};
  body["cancel_requested"] = true;
  co_return json_response(Status::accepted, body);
}

// Adds a route answered by a coroutine that makes one response.
template <class Fn>
void add_async(http::Router& r, Verb verb, std::string pattern, Fn fn) {
  r.add_stream(verb, std::move(pattern), [fn](http::Exchange& ex) -> asio::awaitable<void> {
    Response res = co_await fn(ex.request());
    co_await ex.reply(std::move(res));
  });
}

}  // namespace

http::Router make_routes(ServerContext& ctx) {
  http::Router r;
  r.set_guard([&ctx](const Request& req) { return http::require_bearer(req, ctx.token); });
  r.add_open_stream(Verb::get, "/healthz", [&ctx](http::Exchange& ex) -> asio::awaitable<void> {
    Response res = co_await healthz(ctx);
    co_await ex.reply(std::move(res));
  });
  r.add(Verb::get, "/metrics", [&ctx](const Request&) { return metrics(ctx); });
  add_async(r, Verb::get, "/v1/machines", [&ctx](const Request&) { return list_machines(ctx); });
  add_async(r, Verb::post, "/v1/jobs", [&ctx](const Request& q) { return submit_job(ctx, q); });
  add_async(r, Verb::get, "/v1/jobs", [&ctx](const Request& q) { return list_jobs(ctx, q); });
  // A long-poll ends early when its client leaves or the server stops.
  r.add_stream(Verb::get, "/v1/jobs/{}", [&ctx](http::Exchange& ex) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    std::string id = ex.request().param(0);
    std::optional<std::string> wait = ex.request().query("wait");
    auto got = co_await (get_job(ctx, std::move(id), std::move(wait)) || ex.closed());
    if (got.index() == 1) co_return;
    co_await ex.reply(std::move(std::get<0>(got)));
  });
  add_async(r, Verb::post, "/v1/jobs/{}/cancel",
            [&ctx](const Request& q) { return cancel_job(ctx, q.param(0)); });
  r.add_stream(Verb::get, "/v1/jobs/{}/runs/{}/output",
               [&ctx](http::Exchange& ex) { return proxy_output(ctx, ex); });
  add_web_routes(r);
  return r;
}

}  // namespace tend::server
