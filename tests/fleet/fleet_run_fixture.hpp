// The fixture of the whole-fleet tests (fleet_run_test.cpp, fleet_faults_test.cpp): a real
// 3-member etcd, three real agents a, b (role=web) and c (role=db) on 127.0.0.11-13 with a 2 s
// TTL, and two `tend server`s (the first prefers member 0, the second member 1).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fleet_agents.hpp"
#include "fleet_fixture.hpp"
#include "server_harness.hpp"

namespace tend::test {

class FleetRunTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    view.emplace(cluster->endpoints());
    agents.emplace(cluster->endpoints());
    dir = agents->dir();
    const std::vector<std::tuple<const char*, const char*, const char*>> machines = {
        {"a", "127.0.0.11", "web"}, {"b", "127.0.0.12", "web"}, {"c", "127.0.0.13", "db"}};
    for (auto [name, ip, role] : machines) {
      int i = agents->add({name, ip, {{"role", role}}, {"--ttl", "2s"}});
      ASSERT_TRUE(agents->start(i)) << agents->why();
    }
    for (int i = 0; i < 2; ++i) {
      servers.push_back(
          std::make_unique<FleetServer>(cluster->endpoints_from(i), agents->token_file()));
      ASSERT_TRUE(servers.back()->start()) << servers.back()->error();
    }
    ASSERT_TRUE(eventually([&] { return online() == 3; }, 20s)) << "agents did not join";
  }
  void TearDown() override {
    servers.clear();
    agents.reset();
    FleetTest::TearDown();
  }

  int online() const {
    json m = servers[0]->get("/v1/machines");
    int n = 0;
    for (const auto& x : m.value("machines", json::array())) n += x["state"] == "online";
    return n;
  }
  std::string submit(FleetServer& s, const json& body) const {
    auto r = s.submit(body);
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? json::parse(r->body).value("id", "") : "";
  }
  // The job once its state is final (or as it is after `limit`).
  json finished(FleetServer& s, const std::string& id, std::chrono::milliseconds limit = 30s) {
    return wait_job_final(s, id, limit);
  }

  std::string dir;
  std::optional<EtcdView> view;
  std::optional<FleetAgents> agents;
  std::vector<std::unique_ptr<FleetServer>> servers;
};

}  // namespace tend::test
