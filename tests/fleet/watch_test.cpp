// Watches against a real cluster: events in order, resumption after the member serving the
// stream is killed or stopped (no event lost, none twice: checked by revision), compaction
// reported, progress notifications keep a quiet watch alive.
#include "etcd/watch.hpp"
#include "fleet_fixture.hpp"

namespace tend::test {
namespace {

using etcd::WatchOptions;
using etcd::WatchUpdate;

struct Seen {
  std::vector<int64_t> revisions;  // of every event delivered
  std::vector<std::string> keys;
  int progress = 0;
  std::optional<etcd::Result<int64_t>> ended;
};

// Starts a watch of prefix "w/" on `c` that records into `seen` until `stop` is set.
void start_watch(asio::io_context& ioc, etcd::Client& c, Seen& seen, const bool& stop,
                 int64_t from = 0) {
  WatchOptions o{.key = "w/", .range_end = etcd::prefix_end("w/"), .start_revision = from};
  asio::co_spawn(
      ioc,
      [&, o]() -> asio::awaitable<void> {
        seen.ended = co_await etcd::watch(c, o, [&](const WatchUpdate& u) {
          if (u.events.empty()) ++seen.progress;
          for (const auto& e : u.events) {
            seen.revisions.push_back(e.kv.mod_revision);
            seen.keys.push_back(e.kv.key);
          }
          return !stop;
        });
      },
      asio::detached);
}

// The first revision still to come: a watch started there delivers every write made from now on,
// whenever its stream is created. A watch from "now" (0) starts at its creation, which a fixed
// pause does not bound on a loaded machine: the writes made before it would be missed.
asio::awaitable<int64_t> next_revision(etcd::Client& c) {
  etcd::RangeRequest r{"w/"};
  auto got = co_await c.range(r);
  co_return got ? got->header.revision + 1 : 0;
}

// Every revision once, increasing, and exactly the writes' revisions.
void expect_exactly(const Seen& seen, const std::vector<int64_t>& written) {
  EXPECT_EQ(seen.revisions, written);
  for (size_t i = 1; i < seen.revisions.size(); ++i)
    EXPECT_LT(seen.revisions[i - 1], seen.revisions[i]) << "at " << i;
}

asio::awaitable<void> wait_until(const std::function<bool()>& cond, Millis limit) {
  auto t0 = Clock::now();
  while (!cond() && Clock::now() - t0 < limit) co_await sleep_for(20ms);
}

TEST_F(FleetTest, WatchSeesPutsAndDeletesInOrder) {
  auto c = client();
  Seen seen;
  bool stop = false;
  std::vector<int64_t> written;
  run([&]() -> asio::awaitable<void> {
    const int64_t from = co_await next_revision(*c);
    CO_ASSERT_TRUE(from > 0);
    start_watch(ioc, *c, seen, stop, from);
    co_await sleep_for(300ms);  // most often the stream is open by now; not relied on
    for (int i = 0; i < 20; ++i) {
      etcd::PutRequest q16_{"w/" + std::to_string(i), "v"};
      auto p = co_await c->put(q16_);
      CO_ASSERT_OK(p);
      written.push_back(p->header.revision);
    }
    etcd::DeleteRequest q17_{"w/3"};
    auto d = co_await c->delete_range(q17_);
    CO_ASSERT_OK(d);
    written.push_back(d->header.revision);
    etcd::PutRequest q18_{"x/outside", "v"};
    auto outside = co_await c->put(q18_);  // not in the range
    CO_ASSERT_OK(outside);
    co_await wait_until([&] { return seen.revisions.size() >= written.size(); }, 5s);
    stop = true;
    co_await wait_until([&] { return seen.ended.has_value(); }, 3s);  // at the next progress
    CO_ASSERT_TRUE(seen.ended.has_value());
    CO_ASSERT_OK(*seen.ended);
    EXPECT_GE(**seen.ended, written.back());
  });
  expect_exactly(seen, written);
  ASSERT_EQ(seen.keys.size(), 21u);
  EXPECT_EQ(seen.keys[0], "w/0");
  EXPECT_EQ(seen.keys[20], "w/3");
  EXPECT_EQ(c->counters().watch_streams, 1u);
}

TEST_F(FleetTest, QuietWatchGetsProgressNotificationsAndStaysOnOneStream) {
  auto c = client();
  Seen seen;
  bool stop = false;
  run([&]() -> asio::awaitable<void> {
    start_watch(ioc, *c, seen, stop);
    co_await sleep_for(4500ms);  // > the silence limit (3 intervals of 1 s)
    stop = true;
    co_await wait_until([&] { return seen.ended.has_value(); }, 3s);
  });
  EXPECT_GE(seen.progress, 3);
  EXPECT_EQ(c->counters().watch_streams, 1u);  // never taken for dead
}

// The watch's member is killed -9 midway through a stream of writes made through the others.
TEST_F(FleetTest, WatchResumesOnAnotherMemberWhenItsMemberIsKilled) {
  auto watcher = client(0);
  auto writer = client(1);
  Seen seen;
  bool stop = false;
  std::vector<int64_t> written;
  run([&]() -> asio::awaitable<void> {
    const int64_t from = co_await next_revision(*watcher);
    CO_ASSERT_TRUE(from > 0);
    start_watch(ioc, *watcher, seen, stop, from);
    co_await sleep_for(300ms);
    for (int i = 0; i < 40; ++i) {
      if (i == 20) cluster->kill(0);
      etcd::PutRequest q19_{"w/" + std::to_string(i), std::to_string(i)};
      auto p = co_await writer->put(q19_);
      CO_ASSERT_OK(p);
      written.push_back(p->header.revision);
      co_await sleep_for(10ms);
    }
    co_await wait_until([&] { return seen.revisions.size() >= written.size(); }, 10s);
    stop = true;
    co_await wait_until([&] { return seen.ended.has_value(); }, 3s);
  });
  expect_exactly(seen, written);
  EXPECT_GE(watcher->counters().watch_streams, 2u);
  EXPECT_NE(watcher->preferred(), 0u);
}

// A stopped member keeps the TCP connection open and says nothing: the silence is noticed
// (3 progress intervals) and the watch moves on without losing the writes made meanwhile.
TEST_F(FleetTest, WatchLeavesASilentStoppedMember) {
  auto watcher = client(0);
  auto writer = client(1);
  Seen seen;
  bool stop = false;
  std::vector<int64_t> written;
  Clock::duration caught_up{};
  run([&]() -> asio::awaitable<void> {
    const int64_t from = co_await next_revision(*watcher);
    CO_ASSERT_TRUE(from > 0);
    start_watch(ioc, *watcher, seen, stop, from);
    co_await sleep_for(300ms);
    cluster->stop(0);
    auto t0 = Clock::now();
    for (int i = 0; i < 10; ++i) {
      etcd::PutRequest q20_{"w/" + std::to_string(i), "v"};
      auto p = co_await writer->put(q20_);
      CO_ASSERT_OK(p);
      written.push_back(p->header.revision);
    }
    co_await wait_until([&] { return seen.revisions.size() >= written.size(); }, 15s);
    caught_up = Clock::now() - t0;
    stop = true;
    co_await wait_until([&] { return seen.ended.has_value(); }, 3s);
    cluster->resume(0);
  });
  expect_exactly(seen, written);
  EXPECT_LT(caught_up, 8s);  // 3 s of silence + reconnecting, with slack for a loaded machine
  EXPECT_GE(watcher->counters().watch_streams, 2u);
}

// The watch's member is stopped; meanwhile writes happen and the history is compacted past
// them. The reopened watch cannot resume: it reports the compaction (and its revision) so the
// caller re-reads.
TEST_F(FleetTest, CompactionWhileTheWatchIsDownIsReported) {
  auto watcher = client(0);
  auto writer = client(1);
  Seen seen;
  bool stop = false;
  int64_t compacted_at = 0;
  run([&]() -> asio::awaitable<void> {
    const int64_t from = co_await next_revision(*watcher);
    CO_ASSERT_TRUE(from > 0);
    start_watch(ioc, *watcher, seen, stop, from);
    co_await sleep_for(300ms);
    etcd::PutRequest q21_{"w/before", "v"};
    auto first = co_await writer->put(q21_);
    CO_ASSERT_OK(first);
    co_await wait_until([&] { return seen.revisions.size() == 1; }, 5s);
    cluster->stop(0);
    int64_t last = 0;
    for (int i = 0; i < 5; ++i) {
      etcd::PutRequest q22_{"w/" + std::to_string(i), "v"};
      auto p = co_await writer->put(q22_);
      CO_ASSERT_OK(p);
      last = p->header.revision;
    }
    auto r7_ = co_await writer->compact(last);
    CO_ASSERT_OK(r7_);
    compacted_at = last;
    co_await wait_until([&] { return seen.ended.has_value(); }, 15s);
    cluster->resume(0);
  });
  ASSERT_TRUE(seen.ended.has_value());
  ASSERT_FALSE(seen.ended->ok());
  EXPECT_EQ(seen.ended->error().kind, etcd::ErrorKind::compacted) << seen.ended->error().message;
  EXPECT_EQ(seen.ended->error().compact_revision, compacted_at);
  EXPECT_EQ(seen.revisions.size(), 1u);  // nothing after the gap was delivered as if complete
}

// Restarting a watch from a revision already compacted is refused the same way at once.
TEST_F(FleetTest, WatchFromACompactedRevisionReportsCompaction) {
  auto c = client();
  Seen seen;
  bool stop = false;
  run([&]() -> asio::awaitable<void> {
    etcd::PutRequest q23_{"w/a", "1"};
    auto a = co_await c->put(q23_);
    CO_ASSERT_OK(a);
    etcd::PutRequest q24_{"w/b", "2"};
    auto b = co_await c->put(q24_);
    CO_ASSERT_OK(b);
    auto r8_ = co_await c->compact(b->header.revision);
    CO_ASSERT_OK(r8_);
    etcd::RangeRequest q25_{.key = "w/a", .revision = a->header.revision};
    auto old = co_await c->range(q25_);
    CO_ASSERT_TRUE(!old);
    EXPECT_EQ(old.error().kind, etcd::ErrorKind::compacted) << old.error().message;
    start_watch(ioc, *c, seen, stop, a->header.revision);
    co_await wait_until([&] { return seen.ended.has_value(); }, 5s);
  });
  ASSERT_TRUE(seen.ended.has_value());
  ASSERT_FALSE(seen.ended->ok());
  EXPECT_EQ(seen.ended->error().kind, etcd::ErrorKind::compacted);
  EXPECT_GT(seen.ended->error().compact_revision, 0);
  EXPECT_TRUE(seen.revisions.empty());
}

}  // namespace
}  // namespace tend::test
