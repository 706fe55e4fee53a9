#include "tend/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "require.hpp"

namespace tend {
namespace {

TEST(WriteAll, WritesMoreThanAPipeHoldsInOneCall) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  const std::string data(1 << 20, 'x');  // 16 pipe buffers: write(2) returns short many times
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(r.get(), buf, sizeof buf)) > 0;)
      got.append(buf, static_cast<size_t>(n));
  });
  auto written = write_all(w.get(), data);
  w.reset();
  reader.join();
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(got, data);
}

TEST(WriteAll, FailuresAreErrorsWithTheErrno) {
  auto bad = write_all(-1, "x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EBADF);
  UniqueFd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  TEND_REQUIRE(full.valid(), "/dev/full");
  auto nospace = write_all(full.get(), "x");
  ASSERT_FALSE(nospace);
  EXPECT_EQ(nospace.error().code, ENOSPC);
}

TEST(PwriteAll, WritesAtTheOffsetAndLeavesTheFileOffsetAlone) {
  char tmpl[] = "/tmp/tend-fd-test-XXXXXX";
  UniqueFd fd(::mkostemp(tmpl, O_CLOEXEC));
  ASSERT_TRUE(fd);
  ::unlink(tmpl);
  ASSERT_TRUE(write_all(fd.get(), "0123456789"));
  ASSERT_TRUE(pwrite_all(fd.get(), "ab", 3));
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 10);
  char buf[16] = {};
  ASSERT_EQ(::pread(fd.get(), buf, sizeof buf, 0), 10);
  EXPECT_STREQ(buf, "012ab56789");
}

}  // namespace
}  // namespace tend
