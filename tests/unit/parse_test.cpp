#include "tend/parse.hpp"
#include "tend/job.hpp"

#include <gtest/gtest.h>
#include <signal.h>

using namespace std::chrono_literals;
using tend::parse_duration;
using tend::parse_signal;

TEST(ParseDuration, AcceptsSecondsUnitsAndFractions) {
  EXPECT_EQ(*parse_duration("1.5"), 1500ms);
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("5m"), 5min);
  EXPECT_EQ(*parse_duration("2h"), 2h);
  EXPECT_EQ(*parse_duration("1d"), 24h);
  EXPECT_EQ(*parse_duration("0.25m"), 15s);
  EXPECT_EQ(*parse_duration("10"), 10s);
  EXPECT_EQ(*parse_duration("0.001"), 1ms);
}

TEST(ParseDuration, ZeroMeansNone) {
  auto d = parse_duration("0");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 0ms);
}

TEST(ParseDuration, RejectsNegativesJunkAndEmpty) {
  for (const char* bad : {"-1", "1x", "", "abc", "1.", ".5", "1..5", "ms", " 1", "1 s", "1e3",
                          "0x10", "1.5.5s", "+1"}) {
    auto d = parse_duration(bad);
    EXPECT_FALSE(d.ok()) << "accepted '" << bad << "'";
    if (!d.ok()) {
      EXPECT_NE(d.error().detail.find(std::string("'") + bad + "'"), std::string::npos)
          << d.error().detail;
    }
  }
  EXPECT_NE(parse_duration("-1").error().detail.find("negative"), std::string::npos);
  EXPECT_NE(parse_duration("abc").error().detail.find("examples: 1.5, 500ms"), std::string::npos);
}

TEST(ParseDuration, RejectsOverflowAndSubMillisecond) {
  auto big = parse_duration("99999999999h");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().detail.find("too large"), std::string::npos);
  EXPECT_FALSE(parse_duration("99999999999999999999999").ok());
  EXPECT_FALSE(parse_duration("0.0001").ok());
  EXPECT_TRUE(parse_duration("36500d").ok());
}

TEST(ParseSignal, NamesNumbersAndCase) {
  EXPECT_EQ(*parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("sigterm"), SIGTERM);
  EXPECT_EQ(*parse_signal("9"), SIGKILL);
  EXPECT_EQ(*parse_signal("HUP"), SIGHUP);
  EXPECT_EQ(*parse_signal("CLD"), SIGCHLD);
}

