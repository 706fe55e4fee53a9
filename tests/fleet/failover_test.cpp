// The command line outlives the server it talks to (issue 9: "kill -9 of one loses nothing — a
// client can use another at once"): `tend submit --wait` and `tend logs -f` with
// --addr S1,S2 go on with S2 when S1 is killed mid-wait, the job submitted once and run once per
// machine (a ledger file counts the runs), every byte of the output printed once; with every
// server dead they end within --reconnect-for with a clear error. A real 3-member etcd, three
// agents and two servers (FleetRunTest).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fleet_run_fixture.hpp"
#include "http/heartbeat.hpp"

namespace tend::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// `tend ARGS…` running in the background, its stdout and stderr in files of their own.
class Cli {
 public:
  Cli(const std::string& dir, const std::string& name, const std::string& token,
      const std::vector<std::string>& args)
      : out_(dir + "/" + name + ".out"), err_(dir + "/" + name + ".err") {
    Command cmd({TEND_BINARY});
    for (const auto& a : args) cmd.arg(a);
    cmd.set_env("TEND_TOKEN", token)
        .stdin_(Stdio::null())
        .stdout_(Stdio::file(out_))
        .stderr_(Stdio::file(err_))
        .parent_death_signal(SIGKILL);
    auto child = spawn(cmd);
    EXPECT_TRUE(child) << child.error().message();
    if (child) child_ = std::move(*child);
  }
  ~Cli() {
    if (child_.valid() && !child_.status()) {
      (void)child_.signal(SIGKILL);
      (void)child_.wait();
    }
  }
  // Its exit status once it has ended within `limit` (-1: still running then, and killed).
  int wait(std::chrono::milliseconds limit) {
    if (!child_.valid()) return -1;
    auto st = child_.wait_until(std::chrono::steady_clock::now() + limit);
    if (st && *st) return (*st)->shell_code();
    return -1;
  }
  bool running() {
    auto st = child_.valid() ? child_.try_wait()
                             : Expected<std::optional<ExitStatus>>(std::optional<ExitStatus>{});
    return st && !*st;
  }
  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }

 private:
  std::string out_, err_;
  Child child_;
};

class FailoverTest : public FleetRunTest {
 protected:
  std::string both() const { return servers[0]->addr() + "," + servers[1]->addr(); }
  // The lines of the ledger the jobs of a test append "ID MACHINE" to, counted.
  std::map<std::string, int> ledger_count() const {
    std::map<std::string, int> n;
    for (const auto& line : lines_of(read_text(dir + "/ledger"))) ++n[line];
    return n;
  }
  // The id `tend submit` printed, once its job's `runs` runs have started (each appended its
  // ledger line); "" if not within 60 s.
  std::string started(Cli& submit, size_t runs) const {
    std::string id;
    bool ok = eventually(
        [&] {
          auto l = lines_of(submit.out());
          if (!l.empty()) id = l[0];
          return !id.empty() && ledger_count().size() == runs;
        },
        60s);
    return ok ? id : "";
  }
  std::string ledger_cmd(const std::string& rest) const {
    return "echo \"$TEND_JOB_ID $TEND_MACHINE\" >> " + dir + "/ledger; " + rest;
  }
};

