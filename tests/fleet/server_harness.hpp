// A real `tend server` for the fleet tests: started on a free loopback port against a test's
// etcd cluster, with a token file; its address read from DATA/address. Synchronous helpers
// around it: an authenticated HTTP client (cpp-httplib), and reads of the etcd keys behind it
// (to count what a request wrote). Everything started is killed by the destructor.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "etcd/client.hpp"
#include "http/client.hpp"
#include "proc_walk.hpp"
#include "tend/child.hpp"
#include "tend/command.hpp"

namespace tend::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Client sockets of the tests may meet a server that closed first: an EPIPE, not a death.
inline const bool kServerTestSigpipeIgnored = (::signal(SIGPIPE, SIG_IGN), true);

inline std::string temp_dir(const char* what) {
  std::string tmpl = std::string("/tmp/tend-") + what + "-XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return d ? std::string(d) : "";
}

// A fleet token file in `dir` (the servers and agents of a test share it).
inline std::string write_token(const std::string& dir, const std::string& token) {
  std::string path = dir + "/token";
  std::ofstream(path) << token << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

class FleetServer {
 public:
  FleetServer(std::string etcd_endpoints, std::string token_file, std::string prefix = "/tend/")
      : etcd_(std::move(etcd_endpoints)),
        token_file_(std::move(token_file)),
        prefix_(std::move(prefix)),
        data_(temp_dir("server")) {}
  ~FleetServer() {
    kill(SIGKILL);
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(data_);
  }

  // Starts it and waits until it answers /healthz (≤ `limit`). False, with why in error().
  bool start(std::chrono::milliseconds limit = 20s, std::vector<std::string> extra = {}) {
    ::unlink((data_ + "/address").c_str());
    Command cmd({TEND_BINARY, "server", "--etcd", etcd_, "--listen", "127.0.0.1:0", "--data", data_,
                 "--token-file", token_file_, "--etcd-prefix", prefix_});
    for (auto& a : extra) cmd.arg(a);
    cmd.stdin_(Stdio::null())
        .stdout_(Stdio::file(data_ + "/server.log", true))
        .stderr_(Stdio::file(data_ + "/server.log", true))
        .parent_death_signal(SIGKILL);
    auto child = spawn(cmd);
    if (!child) {
      error_ = child.error().message();
      return false;
    }
    child_ = std::move(*child);
    token_ = read_text(token_file_);
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == ' ')) token_.pop_back();
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto done = child_.try_wait();
      if (done && *done) {
        error_ = "tend server exited: " + read_text(data_ + "/server.log");
        return false;
      }
      std::string addr = read_text(data_ + "/address");
      if (!addr.empty() && addr.back() == '\n') {
        addr_ = addr.substr(0, addr.size() - 1);
        auto r = client().Get("/healthz");
        if (r && r->status == 200) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    error_ = "tend server did not come up: " + read_text(data_ + "/server.log");
    return false;
  }
  void kill(int sig) {
    if (!child_.valid() || child_.status()) return;
    (void)child_.signal(sig);
    (void)child_.wait();
  }
  // Sends `sig` and returns (SIGSTOP, SIGCONT: the process does not end).
  void signal(int sig) {
    if (child_.valid() && !child_.status()) (void)child_.signal(sig);
  }

  httplib::Client client(bool with_token = true) const {
    httplib::Client c("http://" + addr_);
    if (with_token) c.set_bearer_token_auth(token_);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(60, 0);
    return c;
  }
  httplib::Result submit(const json& body) const {
    return client().Post("/v1/jobs", body.dump(), "application/json");
  }
  // The JSON body of GET `path` (200 expected).
  json get(const std::string& path) const {
    auto r = client().Get(path);
    EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  }
  // A counter of GET /metrics ("tend_etcd_writes_total"), -1 if absent.
  long long metric(const std::string& name) const {
    auto r = client().Get("/metrics");
    if (!r) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
    return -1;
  }

  const std::string& addr() const { return addr_; }
  const std::string& token() const { return token_; }
  const std::string& error() const { return error_; }
  const std::string& data() const { return data_; }
  std::string log() const { return read_text(data_ + "/server.log"); }

 private:
  std::string etcd_, token_file_, prefix_, data_;
  std::string addr_, token_, error_;
  Child child_;
};

