#include "server/fleet_member.hpp"

#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "etcd/watch.hpp"
#include "http/auth.hpp"
#include "jobspec/job_request.hpp"
#include "server/clock.hpp"
#include "server/fleet_common.hpp"
#include "server/job_admission.hpp"
#include "server/retention.hpp"
#include "shim/files.hpp"
#include "tend/parse.hpp"
#include "tend/time.hpp"

namespace tend::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using etcd::Compare;
using etcd::DeleteRequest;
using etcd::PutRequest;
using etcd::RangeRequest;
using etcd::TxnRequest;
using Clock = std::chrono::steady_clock;
using namespace fleet_detail;

FleetMember::FleetMember(asio::io_context& ioc, FleetMemberConfig cfg, Store& store,
                         Scheduler& scheduler)
    : ioc_(ioc),
      cfg_(std::move(cfg)),
      keys_(cfg_.fleet.prefix),
      store_(store),
      scheduler_(scheduler),
      instance_(cfg_.data_id + ":" + http::random_hex(6)),
      queue_timer_(ioc),
      report_timer_(std::make_shared<asio::steady_timer>(ioc)),
      changes_(cfg_.changes) {
  const etcd::Connection& c = cfg_.fleet.connection;  // checked with the options
  client_ = std::make_unique<etcd::Client>(ioc.get_executor(), c.endpoints, c.options);
}

// Before the timer and the io_context go: no wake-up is posted from here on.
FleetMember::~FleetMember() {
  changes_->detach();
}

fleet::MachineRecord FleetMember::machine_record() const {
  return {cfg_.fleet.name, cfg_.fleet.labels, cfg_.address, cfg_.version, instance_};
}
fleet::SeenRecord FleetMember::seen_record() const {
  fleet::SeenRecord s{cfg_.fleet.name, cfg_.fleet.labels, cfg_.address, cfg_.version, now_text()};
  s.ttl = cfg_.fleet.ttl.count();
  return s;
}

