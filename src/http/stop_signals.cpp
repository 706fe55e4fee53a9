#include "http/stop_signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

namespace tend::http {

namespace asio = boost::asio;

asio::awaitable<void> stop_on_signal(asio::posix::stream_descriptor& sig, Server& server,
                                     std::string note, std::function<void()> stopping,
                                     std::function<void()> stopped) {
  for (;;) {
    auto [ec] = co_await sig.async_wait(asio::posix::stream_descriptor::wait_read,
                                        asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    struct signalfd_siginfo si {};
    if (::read(sig.native_handle(), &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
    if (si.ssi_signo == SIGPIPE) continue;
    std::fputs(note.c_str(), stderr);
    if (stopping) stopping();
    // `stopped` moves into the callback: this coroutine's frame is gone when it runs.
    server.stop([&sig, stopped = std::move(stopped)] {
      if (stopped) stopped();
      boost::system::error_code ignored;
      sig.close(ignored);
    });
    co_return;
  }
}

}  // namespace tend::http
