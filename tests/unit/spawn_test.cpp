// spawn() and Child: exit statuses, exec failures as values, stdio, environment, credentials,
// fd hygiene — at both spawn levels.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "spawn_internal.hpp"
#include "tend/child.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;

std::string read_all(UniqueFd& fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Runs `cmd` with stdout on a pipe; returns (stdout, status).
std::pair<std::string, ExitStatus> run_capture(Command cmd) {
  cmd.stdout_(Stdio::pipe());
  auto child = spawn(cmd);
  EXPECT_TRUE(child) << child.error().message();
  if (!child) return {};
  std::string out = read_all(child->stdout_pipe());
  auto st = child->wait();
  EXPECT_TRUE(st);
  return {out, *st};
}

class SpawnLevels : public ::testing::TestWithParam<SpawnLevel> {
 protected:
  void SetUp() override {
    saved_ = current_spawn_level();
    if (GetParam() == SpawnLevel::clone3)
      TEND_REQUIRE(saved_ == SpawnLevel::clone3, "clone3 (refused here by the kernel or seccomp)");
    detail::force_spawn_level(GetParam());
  }
  void TearDown() override { detail::force_spawn_level(saved_); }
  SpawnLevel saved_{};
};

TEST_P(SpawnLevels, ExitCodeAndSignal) {
  auto c = spawn(Command({"sh", "-c", "exit 3"}));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->spawn_level(), GetParam());
  auto st = c->wait();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->exited());
  EXPECT_EQ(st->value, 3);

  auto k = spawn(Command({"sh", "-c", "kill -TERM $$"}));
  ASSERT_TRUE(k);
  auto ks = k->wait();
  ASSERT_TRUE(ks);
  EXPECT_TRUE(ks->signaled());
  EXPECT_EQ(ks->value, SIGTERM);
  EXPECT_EQ(ks->shell_code(), 143);
}

TEST_P(SpawnLevels, NotFoundIsAValue) {
  auto c = spawn(Command({"tend-no-such-program-xyz"}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, "execve");
  EXPECT_EQ(c.error().kind, tend::ErrorKind::exec);
  EXPECT_EQ(c.error().code, ENOENT);
  EXPECT_EQ(c.error().path, "tend-no-such-program-xyz");

  auto p = spawn(Command({"/nonexistent/prog"}));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ENOENT);
}

TEST_P(SpawnLevels, NotExecutableIsEacces) {
  char path[] = "/tmp/tend-noexec-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::write(fd, "#!/bin/sh\nexit 0\n", 17);
  ::close(fd);
  ::chmod(path, 0644);
  auto c = spawn(Command({path}));
  ::unlink(path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, "execve");
  EXPECT_EQ(c.error().kind, tend::ErrorKind::exec);
  EXPECT_EQ(c.error().code, EACCES);
  EXPECT_NE(c.error().message().find("Permission denied"), std::string::npos);
}

