// The flags both faces reach etcd with (etcd/connect_flags.hpp): each mistake is one line that
// names the flag, and nothing is made.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "etcd/connect_flags.hpp"

namespace tend::etcd {
namespace {

class ConnectFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tend-connect-flags-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir).c_str()); }
  std::string file(const std::string& name, const std::string& content) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << content;
    return path;
  }
  // The error message of `f` (fails the test when `f` is accepted).
  std::string refusal(const ConnectFlags& f) {
    auto r = connect_from_flags(f);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.error().kind, ErrorKind::invalid);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line";
    return r.error().message;
  }
  std::string dir;
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(ConnectFlagsTest, PlainEndpointsWithoutTlsOrUserAreAccepted) {
  auto r = connect_from_flags({.endpoints = "http://127.0.0.1:2379,127.0.0.1:22379"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->endpoints.size(), 2u);
  EXPECT_FALSE(r->options.tls);
  EXPECT_FALSE(r->options.credentials);
  EXPECT_EQ(r->describe, "plain HTTP, no user");
}

TEST_F(ConnectFlagsTest, HttpsWithTheSystemsCasAndAUserWithAPasswordFile) {
  std::string pw = file("pw", " two words \n");
  auto r = connect_from_flags(
      {.endpoints = "https://127.0.0.1:2379", .user = "fleet", .password_file = pw});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->options.tls);
  ASSERT_TRUE(r->options.credentials);
  EXPECT_EQ(r->options.credentials->user, "fleet");
  EXPECT_EQ(r->options.credentials->password, " two words ");  // only the line end dropped
  EXPECT_TRUE(has(r->describe, "TLS (CA of the system")) << r->describe;
  EXPECT_TRUE(has(r->describe, "user fleet")) << r->describe;
}

TEST_F(ConnectFlagsTest, MixedSchemesAreRefused) {
  EXPECT_TRUE(has(refusal({.endpoints = "https://127.0.0.1:1,http://127.0.0.1:2"}), "mixed"));
}

TEST_F(ConnectFlagsTest, TlsFilesNeedHttpsEndpoints) {
  std::string ca = file("ca.pem", "x");
  EXPECT_TRUE(has(refusal({.endpoints = "http://127.0.0.1:1", .cacert = ca}), "need https://"));
}

TEST_F(ConnectFlagsTest, AMissingOrUnreadableOrNonPemCaIsRefusedNamingTheFlag) {
  std::string m = refusal({.endpoints = "https://127.0.0.1:1", .cacert = dir + "/nope.pem"});
  EXPECT_TRUE(has(m, "--etcd-cacert")) << m;
  EXPECT_TRUE(has(m, "No such file")) << m;
  std::string junk = file("junk.pem", "not a certificate\n");
  m = refusal({.endpoints = "https://127.0.0.1:1", .cacert = junk});
  EXPECT_TRUE(has(m, "--etcd-cacert")) << m;
  std::string dir_as_ca = refusal({.endpoints = "https://127.0.0.1:1", .cacert = dir});
  EXPECT_TRUE(has(dir_as_ca, "--etcd-cacert")) << dir_as_ca;
}

TEST_F(ConnectFlagsTest, ACertificateWithoutAKeyAndAKeyWithoutACertificateAreRefused) {
  std::string cert = file("c.pem", "x"), key = file("k.pem", "x");
  EXPECT_TRUE(has(refusal({.endpoints = "https://127.0.0.1:1", .cert = cert}), "--etcd-key"));
  EXPECT_TRUE(has(refusal({.endpoints = "https://127.0.0.1:1", .key = key}), "--etcd-cert"));
  std::string m = refusal({.endpoints = "https://127.0.0.1:1", .cert = cert, .key = key});
  EXPECT_TRUE(has(m, "--etcd-cert")) << m;  // not PEM
}

TEST_F(ConnectFlagsTest, AUserNeedsAPasswordFileThatHoldsOne) {
  EXPECT_TRUE(has(refusal({.endpoints = "127.0.0.1:1", .user = "u"}), "--etcd-password-file"));
  EXPECT_TRUE(
      has(refusal({.endpoints = "127.0.0.1:1", .password_file = file("p", "x")}), "--etcd-user"));
  std::string m = refusal({.endpoints = "127.0.0.1:1", .user = "u", .password_file = dir + "/no"});
  EXPECT_TRUE(has(m, "--etcd-password-file")) << m;
  EXPECT_TRUE(has(m, "No such file")) << m;
  m = refusal({.endpoints = "127.0.0.1:1", .user = "u", .password_file = file("empty", "\n")});
  EXPECT_TRUE(has(m, "empty")) << m;
}

TEST_F(ConnectFlagsTest, AnyConnectFlagIsSeen) {
  EXPECT_FALSE(any_connect_flag({.endpoints = "x"}));
  EXPECT_TRUE(any_connect_flag({.cacert = "x"}));
  EXPECT_TRUE(any_connect_flag({.password_file = "x"}));
}

}  // namespace
}  // namespace tend::etcd
