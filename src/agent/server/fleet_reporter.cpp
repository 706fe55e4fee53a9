// The fleet member's reports (docs/fleet.md, "Reports"): a run's local state goes to
// runs/ID/NAME when it changes. The scheduler's hook wakes the reporter (RunChanges); each pass
// writes every run that changed meanwhile in one txn, each put fenced by its claim's
// create_revision (the fencing token) and the record's mod_revision as last written. A timer
// remains only as the fallback: a pass over every tracked run after 2 s without a wake-up, which
// redoes writes that failed (etcd away) with the truth of then.
#include <algorithm>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/fleet_common.hpp"
#include "server/fleet_member.hpp"

namespace tend::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace fleet_detail;
using etcd::Compare;
using etcd::DeleteRequest;
using etcd::PutRequest;
using etcd::RangeRequest;
using etcd::TxnRequest;

namespace {

// The fallback pass's period (a pass with no run tracked costs nothing).
constexpr auto kFallback = 2s;
// How long news of starts alone waits for more: a short job's end mostly follows within it, and
// one txn then carries both (a write per run fewer). Any run's end cuts the wait short.
constexpr auto kStartsWait = std::chrono::milliseconds(50);
// Runs per txn. Each takes 2 compares, ≤ 2 success ops and 2 failure ranges: 64 would reach etcd's
// default --max-txn-ops (128); 32 keeps a txn far below it and below the 1.5 MiB request limit.
constexpr size_t kBatch = 32;

std::optional<std::string> ms_text(const std::optional<int64_t>& ms) {
  if (!ms) return std::nullopt;
  return format_rfc3339(std::chrono::milliseconds(*ms));
}

// What etcd should say of a local job.
fleet::RunRecord run_of(const JobRecord& rec) {
  fleet::RunRecord r;
  r.state = to_string(rec.state);
  r.exit_code = rec.exit_code;
  r.signal = rec.signal;
  r.error = rec.error;
  r.started_at = ms_text(rec.started_ms);
  r.finished_at = ms_text(rec.finished_ms);
  r.output_bytes = rec.output_bytes;
  r.output_dropped_bytes = rec.output_dropped_bytes;
  r.leftovers_killed = rec.leftovers_killed;
  return r;
}

}  // namespace

void FleetMember::attach_reporter() {
  // Called on the scheduler's thread, with the RunChanges lock held: it only posts. The timer is
  // held weakly: a wake-up that runs after the member is gone finds nothing to cancel.
  // A wake-up whose changes the reporter took meanwhile cancels nothing (it would cut short the
  // wait for more that follows).
  changes_->attach([ex = ioc_.get_executor(), timer = std::weak_ptr(report_timer_),
                    changes = std::weak_ptr(changes_)] {
    asio::post(ex, [timer, changes] {
      auto t = timer.lock();
      auto c = changes.lock();
      if (t && c && c->pending()) t->cancel();
    });
  });
}

asio::awaitable<void> FleetMember::reporter() {
  while (!stopping_) {
    bool fallback = false;
    if (!changes_->pending()) {
      report_timer_->expires_after(kFallback);
      auto [ec] = co_await report_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping_) break;
      fallback = !ec && !changes_->pending();  // ran out, nothing woke it
    }
    auto taken = changes_->take();
    std::vector<std::string> ids;
    if (fallback || taken.all) {
      for (const auto& [id, run] : runs_) ids.push_back(id);
    } else {
      for (const auto& id : taken.ids)
        if (runs_.count(id)) ids.push_back(id);
    }
    co_await report(std::move(ids), fallback);
  }
}

std::optional<FleetMember::Due> FleetMember::due(const std::string& id) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return std::nullopt;
  auto rec = store_.get(id);
  if (!rec) return std::nullopt;  // the database is failing: the fallback pass looks again
  if (!*rec) {
    log("run " + id + ": its local record is gone: no longer reported");
    runs_.erase(it);
    return std::nullopt;
  }
  const JobRecord& job = **rec;
  Due d{id, run_of(job), "", is_final(job.state), it->second};
  if (d.run.lost) {
    if (!d.final) return std::nullopt;  // killed: reported once it has ended
    d.want.error = d.run.lost_why + "; on its return the run was " +
                   std::string(to_string(job.state)) +
                   (d.want.error ? " (" + *d.want.error + ")" : "");
    d.want.state = fleet::run_state::lost;
  }
  if (d.want.state == d.run.reported && !d.final) return std::nullopt;
  d.value = fleet::to_json(d.want).dump();
  return d;
}