TEST_F(FailoverTest, SubmitWaitGoesOnWithTheNextServerWhenItsServerIsKilled) {
  // Two runs of a few seconds with different ends: a succeeds, b exits 3.
  Cli cli(dir, "submit", servers[0]->token(),
          {"submit", "--addr", both(), "--on", "a,b", "--wait", "--", "sh", "-c",
           ledger_cmd("sleep 6; test $TEND_MACHINE = a || exit 3")});
  const std::string id = started(cli, 2);
  ASSERT_FALSE(id.empty()) << "the runs did not start: " << cli.out() << cli.err();
  // Both runs are running and the client waits on the first server: kill it.
  ASSERT_TRUE(cli.running()) << cli.out() << cli.err();
  servers[0]->kill(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  int rc = cli.wait(120s);
  const std::string out = cli.out(), err = cli.err();
  EXPECT_EQ(rc, 1) << out << err;  // b failed: the job's true status
  // The id once, then one line per machine, each with its true end.
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out << err;
  EXPECT_EQ(lines[0], id);
  std::sort(lines.begin() + 1, lines.end());
  EXPECT_EQ(lines[1].substr(0, 2), "a ") << out;
  EXPECT_NE(lines[1].find("succeeded"), std::string::npos) << out;
  EXPECT_NE(lines[1].find("exit 0"), std::string::npos) << out;
  EXPECT_EQ(lines[2].substr(0, 2), "b ") << out;
  EXPECT_NE(lines[2].find("failed"), std::string::npos) << out;
  EXPECT_NE(lines[2].find("exit 3"), std::string::npos) << out;
  // It said where it went, and it ended only when the job had.
  EXPECT_NE(err.find("going on with " + servers[1]->addr()), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 100s);
  std::printf("[ figures ] submit --wait ended %.1f s after the kill; stderr: %s",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count(),
              err.c_str());
  json job = servers[1]->get("/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  // Submitted once, run once on each machine: one job in etcd, one ledger line per machine.
  auto runs = ledger_count();
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[id + " a"], 1);
  EXPECT_EQ(runs[id + " b"], 1);
  json all = servers[1]->get("/v1/jobs?limit=500");
  EXPECT_EQ(all["jobs"].size(), 1u) << all.dump();
}

TEST_F(FailoverTest, LogsFollowGoesOnFromTheNextByteWhenItsServerIsKilled) {
  // 60 numbered lines over 6 s or more, each long enough that a cut falls inside one at times.
  std::string expected;
  for (int i = 1; i <= 60; ++i)
    expected += "line " + std::to_string(i) + " " + std::string(200, 'x') + "\n";
  std::string id = submit(
      *servers[1],
      {{"command",
        {"sh", "-c",
         ledger_cmd("i=1; while [ $i -le 60 ]; do printf 'line %d %s\\n' $i $(printf '%200s' | "
                    "tr ' ' x); sleep 0.1; i=$((i+1)); done")}},
       {"target", {{"machines", {"a"}}}}});
  ASSERT_FALSE(id.empty());
  Cli cli(dir, "logs", servers[0]->token(), {"logs", "-f", id, "--machine", "a", "--addr", both()});
  // Some of the output has come through the first server, not all: kill it.
  ASSERT_TRUE(eventually([&] { return lines_of(cli.out()).size() >= 5; }, 60s))
      << cli.out() << cli.err();
  ASSERT_TRUE(cli.running()) << cli.err();
  const size_t before = cli.out().size();
  servers[0]->kill(SIGKILL);
  EXPECT_LT(before, expected.size()) << "the job ended before the server was killed";
  int rc = cli.wait(120s);
  const std::string out = cli.out(), err = cli.err();
  EXPECT_EQ(rc, 0) << err;
  // Every byte once: what it printed is the run's output, whole, in order.
  EXPECT_EQ(out.size(), expected.size()) << err;
  EXPECT_TRUE(out == expected) << "printed:\n" << out << "\nstderr:\n" << err;
  EXPECT_NE(err.find("going on with " + servers[1]->addr()), std::string::npos) << err;
  std::printf("[ figures ] logs -f: %zu of %zu bytes printed before the kill; stderr: %s", before,
              expected.size(), err.c_str());
  json job = wait_job_final(*servers[1], id, 60s);
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["runs"][0]["output_bytes"], expected.size());
  auto whole = servers[1]->client().Get("/v1/jobs/" + id + "/runs/a/output");
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->body == out);
  EXPECT_EQ(ledger_count()[id + " a"], 1);
}

