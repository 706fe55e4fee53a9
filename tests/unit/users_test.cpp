#include "tend/users.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "require.hpp"
#include "temp_dir.hpp"

namespace tend {
namespace {

TEST(Users, FindsRootByNameAndByUid) {
  auto by_name = find_user("root");
  ASSERT_TRUE(by_name) << by_name.error().message();
  ASSERT_TRUE(*by_name);
  EXPECT_EQ((*by_name)->uid, 0u);
  EXPECT_EQ((*by_name)->gid, 0u);
  EXPECT_EQ((*by_name)->name, "root");
  EXPECT_FALSE((*by_name)->home.empty());

  auto by_uid = find_user(uid_t{0});
  ASSERT_TRUE(by_uid) << by_uid.error().message();
  ASSERT_TRUE(*by_uid);
  EXPECT_EQ((*by_uid)->name, "root");
}

TEST(Users, NoSuchUserIsNotAnError) {
  auto none = find_user("no-such-user-tend-xyz");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(*none);
  auto no_uid = find_user(uid_t{4'000'000'123u});
  ASSERT_TRUE(no_uid) << no_uid.error().message();
  EXPECT_FALSE(*no_uid);
}

TEST(Users, FindsGroups) {
  auto root = find_group("root");
  ASSERT_TRUE(root) << root.error().message();
  ASSERT_TRUE(*root);
  EXPECT_EQ((*root)->gid, 0u);
  auto none = find_group("no-such-group-tend-xyz");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(*none);
}

TEST(Users, SupplementaryGroupsStartWithThePrimaryOne) {
  auto root = find_user("root");
  ASSERT_TRUE(root && *root);
  auto groups = supplementary_groups(**root);
  ASSERT_FALSE(groups.empty());
  EXPECT_NE(std::find(groups.begin(), groups.end(), (*root)->gid), groups.end());
}

}  // namespace
}  // namespace tend

namespace tend {
namespace {

// Runs `check` in a child with `file` bind-mounted over `target` in a mount namespace of its own
// (the machine's files are untouched); the child's exit status is check's verdict.
template <class Check>
int with_file_over(const std::string& file, const char* target, Check check) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(90);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(91);
    if (::mount(file.c_str(), target, nullptr, MS_BIND, nullptr) != 0) ::_exit(92);
    ::_exit(check());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Entries far larger than the first 4 KiB buffer: the lookups must grow it (ERANGE), not fail.
TEST(Users, EntriesLargerThanTheFirstBufferAreFound) {
  TEND_REQUIRE(::geteuid() == 0, "root, to bind-mount a passwd and group file in a namespace");
  test::TempDir dir("tend-users-test");
  std::string members;
  for (int i = 0; i < 3000; ++i) members += (i ? ",member" : "member") + std::to_string(i);
  const std::string group = dir.write_file("group", "big:x:4242:" + members + "\n");
  const std::string passwd = dir.write_file(
      "passwd", "big:x:4343:4242:" + std::string(20000, 'g') + ":/home/big:/bin/sh\n");

  EXPECT_EQ(with_file_over(group, "/etc/group",
                           [] {
                             auto g = find_group("big");
                             if (!g) return 1;
                             return *g && (*g)->gid == 4242 ? 0 : 2;
                           }),
            0);
  EXPECT_EQ(with_file_over(passwd, "/etc/passwd",
                           [] {
                             auto u = find_user("big");
                             if (!u) return 1;
                             if (!*u || (*u)->uid != 4343 || (*u)->home != "/home/big") return 2;
                             auto by_uid = find_user(uid_t{4343});
                             return by_uid && *by_uid && (*by_uid)->name == "big" ? 0 : 3;
                           }),
            0);
}

}  // namespace
}  // namespace tend