asio::awaitable<void> FleetMember::report(std::vector<std::string> ids, bool late) {
  std::vector<Due> dues;
  for (const auto& id : ids)
    if (auto d = due(id)) dues.push_back(std::move(*d));
  bool any_final = std::any_of(dues.begin(), dues.end(), [](const Due& d) { return d.final; });
  if (!dues.empty() && !any_final && !late && !stopping_) {
    report_timer_->expires_after(kStartsWait);
    co_await report_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    auto more = changes_->take();
    std::set<std::string> all(ids.begin(), ids.end());
    if (more.all)
      for (const auto& [id, run] : runs_) all.insert(id);
    all.insert(more.ids.begin(), more.ids.end());
    dues.clear();
    for (const auto& id : all)
      if (auto d = due(id)) dues.push_back(std::move(*d));
  }
  for (size_t at = 0; at < dues.size() && !stopping_; at += kBatch) {
    auto end = dues.begin() + static_cast<std::ptrdiff_t>(std::min(dues.size(), at + kBatch));
    std::vector<Due> batch(std::make_move_iterator(dues.begin() + static_cast<std::ptrdiff_t>(at)),
                           std::make_move_iterator(end));
    co_await report_batch(std::move(batch), late);
  }
}

asio::awaitable<void> FleetMember::report_batch(std::vector<Due> batch, bool late) {
  const std::string name = cfg_.fleet.name;
  TxnRequest t;
  for (const Due& d : batch) {
    const std::string ckey = keys_.claim_key(d.id, name), rkey = keys_.run_key(d.id, name);
    t.compare.push_back(Compare::number_of(ckey, Compare::Target::create_revision,
                                           Compare::Op::equal, d.run.token));
    t.compare.push_back(
        Compare::number_of(rkey, Compare::Target::mod_revision, Compare::Op::equal, d.run.run_mod));
    t.success.push_back(PutRequest{rkey, d.value});
    if (d.final) t.success.push_back(DeleteRequest{keys_.assign_key(name, d.id)});
    t.failure.push_back(RangeRequest{ckey});
    t.failure.push_back(RangeRequest{rkey});
  }
  ++figures_.run_writes;
  ++figures_.report_rounds;
  auto r = co_await client_->txn(t);
  if (!r) co_return;  // etcd away: the fallback pass writes the truth of then
  if (r->succeeded) {
    if (late) figures_.late_records += batch.size();
    for (const Due& d : batch) reported(d, r->header.revision);
    co_return;
  }
  batch_failed(batch, *r);
}

void FleetMember::reported(const Due& d, int64_t revision) {
  auto it = runs_.find(d.id);
  if (it == runs_.end()) return;
  it->second.run_mod = revision;
  it->second.reported = d.want.state;
  if (d.final) {
    ++figures_.runs_reported;
    runs_.erase(it);
  }
}

// One compare or more failed, so nothing was written. Each run is looked at from the failure
// branch's two ranges (its claim, its record); those that were fine are simply written again.
void FleetMember::batch_failed(const std::vector<Due>& batch, const etcd::TxnResult& r) {
  for (size_t i = 0; i < batch.size(); ++i) {
    const Due& d = batch[i];
    auto it = runs_.find(d.id);
    if (it == runs_.end()) continue;
    const etcd::KeyValue* claim = first_kv(range_at(r, 2 * i));
    const etcd::KeyValue* stored = first_kv(range_at(r, 2 * i + 1));
    if (!claim || claim->create_revision != d.run.token) {
      log("run " + d.id + ": the claim is no longer this machine's: not reported any more");
      runs_.erase(it);
      continue;
    }
    if (!stored) {
      it->second.run_mod = 0;
      changes_->changed(d.id);
      continue;
    }
    it->second.run_mod = stored->mod_revision;
    if (stored->value == d.value) {
      // Our own write, applied by an attempt that timed out (the assignment's deletion with it).
      reported(d, stored->mod_revision);
      continue;
    }
    if (auto seen = fleet::run_from_json(stored->value);
        seen && seen->state == fleet::run_state::lost)
      mark_lost(d.id, lost_reason(stored));
    changes_->changed(d.id);  // written again with the new revision
  }
}

asio::awaitable<void> FleetMember::report_not_started(std::string id, int64_t token,
                                                      int64_t run_mod, std::string why) {
  log("run " + id + " not started: " + why);
  fleet::RunRecord run;
  run.state = to_string(JobState::failed);
  run.error = "not started on " + cfg_.fleet.name + ": " + why;
  run.finished_at = now_text();
  const std::string name = cfg_.fleet.name;
  const std::string ckey = keys_.claim_key(id, name), rkey = keys_.run_key(id, name);
  for (int attempt = 0; attempt < 30 && !stopping_; ++attempt) {
    TxnRequest t;
    t.compare = {
        Compare::number_of(ckey, Compare::Target::create_revision, Compare::Op::equal, token),
        Compare::number_of(rkey, Compare::Target::mod_revision, Compare::Op::equal, run_mod)};
    t.success = {PutRequest{rkey, fleet::to_json(run).dump()},
                 DeleteRequest{keys_.assign_key(name, id)}};
    ++figures_.run_writes;
    auto r = co_await client_->txn(t);
    if (r) {
      if (r->succeeded) ++figures_.runs_reported;
      co_return;
    }
    co_await pause(1s);
  }
}

}  // namespace tend::agent
