#include "etcd_cluster.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include "etcd/client.hpp"
#include "tend/command.hpp"
#include "tend/fd.hpp"

namespace tend::test {

namespace {

using Clock = std::chrono::steady_clock;

// The lowest port the kernel hands out by itself (bind to port 0, or connect): ports below it
// are taken only by whoever asks for them by number.
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  return in >> low ? low : 32768;
}

// `n` distinct free loopback ports for etcd, all bound at once (so none repeats), then released.
// Drawn at random below the ephemeral range: between the release and etcd's bind (and while a
// killed member is down before its restart on the same ports) no listener on port 0 and no
// outgoing connection of a parallel test can take one, and parallel clusters rarely draw alike.
std::vector<int> free_ports(int n) {
  constexpr int kLowest = 10000;
  const int high = std::min(ephemeral_low(), 65536);
  if (high - kLowest < 1000) return {};
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(kLowest, high - 1);
  std::vector<UniqueFd> held;
  std::vector<int> ports;
  for (int tries = 0; static_cast<int>(ports.size()) < n && tries < 1000; ++tries) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return {};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(pick(rng)));
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) continue;  // in use
    ports.push_back(ntohs(a.sin_port));
    held.push_back(std::move(fd));
  }
  return static_cast<int>(ports.size()) == n ? ports : std::vector<int>{};
}

// Runs one etcd call on a private io_context against one member.
template <class T, class Fn>
etcd::Result<T> blocking(const std::string& endpoint, etcd::ClientOptions opts, Fn fn) {
  auto urls = etcd::parse_endpoints(endpoint);
  if (!urls) return urls.error();
  boost::asio::io_context ioc;
  opts.call_timeout = opts.attempt_timeout = etcd::Millis(1000);
  etcd::Client c(ioc.get_executor(), *urls, opts);
  std::optional<etcd::Result<T>> out;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<void> { out = co_await fn(c); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  return std::move(*out);
}

}  // namespace

