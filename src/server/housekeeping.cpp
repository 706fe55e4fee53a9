#include "server/housekeeping.hpp"

#include <set>

#include "tend/parse.hpp"
#include "tend/time.hpp"

namespace tend::server {

namespace asio = boost::asio;
using etcd::Compare;

namespace {

etcd::RangeRequest prefix_range(const std::string& prefix, int64_t revision) {
  etcd::RangeRequest r;
  r.key = prefix;
  r.range_end = etcd::prefix_end(prefix);
  r.revision = revision;
  return r;
}

Compare mod_is(std::string key, int64_t rev) {
  return Compare::number_of(std::move(key), Compare::Target::mod_revision, Compare::Op::equal, rev);
}
Compare created_at(std::string key, int64_t rev) {
  return Compare::number_of(std::move(key), Compare::Target::create_revision, Compare::Op::equal,
                            rev);
}

std::string now_text() {
  return format_rfc3339(std::chrono::system_clock::now());
}

}  // namespace

std::string lost_error(const std::string& machine, std::chrono::milliseconds lost_after) {
  return "machine " + machine + " unreachable for more than " + format_duration(lost_after);
}

Housekeeper::Housekeeper(etcd::Client& c, fleet::Keys keys, std::chrono::milliseconds lost_after)
    : etcd_(c), keys_(std::move(keys)), lost_after_(lost_after) {}

asio::awaitable<etcd::Result<int>> Housekeeper::round() {
  auto found = co_await find_lost();
  if (!found) co_return found.error();
  int marked = 0;
  for (const LostRun& run : *found) {
    auto r = co_await mark(run);
    if (!r) co_return r.error();
    marked += *r ? 1 : 0;
  }
  co_return marked;
}

asio::awaitable<etcd::Result<std::vector<LostRun>>> Housekeeper::find_lost() {
  etcd::RangeRequest mq = prefix_range(keys_.machines_prefix(), 0);
  mq.keys_only = true;
  auto online = co_await etcd_.range(mq);
  if (!online) co_return online.error();
  etcd::RangeRequest sq = prefix_range(keys_.seen_prefix(), online->header.revision);
  auto seen = co_await etcd_.range(sq);
  if (!seen) co_return seen.error();
  std::set<std::string> up;
  for (const auto& kv : online->kvs)
    if (auto name = fleet::Keys::last_segment(keys_.machines_prefix(), kv.key)) up.insert(*name);
  std::vector<LostRun> out;
  const auto now = std::chrono::system_clock::now();
  for (const auto& kv : seen->kvs) {
    auto name = fleet::Keys::last_segment(keys_.seen_prefix(), kv.key);
    auto rec = fleet::seen_from_json(kv.value);
    if (!name || !rec || up.count(*name)) continue;
    if (!rec->unreachable_since) {
      co_await note_unreachable(*name, std::move(*rec), kv.mod_revision);
      continue;
    }
    auto since = parse_rfc3339(*rec->unreachable_since);
    if (!since || now - *since < lost_after_) continue;
    if (auto r = co_await runs_of(*name, kv.mod_revision, out); !r) co_return r.error();
  }
  co_return out;
}

// Since now: only if the machine is still absent and its record unchanged (a registration
// rewrites it without the note). A server that starts after a machine left notes it then: the
// wait is longer, never shorter.
asio::awaitable<void> Housekeeper::note_unreachable(const std::string& name, fleet::SeenRecord rec,
                                                    int64_t seen_mod) {
  rec.unreachable_since = now_text();
  const std::string skey = keys_.seen_key(name);
  etcd::TxnRequest t;
  t.compare = {created_at(keys_.machine_key(name), 0), mod_is(skey, seen_mod)};
  t.success = {etcd::PutRequest{skey, fleet::to_json(rec).dump()}};
  (void)co_await etcd_.txn(t);  // failed or moved: the next round sees the truth
}

asio::awaitable<etcd::Result<void>> Housekeeper::runs_of(const std::string& name, int64_t seen_mod,
                                                         std::vector<LostRun>& out) {
  const std::string aprefix = keys_.assign_prefix(name);
  etcd::RangeRequest aq = prefix_range(aprefix, 0);
  auto assigned = co_await etcd_.range(aq);
  if (!assigned) co_return assigned.error();
  const int64_t rev = assigned->header.revision;
  for (const auto& a : assigned->kvs) {
    auto id = fleet::Keys::last_segment(aprefix, a.key);
    if (!id) continue;
    if (auto it = ended_.find(a.key); it != ended_.end() && it->second == a.mod_revision) continue;
    etcd::RangeRequest cq{keys_.claim_key(*id, name)}, rq{keys_.run_key(*id, name)};
    cq.revision = rq.revision = rev;
    auto claim = co_await etcd_.range(cq);
    if (!claim) co_return claim.error();
    auto run = co_await etcd_.range(rq);
    if (!run) co_return run.error();
    LostRun l{*id, name, seen_mod, 0, 0, a.mod_revision, {}};
    if (!claim->kvs.empty()) l.claim_rev = claim->kvs.front().create_revision;
    if (!run->kvs.empty()) {
      const etcd::KeyValue& kv = run->kvs.front();
      l.run_mod = kv.mod_revision;
      if (auto rec = fleet::run_from_json(kv.value)) l.record = std::move(*rec);
      if (fleet::is_final_run_state(l.record.state)) {
        ended_[a.key] = a.mod_revision;  // its agent deletes the assignment on its return
        continue;
      }
    }
    l.record.state = fleet::run_state::lost;
    l.record.error = lost_error(name, lost_after_) + (l.claim_rev ? "" : "; it never started");
    l.record.finished_at = now_text();
    out.push_back(std::move(l));
  }
  co_return etcd::Result<void>{};
}

asio::awaitable<etcd::Result<bool>> Housekeeper::mark(const LostRun& l) {
  const std::string akey = keys_.assign_key(l.machine, l.id);
  etcd::TxnRequest t;
  t.compare = {created_at(keys_.machine_key(l.machine), 0),
               mod_is(keys_.seen_key(l.machine), l.seen_mod),
               created_at(keys_.claim_key(l.id, l.machine), l.claim_rev),
               mod_is(keys_.run_key(l.id, l.machine), l.run_mod)};
  // The assignment goes with it (else a machine that never returns keeps it for ever, counted
  // in its `running`). Never claimed: its agent can then never start it (its claim txn requires
  // the assignment it saw). Claimed: its agent finds the run on its return by the runs it
  // tracks, or, restarted meanwhile, among its local unfinished jobs (adopt_unassigned), then
  // kills what is left and reports.
  t.compare.push_back(mod_is(akey, l.assign_mod));
  const std::string value = fleet::to_json(l.record).dump();  // its time makes it this mark's
  t.success = {etcd::PutRequest{keys_.run_key(l.id, l.machine), value}, etcd::DeleteRequest{akey}};
  t.failure = {etcd::RangeRequest{keys_.run_key(l.id, l.machine)}};
  auto r = co_await etcd_.txn(t);
  if (!r) co_return r.error();
  co_return r->succeeded || etcd::applied_by_earlier_attempt(*r, 0, value);
}

asio::awaitable<etcd::Result<std::optional<std::string>>> check_lost_after(
    etcd::Client& c, const fleet::Keys& keys, std::chrono::milliseconds lost_after) {
  etcd::RangeRequest sq = prefix_range(keys.seen_prefix(), 0);
  auto seen = co_await c.range(sq);
  if (!seen) co_return seen.error();
  for (const auto& kv : seen->kvs) {
    auto rec = fleet::seen_from_json(kv.value);
    if (!rec || std::chrono::seconds(rec->ttl) < lost_after) continue;
    co_return std::optional<std::string>("--lost-after " + format_duration(lost_after) +
                                         " must be longer than the agents' --ttl: machine " +
                                         rec->name + " has " +
                                         format_duration(std::chrono::seconds(rec->ttl)));
  }
  co_return std::optional<std::string>{};
}

}  // namespace tend::server
