// http::stop_on_signal, the agent's and the server's way to stop: SIGPIPE is passed over, the
// first other signal runs the hooks in order and stops the server, and the coroutine ends.
#include "http/stop_signals.hpp"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tend/reaper.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool pending(int signo) {
  sigset_t set;
  sigemptyset(&set);
  return ::sigpending(&set) == 0 && sigismember(&set, signo) == 1;
}

// Blocks nothing for longer than the test: make_signalfd blocks its signals in this thread.
class SignalMaskRestored {
 public:
  SignalMaskRestored() { ::pthread_sigmask(SIG_SETMASK, nullptr, &saved_); }
  ~SignalMaskRestored() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

 private:
  sigset_t saved_;
};

TEST(HttpStopOnSignal, PassesOverSigpipeThenStopsOnTheFirstOtherSignal) {
  SignalMaskRestored restore;
  auto fd = tend::make_signalfd({SIGUSR1, SIGPIPE});
  ASSERT_TRUE(fd) << fd.error().message();

  asio::io_context ioc(1);
  tend::http::Server server(ioc, tend::http::Router{}, tend::http::ServerLimits{});
  auto bound = server.listen({asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound) << bound.error().message();
  server.start();
  asio::posix::stream_descriptor sig(ioc, fd->release());
  // Ends a run that would otherwise hang; cancelled once the server has stopped.
  asio::steady_timer guard(ioc, 60s);
  bool timed_out = false;
  guard.async_wait([&](boost::system::error_code ec) {
    if (ec) return;
    timed_out = true;
    ioc.stop();
  });
  std::vector<std::string> events;
  asio::co_spawn(ioc,
                 tend::http::stop_on_signal(
                     sig, server, "stop_signals_test: stopping\n",
                     [&] { events.push_back(server.stopping() ? "stopping late" : "stopping"); },
                     [&] {
                       events.push_back("stopped");
                       guard.cancel();
                     }),
                 asio::detached);

  ASSERT_EQ(::raise(SIGPIPE), 0);
  ASSERT_TRUE(pending(SIGPIPE));
  const auto deadline = Clock::now() + 30s;
  while (pending(SIGPIPE) && Clock::now() < deadline) ioc.run_one_for(100ms);
  EXPECT_FALSE(pending(SIGPIPE)) << "SIGPIPE was not read";
  EXPECT_TRUE(events.empty()) << "SIGPIPE must not stop the service";
  EXPECT_FALSE(server.stopping());

  ASSERT_EQ(::raise(SIGUSR1), 0);
  ioc.run();  // returns once nothing is left: the server stopped and the signalfd closed
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(events, (std::vector<std::string>{"stopping", "stopped"}));
  EXPECT_TRUE(server.stopping());
  EXPECT_FALSE(sig.is_open());
  EXPECT_FALSE(pending(SIGUSR1));
}

}  // namespace