TEST_F(FailoverTest, WithEveryServerDeadTheCommandsEndInBoundedTimeWithAClearError) {
  // A wrong list: nothing answers, nothing is submitted, at once (no --reconnect-for wait).
  auto t0 = std::chrono::steady_clock::now();
  Cli none(dir, "none", servers[0]->token(),
           {"submit", "--addr", "127.0.0.1:1,127.0.0.1:2", "--on", "a", "--wait", "--", "true"});
  EXPECT_EQ(none.wait(60s), 125);
  EXPECT_NE(none.err().find("nothing was submitted"), std::string::npos) << none.err();
  Cli bad(dir, "bad", servers[0]->token(),
          {"logs", "--reconnect-for", "soon", "--addr", both(), "x"});
  EXPECT_EQ(bad.wait(60s), 125);
  EXPECT_NE(bad.err().find("--reconnect-for"), std::string::npos) << bad.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);

  Cli submit(dir, "submit", servers[0]->token(),
             {"submit", "--addr", both(), "--reconnect-for", "3s", "--on", "a", "--wait", "--",
              "sh", "-c", ledger_cmd("echo hello; sleep 60")});
  const std::string id = started(submit, 1);
  ASSERT_FALSE(id.empty()) << submit.out() << submit.err();
  Cli logs(dir, "logs", servers[0]->token(),
           {"logs", "-f", id, "--addr", both(), "--reconnect-for", "3s"});
  ASSERT_TRUE(eventually([&] { return logs.out() == "hello\n"; }, 60s)) << logs.err();
  ASSERT_TRUE(submit.running() && logs.running());
  servers[0]->kill(SIGKILL);
  servers[1]->kill(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  EXPECT_EQ(submit.wait(60s), 125) << submit.err();
  EXPECT_EQ(logs.wait(60s), 125) << logs.err();
  // 3 s, plus a probe round and pauses; far less than the job's 60 s.
  const auto ended = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(ended, 40s);
  std::printf("[ figures ] both ended %.1f s after every server was killed; stderr:\n%s%s",
              std::chrono::duration<double>(ended).count(), submit.err().c_str(),
              logs.err().c_str());
  for (auto* c : {&submit, &logs})
    EXPECT_NE(c->err().find("no server answered for 3s (" + servers[0]->addr() + ", " +
                            servers[1]->addr() + ")"),
              std::string::npos)
        << c->err();
  EXPECT_NE(submit.err().find("while waiting for " + id), std::string::npos) << submit.err();
  EXPECT_NE(logs.err().find("--offset 6"), std::string::npos) << logs.err();
  EXPECT_EQ(logs.out(), "hello\n");

  // Nothing was lost: a server started again shows the job running; cancelled, it ends.
  ASSERT_TRUE(servers[1]->start()) << servers[1]->error();
  json job = servers[1]->get("/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "running") << job.dump();
  auto c = servers[1]->client().Post("/v1/jobs/" + id + "/cancel");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 202) << c->body;
  EXPECT_EQ(wait_job_final(*servers[1], id, 30s)["state"], "cancelled");
  EXPECT_EQ(ledger_count()[id + " a"], 1);
}

// A plain HTTP client's GET in a thread of its own, and what it got (read once join()ed).
struct RawRead {
  RawRead(const FleetServer& s, std::string path)
      : thread([this, &s, path] {
          auto c = s.client();
          c.set_read_timeout(120, 0);
          auto last = std::chrono::steady_clock::now();
          auto r = c.Get(path, [&](const char* d, size_t n) {
            auto now = std::chrono::steady_clock::now();
            longest_silence = std::max(longest_silence, now - last);
            last = now;
            body.append(d, n);
            got += n;
            return true;
          });
          answered = static_cast<bool>(r);
          status = r ? r->status : 0;
          if (!r) error = httplib::to_string(r.error());
        }) {}
  ~RawRead() { join(); }
  void join() {
    if (thread.joinable()) thread.join();
  }

  bool answered = false;  // a whole response (its framing complete)
  int status = 0;
  std::string error;  // httplib's, when not answered
  std::string body;
  std::atomic<size_t> got{0};  // body's size, to watch while it runs
  // The longest wait for a piece of the body (the first included).
  std::chrono::steady_clock::duration longest_silence{};
  std::thread thread;  // last: starts once the fields above exist
};

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// The agent killed -9 while a server relays its run's output: the server's answer is cut short
// (no last chunk), never ended as if the output were complete. A plain HTTP follower sees a
// broken response; `tend logs -f` says where the output was cut off and exits 125 (the machine
// becomes unreachable: every server would say so), and resuming with the --offset it gives,
// once the agent is back, yields the rest: no byte twice, none lost.
TEST_F(FailoverTest, AnAgentKilledMidRelayCutsTheOutputShortNeverEndsItCleanly) {
  std::string expected;
  for (int i = 1; i <= 80; ++i)
    expected += "line " + std::to_string(i) + " " + std::string(200, 'x') + "\n";
  std::string id = submit(
      *servers[1],
      {{"command",
        {"sh", "-c",
         ledger_cmd("i=1; while [ $i -le 80 ]; do printf 'line %d %s\\n' $i $(printf '%200s' | "
                    "tr ' ' x); sleep 0.1; i=$((i+1)); done")}},
       {"target", {{"machines", {"a"}}}}});
  ASSERT_FALSE(id.empty());
  RawRead raw(*servers[0], "/v1/jobs/" + id + "/runs/a/output?follow=1");
  Cli cli(dir, "logs", servers[0]->token(),
          {"logs", "-f", id, "--machine", "a", "--addr", servers[0]->addr()});
  // Both read through the relay (the plain follower too, so it gets no 502 after the kill).
  ASSERT_TRUE(eventually([&] { return lines_of(cli.out()).size() >= 5 && raw.got >= 1000; }, 60s))
      << cli.out() << cli.err();
  agents->kill(0);  // agent a: its job's shim goes on, the output stays on the machine
  const size_t before = cli.out().size();
  raw.join();
  EXPECT_LT(before, expected.size()) << "the job ended before its agent was killed";
  // The plain follower: a broken response, never a complete one with part of the output.
  EXPECT_FALSE(raw.answered) << "status " << raw.status << ", " << raw.body.size() << " of "
                             << expected.size() << " bytes, as if complete";
  EXPECT_LT(raw.body.size(), expected.size());
  EXPECT_EQ(expected.compare(0, raw.body.size(), raw.body), 0);

  const int rc = cli.wait(120s);
  const std::string out = cli.out(), err = cli.err();
  EXPECT_EQ(rc, 125) << err;
  EXPECT_LT(out.size(), expected.size());
  EXPECT_EQ(expected.compare(0, out.size(), out), 0) << "printed:\n" << out;
  EXPECT_NE(err.find("cut off"), std::string::npos) << err;
  EXPECT_NE(err.find("--offset " + std::to_string(out.size())), std::string::npos) << err;
  std::printf(
      "[ figures ] relay cut: plain follower %zu bytes (%s), logs -f %zu of %zu bytes, "
      "rc %d; stderr: %s",
      raw.body.size(), raw.error.c_str(), out.size(), expected.size(), rc, err.c_str());

  // The agent back (it re-attaches the job's shim): the rest from the offset given.
  ASSERT_TRUE(agents->start(0)) << agents->why();
  json job = wait_job_final(*servers[1], id, 120s);
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  Cli rest(dir, "rest", servers[0]->token(),
           {"logs", id, "--machine", "a", "--addr", servers[1]->addr(), "--offset",
            std::to_string(out.size())});
  EXPECT_EQ(rest.wait(60s), 0) << rest.err();
  EXPECT_TRUE(out + rest.out() == expected) << "resumed:\n" << rest.out();
  EXPECT_EQ(ledger_count()[id + " a"], 1);
}