std::string EtcdCluster::binary() {
  const char* env = ::getenv("TEND_ETCD");
  std::string path = env && *env ? env : "/usr/bin/etcd";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

std::string EtcdCluster::missing() {
  if (binary().empty())
    return "etcd is not installed (Debian: apt-get install etcd-server; or set TEND_ETCD)";
  return "";
}

EtcdCluster::EtcdCluster(int members, EtcdClusterOptions opts) : opts_(std::move(opts)) {
  if (auto why = missing(); !why.empty()) {
    error_ = why;
    return;
  }
  if (opts_.tls) {
    auto ctx =
        http::make_client_tls({opts_.tls->ca, opts_.tls->client_cert, opts_.tls->client_key});
    if (!ctx) {
      error_ = "the cluster's TLS client context: " + ctx.error().message();
      return;
    }
    client_options_.tls = *ctx;
  }
  char tmpl[] = "/dev/shm/tend-etcd-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    error_ = "mkdtemp in /dev/shm failed";
    return;
  }
  dir_ = tmpl;
  auto ports = free_ports(2 * members);
  if (ports.size() != static_cast<size_t>(2 * members)) {
    error_ = "no free loopback ports";
    return;
  }
  members_.resize(members);
  for (int i = 0; i < members; ++i) {
    auto& m = members_[i];
    m.name = "m" + std::to_string(i);
    m.client_port = ports[2 * i];
    m.peer_port = ports[2 * i + 1];
    m.data = dir_ + "/" + m.name;
    initial_cluster_ +=
        (i ? "," : "") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
  }
  for (int i = 0; i < members; ++i)
    if (!start(i)) return;
  for (int i = 0; i < members; ++i)
    if (!wait_healthy(i, Millis(30000))) {
      error_ = "etcd member " + std::to_string(i) + " did not become healthy in 30 s (logs in " +
               dir_ + ")";
      return;
    }
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) kill(i);
  if (!dir_.empty() && ok()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool EtcdCluster::start(int i) {
  auto& m = members_[i];
  std::string client = endpoint(i);
  std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  Command cmd({binary(),
               "--name",
               m.name,
               "--data-dir",
               m.data,
               "--listen-client-urls",
               client,
               "--advertise-client-urls",
               client,
               "--listen-peer-urls",
               peer,
               "--initial-advertise-peer-urls",
               peer,
               "--initial-cluster",
               initial_cluster_,
               "--initial-cluster-state",
               "new",
               "--initial-cluster-token",
               dir_,
               "--heartbeat-interval",
               "100",
               "--election-timeout",
               "1000",
               "--experimental-watch-progress-notify-interval",
               std::to_string(kProgressInterval.count()) + "ms",
               "--logger",
               "zap",
               "--log-outputs",
               "stderr"});
  if (opts_.tls)
    cmd.arg("--cert-file")
        .arg(opts_.tls->server_cert)
        .arg("--key-file")
        .arg(opts_.tls->server_key)
        .arg("--trusted-ca-file")
        .arg(opts_.tls->ca)
        .arg("--client-cert-auth");
  for (const auto& f : opts_.extra_flags) cmd.arg(f);
  cmd.stdin_(Stdio::null())
      .stdout_(Stdio::file(dir_ + "/" + m.name + ".log", true))
      .stderr_(Stdio::file(dir_ + "/" + m.name + ".log", true))
      .parent_death_signal(SIGKILL);
  auto child = spawn(cmd);
  if (!child) {
    error_ = "cannot start etcd: " + child.error().message();
    return false;
  }
  m.child = std::move(*child);
  m.up = true;
  return true;
}

std::string EtcdCluster::endpoint(int i) const {
  return (opts_.tls ? "https://127.0.0.1:" : "http://127.0.0.1:") +
         std::to_string(members_.at(i).client_port);
}

std::string EtcdCluster::endpoints() const {
  return endpoints_from(0);
}

std::string EtcdCluster::endpoints_from(int first) const {
  std::string out;
  for (int k = 0; k < size(); ++k) out += (k ? "," : "") + endpoint((first + k) % size());
  return out;
}

void EtcdCluster::kill(int i) {
  auto& m = members_.at(i);
  if (!m.up) return;
  (void)m.child.signal(SIGKILL);  // a stopped process dies of SIGKILL too
  (void)m.child.wait();
  m.up = false;
}

// kill() returns before a busy process has stopped: wait (≤ 2 s) until every thread shows 'T',
// or a test's "written while it was stopped" may still reach it on a loaded machine.
void EtcdCluster::stop(int i) {
  auto& child = members_.at(i).child;
  (void)child.signal(SIGSTOP);
  std::string tasks = "/proc/" + std::to_string(child.pid()) + "/task";
  auto all_stopped = [&] {
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream f(t.path() / "stat");
      std::string line;
      std::getline(f, line);
      auto close = line.rfind(')');
      if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T')
        return false;
    }
    return !ec;
  };
  for (int k = 0; k < 200 && !all_stopped(); ++k) std::this_thread::sleep_for(Millis(10));
}
void EtcdCluster::resume(int i) {
  (void)members_.at(i).child.signal(SIGCONT);
}

void EtcdCluster::restart(int i) {
  kill(i);
  start(i);
}

bool EtcdCluster::running(int i) const {
  return members_.at(i).up;
}

int EtcdCluster::alive() const {
  int n = 0;
  for (const auto& m : members_) n += m.up && ::kill(m.child.pid(), 0) == 0;
  return n;
}

bool EtcdCluster::wait_healthy(int i, Millis limit) const {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    auto s = blocking<etcd::Status>(endpoint(i), client_options_,
                                    [](etcd::Client& c) { return c.status_of(0); });
    if (s && s->leader != 0 && s->errors.empty()) return true;
    std::this_thread::sleep_for(Millis(100));
  }
  return false;
}

std::optional<int> EtcdCluster::leader() const {
  std::map<uint64_t, int> index_of;
  std::optional<uint64_t> leader;
  for (int i = 0; i < size(); ++i) {
    if (!members_[i].up) continue;
    auto s = blocking<etcd::Status>(endpoint(i), client_options_,
                                    [](etcd::Client& c) { return c.status_of(0); });
    if (!s) continue;
    index_of[s->header.member_id] = i;
    if (s->leader == 0 || (leader && *leader != s->leader)) return std::nullopt;
    leader = s->leader;
  }
  if (!leader || !index_of.count(*leader)) return std::nullopt;
  return index_of[*leader];
}

}  // namespace tend::test