asio::awaitable<void> FleetMember::pause(std::chrono::milliseconds d) {
  asio::steady_timer t(ioc_);
  t.expires_after(d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

// ---- membership ----

asio::awaitable<FleetMember::Registered> FleetMember::register_once(std::string& why) {
  auto grant = co_await client_->lease_grant(cfg_.fleet.ttl.count(), 3s);
  if (!grant) {
    why = grant.error().message;
    // A refused user or password will not mend itself by waiting.
    co_return grant.error().kind == etcd::ErrorKind::auth ? Registered::refused
                                                          : Registered::unreachable;
  }
  const int64_t lease = grant->id;
  const std::string mkey = keys_.machine_key(cfg_.fleet.name);
  const std::string machine = fleet::to_json(machine_record()).dump();
  const std::string seen = fleet::to_json(seen_record()).dump();
  TxnRequest create{
      {Compare::absent(mkey)},
      {PutRequest{mkey, machine, lease}, PutRequest{keys_.seen_key(cfg_.fleet.name), seen}},
      {RangeRequest{mkey}}};
  auto r = co_await client_->txn(create, 3s);
  if (r && !r->succeeded) {
    // Alive under this name: our own previous process (same data directory: a restart within
    // the TTL, or a retried txn) takes its place; anyone else keeps it.
    const etcd::KeyValue* kv = first_kv(range_at(*r, 0));
    auto held = kv ? fleet::machine_from_json(kv->value)
                   : Expected<fleet::MachineRecord>(Error::usage("gone"));
    if (held && fleet::instance_data_id(held->instance) == cfg_.data_id) {
      TxnRequest take{
          {Compare::number_of(mkey, Compare::Target::mod_revision, Compare::Op::equal,
                              kv->mod_revision)},
          {PutRequest{mkey, machine, lease}, PutRequest{keys_.seen_key(cfg_.fleet.name), seen}},
          {}};
      r = co_await client_->txn(take, 3s);
    } else if (kv) {
      why = "another agent named \"" + cfg_.fleet.name + "\" is alive" +
            (held ? " (at " + held->address + ", instance " + held->instance + ")" : "") +
            ": stop it, or give this one another --name";
      etcd::Millis t = 2s;
      (void)co_await client_->lease_revoke(lease, t);
      co_return Registered::name_taken;
    }
  }
  if (!r || !r->succeeded) {
    why = r ? "the machine key changed meanwhile" : r.error().message;
    etcd::Millis t = 2s;
    (void)co_await client_->lease_revoke(lease, t);
    co_return Registered::unreachable;
  }
  lease_ = lease;
  ++figures_.registrations;
  co_return Registered::yes;
}

asio::awaitable<Expected<void>> FleetMember::join() {
  auto deadline = Clock::now() + 12s;
  std::string why;
  for (;;) {
    auto r = co_await register_once(why);
    if (r == Registered::yes) co_return Expected<void>{};
    if (r == Registered::name_taken) co_return Error::usage(why);
    if (r == Registered::refused)
      co_return Error::with_detail(
          "etcd", "etcd at " + cfg_.fleet.etcd.endpoints + " refused this agent: " + why);
    if (Clock::now() >= deadline) break;
    co_await pause(500ms);
  }
  co_return Error::with_detail(
      "etcd", "cannot register in the fleet: etcd at " + cfg_.fleet.etcd.endpoints + " (" +
                  cfg_.fleet.connection.describe + ")" + " did not answer in time: " + why);
}

asio::awaitable<void> FleetMember::membership() {
  while (!stopping_) {
    etcd::LeaseKeeper keeper(*client_, lease_, cfg_.fleet.ttl);
    keeper_ = &keeper;
    auto kept = co_await keeper.run();
    keeper_ = nullptr;
    if (stopping_) break;
    ++figures_.leases_lost;
    away_since_ = keeper.expires_at() - cfg_.fleet.ttl;
    log("lease lost (" + (kept ? std::string("?") : kept.error().message) +
        "): this machine is unreachable for the fleet; its jobs keep running; re-registering");
    std::string why, last;
    for (;;) {
      if (stopping_) co_return;
      auto r = co_await register_once(why);
      if (r == Registered::yes) break;
      if (why != last) log("cannot register yet: " + why);
      last = why;
      co_await pause(1s);
    }
    auto away = Clock::now() - away_since_;
    log("registered again after " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(away).count()) + " s");
    if (cfg_.fleet.lost_after.count() > 0 && away >= cfg_.fleet.lost_after) {
      for (auto& [id, run] : runs_)
        mark_lost(id, "lost: machine " + cfg_.fleet.name + " was away from etcd longer than " +
                          format_duration(cfg_.fleet.lost_after) + " (agent --lost-after)");
    }
    co_await check_lost_marks();
    changes_->all_changed();
  }
}

asio::awaitable<void> FleetMember::check_lost_marks() {
  std::vector<std::string> ids;
  for (const auto& [id, run] : runs_)
    if (!run.lost) ids.push_back(id);
  for (const auto& id : ids) {
    RangeRequest q{keys_.run_key(id, cfg_.fleet.name)};
    auto r = co_await client_->range(q);
    auto it = runs_.find(id);
    if (!r || r->kvs.empty() || it == runs_.end()) continue;
    const etcd::KeyValue& kv = r->kvs.front();
    auto seen = fleet::run_from_json(kv.value);
    if (!seen || seen->state != fleet::run_state::lost) continue;
    it->second.run_mod = kv.mod_revision;
    mark_lost(id, lost_reason(&kv));
  }
}

// ---- assignments ----

void FleetMember::enqueue(etcd::KeyValue kv) {
  queue_.push_back(std::move(kv));
  queue_timer_.cancel();
}

asio::awaitable<void> FleetMember::assignments() {
  const std::string prefix = keys_.assign_prefix(cfg_.fleet.name);
  while (!stopping_) {
    RangeRequest all{.key = prefix, .range_end = etcd::prefix_end(prefix)};
    auto r = co_await client_->range(all);
    if (!r) {
      co_await pause(1s);
      continue;
    }
    for (const auto& kv : r->kvs) enqueue(kv);
    if (!adopted_) {
      std::set<std::string> assigned;
      for (const auto& kv : r->kvs)
        if (auto id = fleet::Keys::last_segment(prefix, kv.key)) assigned.insert(*id);
      adopted_ = co_await adopt_unassigned(std::move(assigned));
    }
    etcd::WatchOptions w;
    w.key = prefix;
    w.range_end = etcd::prefix_end(prefix);
    w.start_revision = r->header.revision + 1;
    w.keep_going = [this] { return !stopping_; };  // ends at SIGTERM even without progress
    auto watched = co_await etcd::watch(*client_, w, [this](const etcd::WatchUpdate& u) {
      for (const auto& ev : u.events)
        if (ev.type == etcd::Event::Type::put) enqueue(ev.kv);
      return !stopping_;
    });
    if (!watched && !stopping_)
      log("the assignment watch ended (" + watched.error().message + "): reading them again");
  }
}

asio::awaitable<void> FleetMember::claims_worker() {
  while (!stopping_) {
    if (queue_.empty()) {
      queue_timer_.expires_after(1h);
      co_await queue_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    etcd::KeyValue kv = std::move(queue_.front());
    queue_.pop_front();
    co_await handle_assignment(std::move(kv));
  }
}

asio::awaitable<void> FleetMember::handle_assignment(etcd::KeyValue kv) {
  auto id = fleet::Keys::last_segment(keys_.assign_prefix(cfg_.fleet.name), kv.key);
  if (!id) co_return;
  auto a = fleet::assignment_from_json(kv.value);
  if (!a) {
    log("assignment " + *id + " ignored: " + a.error().message());
    co_return;
  }
  if (auto it = runs_.find(*id); it != runs_.end()) {
    if (a->cancel && !it->second.lost) (void)scheduler_.cancel(*id);
    co_return;
  }
  if (auto bad = fleet::check_segment("job id", *id)) {
    log("assignment ignored: " + bad->detail);
    co_return;
  }
  co_await claim(*id, kv.mod_revision, a->cancel);
}

asio::awaitable<void> FleetMember::claim(std::string id, int64_t assign_mod, bool cancel) {
  const std::string name = cfg_.fleet.name;
  fleet::RunRecord run;
  if (cancel) {
    run.state = "cancelled";
    run.error = "cancelled before it started";
    run.finished_at = now_text();
  }
  const std::string ckey = keys_.claim_key(id, name), rkey = keys_.run_key(id, name),
                    akey = keys_.assign_key(name, id);
  // The spec is read by the claim txn itself (one round trip to etcd, not two): a won claim is
  // followed at once by the local record, so a crash between the two is as unlikely as it can be.
  TxnRequest t;
  t.compare = {Compare::absent(ckey), Compare::number_of(akey, Compare::Target::mod_revision,
                                                         Compare::Op::equal, assign_mod)};
  t.success = {PutRequest{ckey, fleet::to_json(fleet::Claim{instance_}).dump()},
               PutRequest{rkey, fleet::to_json(run).dump()}};
  if (cancel) t.success.emplace_back(DeleteRequest{akey});
  const size_t spec_at = t.success.size();
  t.success.emplace_back(RangeRequest{keys_.job_key(id)});
  t.failure = {RangeRequest{ckey}, RangeRequest{rkey}, RangeRequest{akey}};
  ++figures_.run_writes;
  auto r = co_await client_->txn(t);
  if (!r) {
    // The assignment stays; it is tried again (a watch that broke re-reads them anyway).
    log("job " + id + ": claim failed (" + r.error().message + "): retrying");
    co_await pause(1s);
    if (!stopping_)
      enqueue(etcd::KeyValue{akey, cancel ? "{\"cancel\":true}" : "{}", 0, assign_mod});
    co_return;
  }
  if (!r->succeeded) {
    co_await claim_failed(id, *r);
    co_return;
  }
  ++figures_.claims_won;
  if (cancel) {
    ++figures_.runs_reported;
    co_return;
  }
  const int64_t token = r->header.revision;
  const etcd::KeyValue* spec_kv = first_kv(range_at(*r, spec_at));
  auto spec =
      spec_kv ? fleet::job_from_json(spec_kv->value)
              : Expected<fleet::JobSpec>(Error::with_detail(
                    "spec", "the job's spec jobs/" + id + " does not exist", ErrorKind::bad_data));
  Expected<void> started = spec ? start_local(id, *spec) : Expected<void>(spec.error());
  if (!started) {
    std::string why =
        started.error().detail.empty() ? started.error().message() : started.error().detail;
    co_await report_not_started(id, token, token, why);
    co_return;
  }
  track(id, Run{token, token, fleet::run_state::queued, false});
}

// The claim txn's compare failed: the claim exists (ours from a retried txn, our previous
// process's, or another agent's), or the assignment changed since we saw it.
asio::awaitable<void> FleetMember::claim_failed(std::string id, const etcd::TxnResult& r) {
  const etcd::KeyValue* claim = first_kv(range_at(r, 0));
  const etcd::KeyValue* run = first_kv(range_at(r, 1));
  const etcd::KeyValue* assign = first_kv(range_at(r, 2));
  if (!claim) {
    if (assign) enqueue(*assign);  // it changed (e.g. cancel): claim from the new revision
    co_return;
  }
  auto c = fleet::claim_from_json(claim->value);
  auto local = store_.get(id);
  bool here = local && *local;
  Run tracked{claim->create_revision, run ? run->mod_revision : 0, "", false};
  if (run)
    if (auto rr = fleet::run_from_json(run->value)) {
      tracked.reported = rr->state;
      tracked.lost = rr->state == fleet::run_state::lost;
    }
  if (c && c->instance == instance_ && !here) {
    // Our own claim, applied by an attempt that timed out: the run is ours to start.
    RangeRequest spec_req{keys_.job_key(id)};
    auto spec_r = co_await client_->range(spec_req);
    auto spec =
        spec_r && !spec_r->kvs.empty()
            ? fleet::job_from_json(spec_r->kvs.front().value)
            : Expected<fleet::JobSpec>(Error::with_detail("spec", "cannot read jobs/" + id));
    Expected<void> started = spec ? start_local(id, *spec) : Expected<void>(spec.error());
    if (!started) {
      std::string why = started.error().message();
      co_await report_not_started(id, tracked.token, tracked.run_mod, why);
      co_return;
    }
    ++figures_.claims_won;
    track(id, tracked);
    co_return;
  }
  if (here) {
    // Claimed by this machine (this process or its previous one): report its state.
    const bool lost = tracked.lost;
    tracked.lost = false;  // mark_lost sets it, with the reason
    track(id, tracked);
    if (lost) mark_lost(id, lost_reason(run));
    co_return;
  }
  if (c && fleet::instance_data_id(c->instance) == cfg_.data_id &&
      !fleet::is_final_run_state(tracked.reported)) {
    // Our previous process claimed it and stopped before recording it: it never started.
    co_await report_not_started(id, tracked.token, tracked.run_mod,
                                "the agent stopped between its claim and the start");
    co_return;
  }
  ++figures_.claims_lost;  // another agent's run
}

asio::awaitable<bool> FleetMember::adopt_unassigned(std::set<std::string> assigned) {
  std::vector<std::string> ids;
  for (JobState state : {JobState::queued, JobState::running}) {
    auto local = store_.with_state(state);
    if (!local) {
      log("cannot list the local jobs (" + local.error().message() + "): adopted later");
      co_return false;
    }
    for (const auto& rec : *local)
      if (!assigned.count(rec.id)) ids.push_back(rec.id);
  }
  const std::string name = cfg_.fleet.name;
  for (const auto& id : ids) {
    // The claim, the record and the assignment, as the claim txn's failure branch reads them:
    // claim_failed() then decides as for a run found by its assignment (not claimed here, e.g. a
    // job of the agent's own API: nothing).
    TxnRequest t;
    t.success = {RangeRequest{keys_.claim_key(id, name)}, RangeRequest{keys_.run_key(id, name)},
                 RangeRequest{keys_.assign_key(name, id)}};
    auto r = co_await client_->txn(t);
    if (!r) {
      log("job " + id + ": cannot read its claim (" + r.error().message + "): adopted later");
      co_return false;
    }
    if (stopping_) co_return true;
    if (!runs_.count(id)) co_await claim_failed(id, *r);
  }
  co_return true;
}

Expected<void> FleetMember::start_local(const std::string& id, const fleet::JobSpec& spec) {
  auto req = parse_job_request(spec.request.dump());
  if (!req) return req.error();
  if (auto ok = admit(*req, cfg_.admission); !ok) return ok.error();
  req->env["TEND_MACHINE"] = cfg_.fleet.name;
  JobRecord rec;
  rec.id = id;
  rec.request = to_json(*req);
  rec.created_ms = now_ms();
  std::string dir = cfg_.jobs_dir + "/" + id;
  if (auto r = prepare_job_dir(dir, *req); !r) return r.error();
  if (auto r = store_.insert(rec); !r) {
    (void)remove_job_dir(dir);
    return r.error();
  }
  scheduler_.kick();
  return {};
}

void FleetMember::track(const std::string& id, Run run) {
  runs_[id] = std::move(run);
  changes_->changed(id);
}

void FleetMember::mark_lost(const std::string& id, const std::string& why) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.lost) return;
  it->second.lost = true;
  it->second.lost_why = why;
  auto rec = store_.get(id);
  bool running = rec && *rec && !is_final((*rec)->state);
  log("run " + id + ": " + why + (running ? ": killing what is left of it" : ""));
  if (running) (void)scheduler_.cancel(id);
  changes_->changed(id);
}