// A server frozen (SIGSTOP) under an idle follow is noticed: the event stream carries a
// heartbeat after every http::kHeartbeat of silence, so `logs -f` takes a silence of
// http::kHeartbeatLost for a server gone and goes on with the next one from the next byte. A
// healthy idle stream is never that silent, and no heartbeat shows in the output.
TEST_F(FailoverTest, LogsFollowOfAnIdleJobLeavesAFrozenServer) {
  std::string id =
      submit(*servers[1], {{"command", {"sh", "-c", "echo start; sleep 30; echo done"}},
                           {"target", {{"machines", {"a"}}}}});
  ASSERT_FALSE(id.empty());
  Cli cli(dir, "logs", servers[0]->token(), {"logs", "-f", id, "--machine", "a", "--addr", both()});
  ASSERT_TRUE(eventually([&] { return cli.out() == "start\n"; }, 60s)) << cli.out() << cli.err();
  // The raw event stream from the other server meanwhile: the heartbeats as sent.
  RawRead events(*servers[1], "/v1/jobs/" + id + "/runs/a/output?sse=1");
  servers[0]->signal(SIGSTOP);
  struct Thaw {
    FleetServer& s;
    ~Thaw() { s.signal(SIGCONT); }
  } thaw{*servers[0]};
  const auto frozen = std::chrono::steady_clock::now();

  const int rc = cli.wait(180s);
  const auto ended = std::chrono::steady_clock::now() - frozen;
  events.join();
  const std::string out = cli.out(), err = cli.err();
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(out, "start\ndone\n") << err;
  EXPECT_NE(err.find("going on with " + servers[1]->addr()), std::string::npos) << err;
  // The job's 30 s, the silence limit, a probe of the frozen server: far less.
  EXPECT_LT(ended, 150s);

  ASSERT_TRUE(events.answered) << events.error;
  EXPECT_EQ(events.status, 200);
  EXPECT_GE(count_of(events.body, ": keep-alive\n\n"), 3u) << events.body;
  EXPECT_NE(events.body.find("event: end\n"), std::string::npos) << events.body;
  EXPECT_LT(events.longest_silence, std::chrono::seconds(http::kHeartbeatLost));
  auto whole = servers[1]->client().Get("/v1/jobs/" + id + "/runs/a/output");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->body, "start\ndone\n");
  std::printf(
      "[ figures ] frozen server left after %.1f s; %zu heartbeats in %zu bytes of "
      "events, longest silence %.1f s; stderr: %s",
      std::chrono::duration<double>(ended).count(), count_of(events.body, ": keep-alive\n\n"),
      events.body.size(), std::chrono::duration<double>(events.longest_silence).count(),
      err.c_str());
}

}  // namespace
}  // namespace tend::test
