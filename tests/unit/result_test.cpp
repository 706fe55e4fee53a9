#include "tend/result.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using tend::EndReason;
using tend::ExitStatus;
using tend::Result;

namespace {

ExitStatus exited(int n) {
  return {ExitStatus::Kind::exited, n, false};
}
ExitStatus signaled(int n) {
  return {ExitStatus::Kind::signaled, n, false};
}

Result with(EndReason why, std::optional<ExitStatus> st) {
  Result r;
  r.reason = why;
  r.status = st;
  return r;
}

}  // namespace

TEST(ExitCode, ExitedAndSignaled) {
  EXPECT_EQ(with(EndReason::exited, exited(0)).exit_code(), 0);
  EXPECT_EQ(with(EndReason::exited, exited(3)).exit_code(), 3);
  EXPECT_EQ(with(EndReason::exited, signaled(SIGSEGV)).exit_code(), 139);
}

TEST(ExitCode, TimedOut) {
  Result r = with(EndReason::timed_out, signaled(SIGTERM));
  r.stop_signal = SIGTERM;
  EXPECT_EQ(r.exit_code(), 124);
  EXPECT_EQ(r.exit_code(true), 143);
  r.killed = true;
  r.status = signaled(SIGKILL);
  EXPECT_EQ(r.exit_code(), 137);
  EXPECT_EQ(r.exit_code(true), 137);
  Result clean = with(EndReason::timed_out, exited(0));  // the job exited 0 on SIGTERM
  EXPECT_EQ(clean.exit_code(), 124);
  EXPECT_EQ(clean.exit_code(true), 0);
}

TEST(ExitCode, Cancelled) {
  Result r = with(EndReason::cancelled, exited(0));
  r.stop_signal = SIGINT;
  EXPECT_EQ(r.exit_code(), 130);
  r.stop_signal = SIGTERM;
  EXPECT_EQ(r.exit_code(), 143);
  r.killed = true;
  EXPECT_EQ(r.exit_code(), 137);
}

TEST(ExitCode, SpawnFailures) {
  Result r = with(EndReason::spawn_failed, std::nullopt);
  const auto exec = tend::ErrorKind::exec;
  r.error = tend::Error{"execve", ENOENT, "./nope", {}, exec};
  EXPECT_EQ(r.exit_code(), 127);
  r.error = tend::Error{"execve", ENOTDIR, "./a/b", {}, exec};
  EXPECT_EQ(r.exit_code(), 127);
  r.error = tend::Error{"execve", EACCES, "./job.sh", {}, exec};
  EXPECT_EQ(r.exit_code(), 126);
  r.error = tend::Error{"execve", ENOEXEC, "./job.sh", {}, exec};
  EXPECT_EQ(r.exit_code(), 126);
  r.error = tend::Error{"execve", EISDIR, ".", {}, exec};
  EXPECT_EQ(r.exit_code(), 126);
  // The kind decides, not the stage's text: only the command's own exec is 126/127.
  r.error = tend::Error::of_errno(ENOENT, "chdir", "/x");
  EXPECT_EQ(r.exit_code(), 125);
  r.error = tend::Error::of_errno(ENOENT, "execve helper", "/x");
  EXPECT_EQ(r.exit_code(), 125);
  r.error.reset();
  EXPECT_EQ(r.exit_code(), 125);
}

TEST(ErrorMessage, Forms) {
  EXPECT_EQ((tend::Error{"execve", EACCES, "./job.sh", {}}).message(),
            "execve ./job.sh: Permission denied");
  EXPECT_EQ((tend::Error{"mkdir cgroup", ENOENT, "/x", {}}).message(),
            "mkdir cgroup /x: No such file or directory");
  EXPECT_EQ(tend::Error::with_detail("duration", "'x': junk").message(), "duration: 'x': junk");
  EXPECT_EQ((tend::Error{"clone3", ENOSYS, {}, {}}).message(), "clone3: Function not implemented");
}

