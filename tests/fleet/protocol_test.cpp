// The fleet's protocol: the key layout of docs/fleet.md and every record's JSON both ways,
// including the errors a malformed stored value gives.
#include <gtest/gtest.h>

#include "fleet/protocol.hpp"

using namespace tend::fleet;

TEST(FleetProtocol, KeysFollowTheLayoutUnderThePrefix) {
  Keys k;
  EXPECT_EQ(k.prefix(), "/tend/");
  EXPECT_EQ(k.machine_key("a"), "/tend/machines/a");
  EXPECT_EQ(k.machines_prefix(), "/tend/machines/");
  EXPECT_EQ(k.seen_key("a"), "/tend/seen/a");
  EXPECT_EQ(k.seen_prefix(), "/tend/seen/");
  EXPECT_EQ(k.job_key("J1"), "/tend/jobs/J1");
  EXPECT_EQ(k.jobs_prefix(), "/tend/jobs/");
  EXPECT_EQ(k.assign_key("a", "J1"), "/tend/assign/a/J1");
  EXPECT_EQ(k.assign_prefix("a"), "/tend/assign/a/");
  EXPECT_EQ(k.claim_key("J1", "a"), "/tend/claims/J1/a");
  EXPECT_EQ(k.claims_prefix("J1"), "/tend/claims/J1/");
  EXPECT_EQ(k.run_key("J1", "a"), "/tend/runs/J1/a");
  EXPECT_EQ(k.runs_prefix("J1"), "/tend/runs/J1/");
  EXPECT_EQ(k.housekeeper_key(), "/tend/housekeeper");
  // A prefix without its trailing slash gets one: keys of two prefixes never mix.
  EXPECT_EQ(Keys("/t1").machine_key("a"), "/t1/machines/a");
  EXPECT_EQ(Keys("/t1/").assign_prefix("a"), "/t1/assign/a/");
}

TEST(FleetProtocol, LastSegmentOnlyDirectlyUnderThePrefix) {
  Keys k;
  EXPECT_EQ(Keys::last_segment(k.assign_prefix("a"), k.assign_key("a", "J1")), "J1");
  EXPECT_EQ(Keys::last_segment(k.machines_prefix(), k.machine_key("web-1")), "web-1");
  EXPECT_FALSE(Keys::last_segment(k.assign_prefix("a"), k.assign_prefix("a")));
  EXPECT_FALSE(Keys::last_segment(k.assign_prefix("a"), k.assign_key("ab", "J1")));
  EXPECT_FALSE(Keys::last_segment(k.assign_prefix("a"), "/tend/assign/a/J1/x"));
}

TEST(FleetProtocol, NamesAreSafePathSegments) {
  EXPECT_FALSE(check_segment("name", "web-1.example_2"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "é"}) {
    auto e = check_segment("name", bad);
    ASSERT_TRUE(e) << bad;
    EXPECT_EQ(e->kind, tend::ErrorKind::usage);
  }
  EXPECT_TRUE(check_segment("name", std::string(129, 'a')));
  EXPECT_FALSE(check_segment("name", std::string(128, 'a')));
}

TEST(FleetProtocol, RecordsRoundTrip) {
  MachineRecord m{"a", {{"role", "web"}}, "http://127.0.0.11:8080", "0.9", "inst-1"};
  auto m2 = machine_from_json(to_json(m).dump());
  ASSERT_TRUE(m2) << m2.error().message();
  EXPECT_EQ(m2->name, "a");
  EXPECT_EQ(m2->labels.at("role"), "web");
  EXPECT_EQ(m2->address, m.address);
  EXPECT_EQ(m2->instance, "inst-1");

  SeenRecord s{"a", {{"dc", "x"}}, "http://h:1", "0.9", "2026-11-30T08:00:00.000Z"};
  auto s2 = seen_from_json(to_json(s).dump());
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->last_seen, s.last_seen);
  EXPECT_EQ(s2->labels.at("dc"), "x");
  EXPECT_EQ(s2->ttl, 0);
  EXPECT_FALSE(s2->unreachable_since.has_value());
  s.ttl = 10;
  s.unreachable_since = "2026-11-30T09:00:00.000Z";
  s2 = seen_from_json(to_json(s).dump());
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->ttl, 10);
  EXPECT_EQ(s2->unreachable_since.value_or(""), "2026-11-30T09:00:00.000Z");
  EXPECT_FALSE(seen_from_json(R"({"name":"a","unreachable_since":5})")) << "a number is no time";

  JobSpec j{"J1", {{"command", {"true"}}}, {{"all", true}}, {"a", "b"}, "2026-11-30T08:00:00Z"};
  auto j2 = job_from_json(to_json(j).dump());
  ASSERT_TRUE(j2);
  EXPECT_EQ(j2->request, j.request);
  EXPECT_EQ(j2->target, j.target);
  EXPECT_EQ(j2->machines, j.machines);

  EXPECT_EQ(to_json(Assignment{}).dump(), "{}");
  EXPECT_EQ(to_json(Assignment{true}).dump(), R"({"cancel":true})");
  EXPECT_FALSE(assignment_from_json("{}")->cancel);
  EXPECT_TRUE(assignment_from_json(R"({"cancel":true})")->cancel);

  EXPECT_EQ(claim_from_json(to_json(Claim{"inst-1"}).dump())->instance, "inst-1");

  RunRecord r;
  r.state = "failed";
  r.exit_code = 3;
  r.error = "boom";
  r.started_at = "2026-11-30T08:00:00.000Z";
  r.output_bytes = 1ll << 40;
  r.leftovers_killed = 2;
  auto r2 = run_from_json(to_json(r).dump());
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(r2->state, "failed");
  EXPECT_EQ(r2->exit_code, 3);
  EXPECT_FALSE(r2->signal);
  EXPECT_EQ(r2->error, "boom");
  EXPECT_FALSE(r2->finished_at);
  EXPECT_EQ(r2->output_bytes, 1ll << 40);
  EXPECT_EQ(r2->leftovers_killed, 2);
}

TEST(FleetProtocol, InstanceNamesItsDataDirectory) {
  EXPECT_EQ(instance_data_id("d1a2:p9"), "d1a2");
  EXPECT_EQ(instance_data_id("nodata"), "");
}

TEST(FleetProtocol, FinalStates) {
  EXPECT_FALSE(is_final_run_state("queued"));
  EXPECT_FALSE(is_final_run_state("running"));
  EXPECT_TRUE(is_final_run_state("succeeded"));
  EXPECT_TRUE(is_final_run_state("lost"));
  EXPECT_FALSE(is_final_run_state(""));
}

TEST(FleetProtocol, MalformedValuesAreErrorsNamingTheField) {
  auto not_json = run_from_json("{");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().kind, tend::ErrorKind::bad_data);
  EXPECT_FALSE(run_from_json("[]"));
  auto missing = machine_from_json(R"({"name":"a"})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("\"instance\" is missing"), std::string::npos)
      << missing.error().detail;
  auto wrong = run_from_json(R"({"state":"failed","exit_code":"3"})");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().detail.find("exit_code"), std::string::npos);
  EXPECT_FALSE(machine_from_json(R"({"name":"a","instance":"i","labels":{"k":1}})"));
  EXPECT_FALSE(job_from_json(R"({"id":"J","request":{},"target":{},"machines":"a"})"));
  EXPECT_FALSE(assignment_from_json(R"({"cancel":"yes"})"));
  // Unknown fields are ignored: a newer writer may add some.
  EXPECT_TRUE(claim_from_json(R"({"instance":"i","since":"x"})"));
}