TEST(ParseSignal, RealTime) {
  EXPECT_EQ(*parse_signal("RTMIN"), SIGRTMIN);
  EXPECT_EQ(*parse_signal("RTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(*parse_signal("SIGRTMAX-2"), SIGRTMAX - 2);
  EXPECT_EQ(*parse_signal("rtmax"), SIGRTMAX);
  EXPECT_FALSE(parse_signal("RTMIN+99").ok());
  EXPECT_FALSE(parse_signal("RTMIN-1").ok());
  EXPECT_FALSE(parse_signal("RTMAX+1").ok());
  EXPECT_FALSE(parse_signal("RTMIN+").ok());
}

TEST(ParseSignal, Rejects) {
  for (const char* bad : {"0", "65", "FOO", "", "-9", "SIG", "9x"})
    EXPECT_FALSE(parse_signal(bad).ok()) << "accepted '" << bad << "'";
  EXPECT_NE(parse_signal("FOO").error().detail.find("'FOO'"), std::string::npos);
}

TEST(SignalName, NamedAndUnnamed) {
  EXPECT_EQ(tend::signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(tend::signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(tend::signal_name(SIGCHLD), "SIGCHLD");
  EXPECT_EQ(tend::signal_name(42), "SIG42");
  for (int sig = 1; sig < 32; ++sig) {
    if (sig == 32 || sig == 33) continue;
    auto back = parse_signal(tend::signal_name(sig));
    ASSERT_TRUE(back.ok()) << sig;
    EXPECT_EQ(*back, sig);
  }
}

TEST(FormatDuration, Readable) {
  EXPECT_EQ(tend::format_duration(1500ms), "1.5s");
  EXPECT_EQ(tend::format_duration(500ms), "500ms");
  EXPECT_EQ(tend::format_duration(2min), "2m");
  EXPECT_EQ(tend::format_duration(2h), "2h");
  EXPECT_EQ(tend::format_duration(0ms), "0s");
  EXPECT_EQ(tend::format_duration(90s), "90s");
  EXPECT_EQ(tend::format_duration(1001ms), "1.001s");
  for (auto d : {1500ms, 500ms, 120000ms, 7200000ms, 1001ms})
    EXPECT_EQ(*parse_duration(tend::format_duration(d)), d);
}

namespace tend {
namespace {

TEST(ParseOrphanPolicy, TheThreeNamesAndNothingElse) {
  for (OrphanPolicy p : {OrphanPolicy::kill, OrphanPolicy::wait, OrphanPolicy::leave}) {
    auto parsed = parse_orphan_policy(to_string(p));
    ASSERT_TRUE(parsed) << to_string(p);
    EXPECT_EQ(*parsed, p);
  }
  for (const char* bad : {"", "KILL", "maybe", "kill "}) {
    auto parsed = parse_orphan_policy(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().detail.find("expected kill, wait or leave"), std::string::npos);
  }
}

}  // namespace
}  // namespace tend

// GNU timeout's reading (coreutils tests/misc/timeout*.sh use each of these spellings).
TEST(ParseGnuDuration, ReadsFloatingPointWithOneSuffix) {
  using tend::parse_gnu_duration;
  EXPECT_EQ(*parse_gnu_duration(".1"), 100ms);
  EXPECT_EQ(*parse_gnu_duration("1e-1"), 100ms);
  EXPECT_EQ(*parse_gnu_duration("10.34"), 10340ms);
  EXPECT_EQ(*parse_gnu_duration("1d"), 24h);
  EXPECT_EQ(*parse_gnu_duration("1.5m"), 90s);
  EXPECT_EQ(*parse_gnu_duration("2h"), 2h);
  EXPECT_EQ(*parse_gnu_duration("3s"), 3s);
  EXPECT_EQ(*parse_gnu_duration("0x10"), 16s);
  // Rounded up, never down to "no limit".
  EXPECT_EQ(*parse_gnu_duration("9.999999999"), 10s);
  EXPECT_EQ(*parse_gnu_duration("1e-9"), 1ms);
}

TEST(ParseGnuDuration, ZeroAndValuesPastAnyClockMeanNoLimit) {
  using tend::parse_gnu_duration;
  for (const char* none : {"0", "0s", "-0", "inf", "infinity", "2.34e+5d", "4294967296",
                           "9223372036854775808d", "1.18973149535723176502e+4932"}) {
    auto d = parse_gnu_duration(none);
    ASSERT_TRUE(d.ok()) << none;
    EXPECT_EQ(*d, 0ms) << none;
  }
  EXPECT_EQ(*parse_gnu_duration("36499d"), 36499 * 24h);  // just under kMaxDuration
}

TEST(ParseGnuDuration, RejectsWhatGnuRejects) {
  using tend::parse_gnu_duration;
  for (const char* bad :
       {"", "invalid", "42D", "1ms", "1ss", "-1", "-inf", "nan", "s", "-1e4932"}) {
    auto d = parse_gnu_duration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.error().detail, std::string("invalid time interval '") + bad + "'");
  }
}

namespace tend {
namespace {

TEST(ParseCount, WholeNumbersFromOne) {
  EXPECT_EQ(*parse_count("1"), 1u);
  EXPECT_EQ(*parse_count("4915"), 4915u);
  for (const char* bad :
       {"", "0", "-5", "+5", "ten", "5 ", " 5", "1.5", "5k", "99999999999999999999"})
    EXPECT_FALSE(parse_count(bad)) << bad;
}

TEST(ParseCpus, PositiveFiniteNumbers) {
  EXPECT_DOUBLE_EQ(*parse_cpus("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_cpus("2"), 2.0);
  for (const char* bad : {"", "0", "-1", "fast", "nan", "inf", "1.5x", " 1", "0x1"})
    EXPECT_FALSE(parse_cpus(bad)) << bad;
  EXPECT_NE(parse_cpus("fast").error().detail.find("'fast'"), std::string::npos);
}

}  // namespace
}  // namespace tend
