#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tend/loop.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;

TEST(Loop, TimersFireInDeadlineOrderAndCancelWorks) {
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  std::vector<int> order;
  loop->add_timer(30ms, [&] { order.push_back(3); });
  loop->add_timer(10ms, [&] { order.push_back(1); });
  auto id = loop->add_timer(20ms, [&] { order.push_back(2); });
  loop->cancel_timer(id);
  loop->add_timer(20ms, [&] { order.push_back(22); });
  ASSERT_TRUE(loop->run_until([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 22, 3}));
}

TEST(Loop, CallbackMayUnwatchAnotherReadyFd) {
  auto loop = Loop::create();
  int a[2], b[2];
  ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
  int calls = 0;
  ASSERT_TRUE(loop->watch(a[0], EPOLLIN, [&](uint32_t) {
    ++calls;
    loop->unwatch(b[0]);
    loop->unwatch(a[0]);
  }));
  ASSERT_TRUE(loop->watch(b[0], EPOLLIN, [&](uint32_t) {
    ++calls;
    loop->unwatch(b[0]);
    loop->unwatch(a[0]);
  }));
  ASSERT_EQ(::write(a[1], "x", 1), 1);
  ASSERT_EQ(::write(b[1], "x", 1), 1);
  ASSERT_TRUE(loop->run_once(std::chrono::steady_clock::now() + 1s));
  EXPECT_EQ(calls, 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST(Loop, RunOnceHonoursItsDeadline) {
  auto loop = Loop::create();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop->run_once(t0 + 50ms));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 1s);
}

}  // namespace
}  // namespace tend
