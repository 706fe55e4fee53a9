#include "tend/users.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

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