// ---- life ----

void FleetMember::start() {
  auto spawn = [this](asio::awaitable<void> a) {
    asio::co_spawn(ioc_, std::move(a), asio::detached);
  };
  spawn(membership());
  spawn(assignments());
  spawn(claims_worker());
  attach_reporter();
  spawn(reporter());
}

void FleetMember::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (keeper_) keeper_->stop();
  queue_timer_.cancel();
  report_timer_->cancel();
  // The machine leaves at once rather than after its TTL (its jobs keep running under their
  // shims; a restarted agent reports them).
  if (lease_ != 0)
    asio::co_spawn(
        ioc_,
        [this, lease = lease_]() -> asio::awaitable<void> {
          etcd::Millis t = 2s;
          (void)co_await client_->lease_revoke(lease, t);
        },
        asio::detached);
}

std::string FleetMember::render_metrics() const {
  const auto& c = client_->counters();
  std::string s;
  auto line = [&](const char* name, const char* help, uint64_t v) {
    s += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         " " + std::to_string(v) + "\n";
  };
  line("tend_fleet_etcd_writes_total", "etcd writes of this agent (all kinds)", c.writes());
  line("tend_fleet_etcd_keepalives_total", "lease renewals sent", c.keepalive);
  line("tend_fleet_etcd_failed_calls_total", "etcd calls that failed", c.failed_calls);
  line("tend_fleet_etcd_authentications_total",
       "auth tokens asked of etcd (--etcd-user: the first, then one per expired token)",
       c.authenticate);
  line("tend_fleet_run_writes_total",
       "etcd write requests for runs (claim txns, report txns: one may carry several runs)",
       figures_.run_writes);
  line("tend_fleet_report_rounds_total", "report txns sent (each writes every run due then)",
       figures_.report_rounds);
  line("tend_fleet_late_reports_total",
       "run records written by the fallback timer's pass rather than when they changed",
       figures_.late_records);
  line("tend_fleet_claims_won_total", "runs this machine claimed", figures_.claims_won);
  line("tend_fleet_claims_lost_total", "assignments another agent had claimed",
       figures_.claims_lost);
  line("tend_fleet_runs_reported_total", "runs whose final state was written to etcd",
       figures_.runs_reported);
  line("tend_fleet_registrations_total", "times the machine registered", figures_.registrations);
  line("tend_fleet_leases_lost_total", "times the machine's lease was lost", figures_.leases_lost);
  return s;
}

}  // namespace tend::agent
