#include "server/job_cache.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tend::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The watch's defaults (etcd/watch.hpp): a stream silent this long is dead and gets reopened;
// the view is not served past it either.
const etcd::WatchOptions kWatchDefaults{};
const auto kSilence = kWatchDefaults.progress_interval * kWatchDefaults.silent_intervals;

etcd::RangeRequest whole(const std::string& prefix) {
  etcd::RangeRequest r;
  r.key = prefix;
  r.range_end = etcd::prefix_end(prefix);
  return r;
}

// The run of `machine` in `job`, null if the job did not select it.
RunView* run_of(JobView& job, std::string_view machine) {
  for (auto& r : job.runs)
    if (r.machine == machine) return &r;
  return nullptr;
}

// As read_job(): a record that does not decode leaves the run `assigned`.
void set_record(RunView& run, std::string_view value) {
  run.record = {};
  run.state = kAssigned;
  if (auto rec = fleet::run_from_json(value)) {
    run.record = std::move(*rec);
    run.state = run.record.state;
  }
}

JobView fresh_job(fleet::JobSpec spec, int64_t create_revision) {
  JobView v;
  v.id = spec.id;
  v.create_revision = create_revision;
  for (const std::string& name : spec.machines) v.runs.push_back(RunView{name, kAssigned, {}});
  v.spec = std::move(spec);
  return v;
}

bool all_ended(const JobView& j) {
  return std::all_of(j.runs.begin(), j.runs.end(),
                     [](const RunView& r) { return run_ended(r.state); });
}

}  // namespace

JobCache::JobCache(etcd::Client& etcd, fleet::Keys keys, size_t max_ended)
    : etcd_(etcd),
      keys_(std::move(keys)),
      max_ended_(std::max<size_t>(1, max_ended)),
      max_jobs_(10 * std::max<size_t>(1, max_ended)) {}

bool JobCache::current() const {
  return !stopping_ && loaded_ && streaming_ && Clock::now() - last_update_ < kSilence;
}

std::optional<JobView> JobCache::find(const std::string& id) {
  if (current())
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      ++stats_.hits;
      return it->second.job;
    }
  ++stats_.misses;
  return std::nullopt;
}

void JobCache::created(const fleet::JobSpec& spec, int64_t revision) {
  // Runs are written after the job: a job new to the view has none yet. Held already (the watch
  // was quicker): it may have runs, keep them.
  if (loaded_ && !jobs_.contains(spec.id)) insert(fresh_job(spec, revision));
}

bool JobCache::insert(JobView job) {
  if (jobs_.size() >= max_jobs_) return false;
  std::string id = job.id;
  Entry& e = jobs_[id];
  e.job = std::move(job);
  note_ended(e);
  return true;
}

void JobCache::note_ended(Entry& e) {
  if (e.ended || !all_ended(e.job)) return;
  e.ended = true;
  ended_.push_back(e.job.id);
  evict();
}

void JobCache::evict() {
  while (ended_.size() > max_ended_) {
    jobs_.erase(ended_.front());
    ended_.pop_front();
  }
}

asio::awaitable<bool> JobCache::load() {
  std::vector<etcd::RangeRequest> want = {whole(keys_.jobs_prefix()),
                                          whole(keys_.all_runs_prefix())};
  auto got = co_await etcd_.ranges(std::move(want));
  if (!got) co_return false;
  jobs_.clear();
  ended_.clear();
  // Newest first, so that the bound keeps the recent ones; ended ones are then queued oldest
  // first for eviction.
  std::vector<const etcd::KeyValue*> order;
  for (const auto& kv : (*got)[0].kvs) order.push_back(&kv);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->create_revision > b->create_revision; });
  std::unordered_map<std::string, JobView> loaded;
  std::vector<std::string> ids;
  size_t ended = 0;
  for (const etcd::KeyValue* kv : order) {
    auto id = fleet::Keys::last_segment(keys_.jobs_prefix(), kv->key);
    auto spec = fleet::job_from_json(kv->value);
    if (!id || !spec || spec->id != *id) continue;  // not held: read from etcd (its error)
    loaded.emplace(*id, fresh_job(std::move(*spec), kv->create_revision));
    ids.push_back(*id);
  }
  for (const auto& kv : (*got)[1].kvs) {
    std::string rest = kv.key.substr(keys_.all_runs_prefix().size());
    auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    auto it = loaded.find(rest.substr(0, slash));
    if (it == loaded.end()) continue;
    if (RunView* run = run_of(it->second, std::string_view(rest).substr(slash + 1)))
      set_record(*run, kv.value);
  }
  std::vector<std::string> keep;
  for (const std::string& id : ids) {  // newest first
    const bool done = all_ended(loaded[id]);
    if (done && ended == max_ended_) continue;
    if (keep.size() == max_jobs_) break;
    ended += done;
    keep.push_back(id);
  }
  for (auto it = keep.rbegin(); it != keep.rend(); ++it) insert(std::move(loaded[*it]));
  revision_ = (*got)[0].header.revision;
  ++stats_.loads;
  co_return true;
}

