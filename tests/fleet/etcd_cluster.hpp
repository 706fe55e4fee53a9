// A real 3-member etcd cluster on loopback for the fleet's tests: data in /dev/shm, heartbeat
// 100 ms, election 1000 ms, progress notifications every second, free ports picked per cluster
// (so test processes running at once never share one). Members can be killed (SIGKILL), stopped
// (SIGSTOP: the partitioned-member stand-in), continued and restarted on their data. The
// destructor kills every member it started and removes the data: no process is left behind
// (members also get SIGKILL if the thread that started them dies).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "etcd/client.hpp"
#include "tend/child.hpp"

namespace tend::test {

// A cluster whose clients speak TLS (client URLs https://, peers plain): etcd's --cert-file,
// --key-file, --trusted-ca-file and --client-cert-auth.
struct EtcdTls {
  std::string ca, server_cert, server_key;
  std::string client_cert, client_key;  // what the cluster's own checks present
};

struct EtcdClusterOptions {
  std::optional<EtcdTls> tls;
  std::vector<std::string> extra_flags;  // more etcd flags, e.g. {"--auth-token-ttl", "2"}
};

class EtcdCluster {
 public:
  using Millis = std::chrono::milliseconds;
  static constexpr Millis kProgressInterval{1000};  // --experimental-watch-progress-notify-interval

  // The etcd binary ($TEND_ETCD, else /usr/bin/etcd), or "" when there is none.
  static std::string binary();
  // The skip convention: "" when etcd can run here; else why not (the test skips loudly, or
  // fails under CI=true).
  static std::string missing();

  // Starts `members` members and waits (≤ 30 s) until every one answers and sees a leader.
  // ok() says whether that worked; error() why not.
  explicit EtcdCluster(int members = 3, EtcdClusterOptions opts = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  int size() const { return static_cast<int>(members_.size()); }
  // How a client reaches this cluster (its TLS context when it has TLS; no etcd user).
  const etcd::ClientOptions& client_options() const { return client_options_; }
  // "http://127.0.0.1:P" (https with TLS) of member i, and all of them comma-separated (member 0
  // first).
  std::string endpoint(int i) const;
  std::string endpoints() const;
  // The same list starting at member `first` (a client's preferred endpoint is its first).
  std::string endpoints_from(int first) const;

  void kill(int i);  // SIGKILL, reaped
  // SIGSTOP, returning once every thread is stopped: connections are accepted by the kernel,
  // nothing answers.
  void stop(int i);
  void resume(int i);   // SIGCONT
  void restart(int i);  // starts a killed member again on its data
  bool running(int i) const;
  // Waits until member i answers and sees a leader. False after `limit`.
  bool wait_healthy(int i, Millis limit = Millis(20000)) const;
  // The index of the member that is the leader (as the members see it), nullopt if none agree.
  std::optional<int> leader() const;
  // Processes this cluster has alive now (for "nothing left behind" checks).
  int alive() const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data;
    Child child;
    bool up = false;
  };
  bool start(int i);

  EtcdClusterOptions opts_;
  etcd::ClientOptions client_options_;
  std::string dir_;
  std::string initial_cluster_;
  std::vector<Member> members_;
  std::string error_;
};

}  // namespace tend::test
