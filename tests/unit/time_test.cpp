#include "tend/time.hpp"

#include <gtest/gtest.h>

namespace tend {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339(milliseconds(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(milliseconds(1795259114123)), "2026-11-21T11:05:14.123Z");
  EXPECT_EQ(format_rfc3339(system_clock::time_point(milliseconds(1795259114123))),
            "2026-11-21T11:05:14.123Z");
}

TEST(Rfc3339, TimesBeforeTheEpochAreFlooredNotTruncated) {
  EXPECT_EQ(format_rfc3339(milliseconds(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(milliseconds(-1000)), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(format_rfc3339(milliseconds(-1001)), "1969-12-31T23:59:58.999Z");
  // Sub-millisecond parts of a time_point are floored too.
  EXPECT_EQ(format_rfc3339(system_clock::time_point(std::chrono::microseconds(-1))),
            "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339, RoundTripsAcrossTheEpoch) {
  for (long long ms : {-86'400'001LL, -1LL, 0LL, 1LL, 999LL, 1795259114123LL}) {
    auto t = system_clock::time_point(milliseconds(ms));
    auto back = parse_rfc3339(format_rfc3339(t));
    ASSERT_TRUE(back) << ms;
    EXPECT_EQ(*back, t) << format_rfc3339(t);
  }
}

TEST(Rfc3339, ParsesOffsetsAndLongFractions) {
  auto base = parse_rfc3339("2026-11-21T11:05:14.123Z");
  ASSERT_TRUE(base);
  EXPECT_EQ(parse_rfc3339("2026-11-21T13:05:14.123+02:00"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-21T11:05:14.123456789Z"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-21T11:05:14.1z"),
            system_clock::time_point(milliseconds(1795259114100)));
}

TEST(Rfc3339, RejectsWhatItDoesNotWrite) {
  for (const char* bad : {"", "2026-11-21", "2026-11-21T11:05:14", "2026-11-21T11:05:14.Z",
                          "2026-11-21T11:05:14.123Zjunk", "2026-11-21T11:05:14+0200", "yesterday"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

}  // namespace
}  // namespace tend