void JobCache::apply_run(const std::string& id, const std::string& machine, const etcd::Event& e) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;  // not held: read from etcd when asked
  RunView* run = run_of(it->second.job, machine);
  if (!run) return;
  if (e.type == etcd::Event::Type::put)
    set_record(*run, e.kv.value);
  else
    set_record(*run, "");
  note_ended(it->second);
  wake(id);
}

void JobCache::wake(const std::string& id) {
  auto [from, to] = waiters_.equal_range(id);
  for (auto it = from; it != to; ++it) it->second->cancel();
}

void JobCache::wake_all() {
  for (auto& [id, timer] : waiters_) timer->cancel();
}

asio::awaitable<void> JobCache::wait_change(const std::string& id, Clock::time_point deadline) {
  asio::steady_timer t(etcd_.executor());
  t.expires_at(deadline);
  // Registered for exactly as long as the timer lives (also when the wait is cancelled by a
  // client that left, which may unwind this frame with an exception).
  struct Registered {
    std::multimap<std::string, asio::steady_timer*>& in;
    std::multimap<std::string, asio::steady_timer*>::iterator it;
    ~Registered() { in.erase(it); }
  } reg{waiters_, waiters_.emplace(id, &t)};
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: woken
}

void JobCache::apply(const etcd::Event& e) {
  const std::string& key = e.kv.key;
  if (auto id = fleet::Keys::last_segment(keys_.jobs_prefix(), key)) {
    if (e.type == etcd::Event::Type::del) {
      jobs_.erase(*id);  // its id may stay in ended_: erasing an absent id is harmless
      wake(*id);
      return;
    }
    if (jobs_.contains(*id)) return;  // a job's spec is written once
    auto spec = fleet::job_from_json(e.kv.value);
    if (spec && spec->id == *id) insert(fresh_job(std::move(*spec), e.kv.create_revision));
    return;
  }
  const std::string& runs = keys_.all_runs_prefix();
  if (key.size() <= runs.size() || key.compare(0, runs.size(), runs) != 0) return;  // machines/
  std::string rest = key.substr(runs.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos) return;
  apply_run(rest.substr(0, slash), rest.substr(slash + 1), e);
}

asio::awaitable<void> JobCache::run() {
  asio::steady_timer pause(etcd_.executor());
  auto backoff = std::chrono::milliseconds(100);
  while (!stopping_) {
    if (!co_await load()) {
      pause.expires_after(backoff);
      co_await pause.async_wait(asio::use_awaitable);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    loaded_ = true;
    streaming_ = true;
    last_update_ = Clock::now();
    etcd::WatchOptions o;
    o.key = keys_.jobs_prefix();
    // jobs/ .. runs/: one watch over both (machines/ lies between them, and is skipped).
    o.range_end = etcd::prefix_end(keys_.all_runs_prefix());
    o.start_revision = revision_ + 1;
    o.keep_going = [this] {
      streaming_ = false;  // the stream ended or broke: not current until it delivers again
      wake_all();          // long-polls go on reading etcd
      return !stopping_;
    };
    auto ended = co_await etcd::watch(etcd_, std::move(o), [this](const etcd::WatchUpdate& u) {
      for (const auto& e : u.events) apply(e);
      revision_ = u.revision;
      streaming_ = true;
      last_update_ = Clock::now();
      return !stopping_;
    });
    loaded_ = false;
    streaming_ = false;
    wake_all();
    if (stopping_) break;
    // Canceled by etcd: compacted past revision_ (or another reason): the changes in between
    // are gone, so the view is read again whole.
    ++stats_.resyncs;
    if (!ended)
      std::fprintf(stderr, "tend server: job cache: %s; reading the jobs again\n",
                   ended.error().message.c_str());
  }
}

}  // namespace tend::server
