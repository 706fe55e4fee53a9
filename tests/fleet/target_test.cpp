#include <gtest/gtest.h>

#include "fleet/target.hpp"

using tend::fleet::Machine;
using tend::fleet::select_machines;
using json = nlohmann::json;

namespace {

const std::vector<Machine> kFleet = {
    {"a", {{"role", "web"}, {"dc", "x"}}, true},
    {"b", {{"role", "web"}, {"dc", "y"}}, true},
    {"c", {{"role", "db"}}, true},
    {"d", {{"role", "web"}}, false},  // unreachable
};

std::vector<std::string> ok(const json& t) {
  auto r = select_machines(t, kFleet);
  EXPECT_TRUE(r) << t.dump() << ": " << (r ? "" : r.error().detail);
  return r ? *r : std::vector<std::string>{};
}

std::string refused(const json& t) {
  auto r = select_machines(t, kFleet);
  EXPECT_FALSE(r) << t.dump();
  if (r) return "";
  EXPECT_EQ(r.error().stage, "target");
  return r.error().detail;
}

}  // namespace

TEST(FleetTarget, ByNameLabelsOrAll) {
  EXPECT_EQ(ok({{"machines", {"b", "a", "b"}}}), (std::vector<std::string>{"a", "b"}));
  // Named machines are taken even when unreachable: the run waits for its machine.
  EXPECT_EQ(ok({{"machines", {"d"}}}), (std::vector<std::string>{"d"}));
  EXPECT_EQ(ok({{"match", {{"role", "web"}}}}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ok({{"match", {{"role", "web"}, {"dc", "y"}}}}), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ok({{"all", true}}), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(FleetTarget, EveryBadTargetIsRefusedWithAReason) {
  EXPECT_NE(refused({{"machines", {"a", "zz"}}}).find("zz"), std::string::npos);
  EXPECT_NE(refused({{"match", {{"role", "cache"}}}}).find("no online machine"), std::string::npos);
  for (const json& t : {json("a"), json::array(), json::object(), json{{"machines", json::array()}},
                        json{{"machines", {1}}}, json{{"machines", {""}}},
                        json{{"match", json::object()}}, json{{"match", {{"role", 1}}}},
                        json{{"all", false}}, json{{"all", "yes"}}, json{{"every", true}},
                        json{{"all", true}, {"machines", {"a"}}}})
    EXPECT_FALSE(refused(t).empty()) << t.dump();
}