TEST(ResultJson, FieldsAndRoundTrip) {
  Result r = with(EndReason::timed_out, signaled(SIGKILL));
  r.stop_signal = SIGTERM;
  r.killed = true;
  r.started_at = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.finished_at = r.started_at + 2500ms;
  r.elapsed = 2'500'123us;
  r.cpu_user = 1234us;
  r.stdout_bytes = 10;
  r.stderr_bytes = 5;
  r.output_dropped_bytes = 1;
  r.leftovers_killed = 2;
  r.pid = 4242;
  r.scope_level = tend::ScopeLevel::session;
  r.spawn_level = tend::SpawnLevel::clone_pidfd;

  nlohmann::json j = tend::to_json(r);
  EXPECT_EQ(j["reason"], "timed_out");
  EXPECT_EQ(j["exit_code"], 137);
  EXPECT_EQ(j["status"]["kind"], "signaled");
  EXPECT_EQ(j["status"]["value"], SIGKILL);
  EXPECT_EQ(j["status"]["signal_name"], "SIGKILL");
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_TRUE(j["cpu_system_us"].is_null());
  EXPECT_TRUE(j["peak_memory_bytes"].is_null());
  EXPECT_EQ(j["started_at"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["finished_at"], "2023-11-14T22:13:22.623Z");
  EXPECT_EQ(j["elapsed_us"], 2500123);
  EXPECT_EQ(j["leftovers_killed"], 2);

  auto back = tend::result_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(tend::to_json(*back), j);
  EXPECT_EQ(back->started_at, r.started_at);
  EXPECT_EQ(back->elapsed, r.elapsed);
  EXPECT_EQ(back->cpu_user, r.cpu_user);
  EXPECT_FALSE(back->cpu_system.has_value());
  EXPECT_EQ(back->scope_level, tend::ScopeLevel::session);
}

TEST(ResultJson, SpawnErrorRoundTrip) {
  Result r = with(EndReason::spawn_failed, std::nullopt);
  r.error = tend::Error{"execve", EACCES, "./job.sh", {}, tend::ErrorKind::exec};
  nlohmann::json j = tend::to_json(r);
  EXPECT_EQ(j["error"]["kind"], "exec");
  EXPECT_TRUE(j["status"].is_null());
  EXPECT_EQ(j["error"]["stage"], "execve");
  EXPECT_EQ(j["error"]["errno"], EACCES);
  EXPECT_EQ(j["error"]["path"], "./job.sh");
  EXPECT_EQ(j["error"]["message"], "execve ./job.sh: Permission denied");
  EXPECT_EQ(j["exit_code"], 126);
  auto back = tend::result_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_TRUE(back->error.has_value());
  EXPECT_EQ(back->error->message(), "execve ./job.sh: Permission denied");
  EXPECT_EQ(back->exit_code(), 126);
}

TEST(ResultJson, RejectsGarbage) {
  EXPECT_FALSE(tend::result_from_json(nlohmann::json::array()).ok());
  nlohmann::json j = tend::to_json(Result{});
  j["reason"] = "exploded";
  auto r = tend::result_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("exploded"), std::string::npos);
  j = tend::to_json(Result{});
  j["started_at"] = "yesterday";
  EXPECT_FALSE(tend::result_from_json(j).ok());
  j = tend::to_json(Result{});
  j.erase("elapsed_us");
  EXPECT_FALSE(tend::result_from_json(j).ok());
  j = tend::to_json(Result{});
  j["elapsed_us"] = "long";
  EXPECT_FALSE(tend::result_from_json(j).ok());
}

TEST(ResultJson, RecordsWithoutAnErrorKindStillMapTo126And127) {
  // Results stored before errors had a kind (the agent's job directories) read back the same.
  Result r = with(EndReason::spawn_failed, std::nullopt);
  r.error = tend::Error{"execve", ENOENT, "nope", {}, tend::ErrorKind::exec};
  nlohmann::json j = tend::to_json(r);
  j["error"].erase("kind");
  auto back = tend::result_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->error->kind, tend::ErrorKind::exec);
  EXPECT_EQ(back->exit_code(), 127);
  j["error"]["stage"] = "open";
  back = tend::result_from_json(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->error->kind, tend::ErrorKind::not_found);
  EXPECT_EQ(back->exit_code(), 125);
}

TEST(ErrorKind, FromErrnoReadsErrnoAndSetsTheKind) {
  errno = EACCES;
  tend::Error e = tend::Error::from_errno("open", std::string(1000, 'x'));  // allocates after
  EXPECT_EQ(e.code, EACCES);
  EXPECT_EQ(e.kind, tend::ErrorKind::permission);
  EXPECT_EQ(tend::Error::of_errno(ENOSYS, "clone3").kind, tend::ErrorKind::unsupported);
  EXPECT_EQ(tend::Error::of_errno(ENOSPC, "write").kind, tend::ErrorKind::io);
  EXPECT_EQ(tend::Error::usage("bad").kind, tend::ErrorKind::usage);
  EXPECT_EQ(tend::errno_text(ENOENT), "No such file or directory");
}