// Synchronous etcd access for the tests' own checks (a private io_context per call).
class EtcdView {
 public:
  explicit EtcdView(std::string endpoints, etcd::ClientOptions opts = {})
      : endpoints_(std::move(endpoints)), opts_(std::move(opts)) {}

  template <class T, class Fn>
  T with_client(Fn fn) const {
    return http::run_blocking<T>([&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<T> {
      auto urls = etcd::parse_endpoints(endpoints_);
      etcd::Client c(ex, *urls, opts_);
      co_return co_await fn(c);
    });
  }
  // Keys under `prefix` now (-1 if etcd did not answer).
  long long count(const std::string& prefix) const {
    return with_client<long long>([&](etcd::Client& c) -> boost::asio::awaitable<long long> {
      etcd::RangeRequest r;
      r.key = prefix;
      r.range_end = etcd::prefix_end(prefix);
      r.count_only = true;
      auto got = co_await c.range(r);
      co_return got ? got->count : -1;
    });
  }
  // The value of `key` ("" if absent or etcd did not answer).
  std::string value(const std::string& key) const {
    return with_client<std::string>([&](etcd::Client& c) -> boost::asio::awaitable<std::string> {
      etcd::RangeRequest r;
      r.key = key;
      auto got = co_await c.range(r);
      co_return got && !got->kvs.empty() ? got->kvs.front().value : std::string();
    });
  }
  bool put(const std::string& key, const std::string& value, int64_t lease = 0) const {
    return with_client<bool>([&](etcd::Client& c) -> boost::asio::awaitable<bool> {
      etcd::PutRequest p{key, value, lease, false};
      auto r = co_await c.put(p);
      co_return r.ok();
    });
  }
  bool erase(const std::string& key) const {
    return with_client<bool>([&](etcd::Client& c) -> boost::asio::awaitable<bool> {
      etcd::DeleteRequest d{key, "", false};
      auto r = co_await c.delete_range(d);
      co_return r.ok();
    });
  }
  int64_t grant(int64_t ttl) const {
    return with_client<int64_t>([&](etcd::Client& c) -> boost::asio::awaitable<int64_t> {
      auto r = co_await c.lease_grant(ttl);
      co_return r ? r->id : 0;
    });
  }
  bool revoke(int64_t lease) const {
    return with_client<bool>([&](etcd::Client& c) -> boost::asio::awaitable<bool> {
      auto r = co_await c.lease_revoke(lease);
      co_return r.ok();
    });
  }
  // One raw POST (etcd's gateway path and JSON body): whether etcd answered 200.
  bool post(const char* path, const json& body) const {
    return with_client<bool>([&](etcd::Client& c) -> boost::asio::awaitable<bool> {
      auto r = co_await c.call(path, body, 5s);
      if (!r) ADD_FAILURE() << path << ": " << r.error().message;
      co_return r.ok();
    });
  }

 private:
  std::string endpoints_;
  etcd::ClientOptions opts_;
};

// Polls `pred` every 100 ms until it holds or `limit` has passed; its last answer.
template <class Pred>
inline bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

// The job once its state through `server` is final (or as it is after `limit`).
inline json wait_job_final(FleetServer& server, const std::string& id,
                           std::chrono::milliseconds limit) {
  json job;
  eventually(
      [&] {
        job = server.get("/v1/jobs/" + id);
        std::string st = job.value("state", "");
        return !st.empty() && st != "queued" && st != "running";
      },
      limit);
  return job;
}

}  // namespace tend::test
