// The job's environment and the user policy, as pure functions.
#include <gtest/gtest.h>

#include "server/user_policy.hpp"
#include "shim/job_env.hpp"

using namespace tend::agent;

TEST(JobEnvironment, CleanWithIdentityLocaleAndTheRequestWinning) {
  auto passed = passed_environment({"LANG=de_DE.UTF-8", "LC_TIME=C", "TZ=UTC", "TEND_TOKEN=s",
                                    "AWS_SECRET_ACCESS_KEY=k", "PATH=/opt/bin", "KEEP=1", "bad"},
                                   {"KEEP"});
  EXPECT_EQ(passed, (std::map<std::string, std::string>{
                        {"KEEP", "1"}, {"LANG", "de_DE.UTF-8"}, {"LC_TIME", "C"}, {"TZ", "UTC"}}));
  JobEnvInput in{passed,
                 JobIdentity{"/home/u", "u", "/bin/bash"},
                 "abc",
                 true,
                 {{"KEEP", "request"}, {"TEND_JOB_ID", "forged"}}};
  auto env = job_environment(in);
  EXPECT_EQ(env, (std::map<std::string, std::string>{{"HOME", "/home/u"},
                                                     {"KEEP", "request"},
                                                     {"LANG", "de_DE.UTF-8"},
                                                     {"LC_TIME", "C"},
                                                     {"LOGNAME", "u"},
                                                     {"PATH", kDefaultPath},
                                                     {"PYTHONUNBUFFERED", "1"},
                                                     {"SHELL", "/bin/bash"},
                                                     {"TEND_JOB_ID", "abc"},
                                                     {"TZ", "UTC"},
                                                     {"USER", "u"}}));
  // PATH passed on by name, or set by the request, replaces the default.
  EXPECT_EQ(job_environment({passed_environment({"PATH=/opt/bin"}, {"PATH"}), {}, "x", false, {}})
                .at("PATH"),
            "/opt/bin");
  EXPECT_EQ(job_environment({{}, {}, "x", false, {{"PATH", "/p"}}}).at("PATH"), "/p");
}

TEST(UserPolicy, DenyWinsAllowLimitsDefaultAllowsAll) {
  UserPolicy open;
  EXPECT_FALSE(open.refusal("root"));
  UserPolicy p{parse_user_list(" build, nobody ,"), parse_user_list("root")};
  EXPECT_EQ(*p.allow, (std::set<std::string>{"build", "nobody"}));
  EXPECT_TRUE(p.refusal("root"));
  EXPECT_TRUE(p.refusal("daemon"));
  EXPECT_FALSE(p.refusal("nobody"));
  UserPolicy both{parse_user_list("root"), parse_user_list("root")};
  EXPECT_NE(both.refusal("root")->find("--deny-users"), std::string::npos);
}