TEST_P(SpawnLevels, DirectoryIsEisdir) {
  auto c = spawn(Command({"/tmp"}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, tend::ErrorKind::exec);
  EXPECT_EQ(c.error().code, EISDIR);
  EXPECT_EQ(c.error().path, "/tmp");
}

TEST_P(SpawnLevels, MissingCwdNamesTheStage) {
  auto c = spawn(Command({"true"}).cwd("/nonexistent-dir-for-tend"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, "chdir");
  EXPECT_EQ(c.error().kind, tend::ErrorKind::not_found) << "tend's failure (125), not 127";
  EXPECT_EQ(c.error().code, ENOENT);
  EXPECT_EQ(c.error().path, "/nonexistent-dir-for-tend");
}

TEST_P(SpawnLevels, StdinAndStdoutPipes) {
  Command cmd({"cat"});
  cmd.stdin_(Stdio::pipe()).stdout_(Stdio::pipe());
  auto c = spawn(cmd);
  ASSERT_TRUE(c);
  ASSERT_EQ(::write(c->stdin_pipe().get(), "hello\n", 6), 6);
  c->stdin_pipe().reset();
  EXPECT_EQ(read_all(c->stdout_pipe()), "hello\n");
  EXPECT_EQ(c->wait()->value, 0);
}

TEST_P(SpawnLevels, MergedStderrKeepsOrder) {
  auto [out, st] =
      run_capture(Command({"sh", "-c", "echo 1; echo 2 >&2; echo 3; echo 4 >&2"}).merge_stderr());
  EXPECT_EQ(out, "1\n2\n3\n4\n");
}

TEST_P(SpawnLevels, Environment) {
  ::setenv("TEND_PARENT_VAR", "parent", 1);
  auto [out, st] = run_capture(Command({"sh", "-c", "echo ${TEND_PARENT_VAR:-unset} $A $B"})
                                   .set_env("A", "a")
                                   .set_env("B", "b")
                                   .unset_env("B"));
  EXPECT_EQ(out, "parent a\n");
  auto [out2, st2] = run_capture(Command({"/bin/sh", "-c", "echo ${TEND_PARENT_VAR:-unset} $A"})
                                     .clear_env()
                                     .set_env("A", "x"));
  EXPECT_EQ(out2, "unset x\n");
}

TEST_P(SpawnLevels, UmaskAndRlimit) {
  auto [out, st] = run_capture(
      Command({"sh", "-c", "umask; ulimit -n"}).umask(027).rlimit({RLIMIT_NOFILE, 100, 100}));
  EXPECT_EQ(out, "0027\n100\n");
}

TEST_P(SpawnLevels, Credentials) {
  TEND_REQUIRE(::geteuid() == 0, "root, to switch users");
  Credentials cr;
  cr.uid = 65534;
  cr.gid = 65534;
  cr.groups = std::vector<gid_t>{};
  auto [out, st] = run_capture(Command({"id", "-u"}).credentials(cr));
  EXPECT_EQ(out, "65534\n");
}

TEST_P(SpawnLevels, NoParentFdLeaksIntoTheChild) {
  // An fd opened without O_CLOEXEC (as a careless library would) must not reach the job.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  auto [out, st] = run_capture(Command({"sh", "-c", "ls /proc/$$/fd"}));
  ::close(leaky);
  EXPECT_EQ(out, "0\n1\n2\n") << "the child saw fds beyond stdio";
}

TEST_P(SpawnLevels, NoFdLeaksInTheParentAfterManySpawns) {
  size_t before = test::open_fd_count();
  for (int i = 0; i < 500; ++i) {
    Command cmd({"/bin/true"});
    if (i % 2) cmd.stdout_(Stdio::pipe()).stdin_(Stdio::null());
    auto c = spawn(cmd);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->wait());
  }
  for (int i = 0; i < 200; ++i) ASSERT_FALSE(spawn(Command({"/nonexistent/x"})));
  EXPECT_EQ(test::open_fd_count(), before);
}

TEST_P(SpawnLevels, WaitUntilIsBounded) {
  auto c = spawn(Command({"sleep", "5"}));
  ASSERT_TRUE(c);
  auto t0 = std::chrono::steady_clock::now();
  auto st = c->wait_until(t0 + 200ms);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->has_value());
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  ASSERT_TRUE(c->signal(SIGKILL));
  auto done = c->wait();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->value, SIGKILL);
  // After the reap the pidfd refers to nothing: the signal cannot reach a recycled PID.
  auto again = c->signal(SIGTERM);
  EXPECT_FALSE(again);
}

INSTANTIATE_TEST_SUITE_P(Levels, SpawnLevels,
                         ::testing::Values(SpawnLevel::clone3, SpawnLevel::clone_pidfd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Spawn, TenThousandSpawnsLeakNoFd) {
  size_t before = test::open_fd_count();
  for (int i = 0; i < 10000; ++i) {
    auto c = spawn(Command({"/bin/true"}));
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->wait());
  }
  EXPECT_EQ(test::open_fd_count(), before);
}

}  // namespace
}  // namespace tend
