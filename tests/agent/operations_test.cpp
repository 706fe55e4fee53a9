// The agent over months of use: retention, removal, a clean job environment, private files,
// who may run as whom, a damaged database and the way back (issue 12).
#include <dirent.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>

#include "agent_harness.hpp"
#include "require.hpp"

using namespace agent_test;

namespace {

std::set<std::string> job_dirs(const std::string& data) {
  std::set<std::string> out;
  DIR* d = ::opendir((data + "/jobs").c_str());
  while (dirent* e = d ? ::readdir(d) : nullptr)
    if (e->d_name[0] != '.') out.insert(e->d_name);
  if (d) ::closedir(d);
  return out;
}

std::set<std::string> listed_ids(const Agent& agent) {
  std::set<std::string> out;
  std::string cursor;
  for (;;) {
    auto r = agent.client().Get("/v1/jobs?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (!r || r->status != 200) {
      ADD_FAILURE() << "listing failed: " << (r ? r->body : "no response");
      return out;
    }
    json j = json::parse(r->body);
    for (const auto& job : j["jobs"]) out.insert(job["id"].get<std::string>());
    if (j["next_cursor"].is_null()) return out;
    cursor = j["next_cursor"].get<std::string>();
  }
}

bool have_user(const char* name) {
  return ::getpwnam(name) != nullptr;
}

}  // namespace

TEST(AgentRetention, KeepsTheNewestJobsAndTheApiStaysResponsive) {
  Agent agent{{"--keep-jobs", "50", "--max-running", "4"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::vector<std::string> ids;
  double worst_healthz = 0;
  size_t most_finished = 0;
  for (int i = 0; i < 500; ++i) {
    ids.push_back(agent.submit_ok({{"command", {"true"}}}));
    if (i % 25 == 0) {
      auto t0 = Clock::now();
      auto h = agent.client(false).Get("/healthz");
      worst_healthz =
          std::max(worst_healthz, std::chrono::duration<double>(Clock::now() - t0).count());
      EXPECT_TRUE(h && h->status == 200);
      // Finished jobs kept beyond the 50: at most a batch (100) and what ended meanwhile.
      size_t unfinished = 0;
      for (const char* st : {"queued", "running"}) {
        auto r = agent.client().Get(std::string("/v1/jobs?limit=500&state=") + st);
        ASSERT_TRUE(r && r->status == 200);
        unfinished += json::parse(r->body)["jobs"].size();
      }
      size_t dirs = job_dirs(agent.data()).size();
      most_finished = std::max(most_finished, dirs > unfinished ? dirs - unfinished : 0);
    }
  }
  // Every job ends, then only the newest 50 remain, each with its directory and nothing else.
  agent.wait_final(ids.back(), 120s);
  auto deadline = Clock::now() + 30s;
  std::set<std::string> listed = listed_ids(agent);
  while ((listed.size() > 50 || job_dirs(agent.data()) != listed) && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    listed = listed_ids(agent);
  }
  EXPECT_EQ(listed.size(), 50u);
  EXPECT_EQ(job_dirs(agent.data()), listed) << "records and directories differ";
  std::set<std::string> newest(ids.end() - 50, ids.end());
  EXPECT_EQ(listed, newest) << "retention removed a job among the newest 50";
  EXPECT_LT(worst_healthz, 2.0) << "/healthz stalled while jobs were removed";
  EXPECT_LE(most_finished, 50u + 150u) << "retention did not keep pace";
  auto m = agent.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("tend_jobs_removed_total 450"), std::string::npos) << m->body;
  std::printf("retention: worst /healthz %.1f ms, most finished jobs kept %zu\n",
              worst_healthz * 1000, most_finished);
}

TEST(AgentRetention, KeepForRemovesOldJobsAndBadValuesAreRefused) {
  Agent agent{{"--keep-for", "1s"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string id = agent.submit_ok({{"command", {"true"}}});
  agent.wait_final(id);
  auto deadline = Clock::now() + 10s;
  // The record goes first, then the directory (remove()'s order): wait for both.
  while ((agent.job(id) || !job_dirs(agent.data()).empty()) && Clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(agent.job(id)) << "a job finished over 1s ago is still kept";
  EXPECT_TRUE(job_dirs(agent.data()).empty()) << "its record is gone, its directory stayed";

  for (std::vector<std::string> bad : {std::vector<std::string>{"--keep-for", "soon"},
                                       {"--keep-for", "0s"},
                                       {"--keep-jobs", "-1"},
                                       {"--pass-env", "A=B"},
                                       {"--allow-users", ","}}) {
    Agent refused{bad};
    EXPECT_FALSE(refused.start(5s)) << bad[0] << " " << bad[1] << " was accepted";
  }
}

TEST(AgentRetention, DeleteAndRmRemoveFinishedJobsOnly) {
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string done = agent.submit_ok({{"command", {"echo", "hi"}}});
  agent.wait_final(done);
  std::string sleeper = agent.submit_ok({{"command", {"sleep", "30"}}});

  auto busy = agent.client().Delete("/v1/jobs/" + sleeper);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 409) << busy->body;
  EXPECT_TRUE(job_dirs(agent.data()).count(sleeper));
  auto unknown = agent.client().Delete("/v1/jobs/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  auto gone = agent.client().Delete("/v1/jobs/" + done);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 200) << gone->body;
  EXPECT_FALSE(agent.job(done));
  EXPECT_FALSE(job_dirs(agent.data()).count(done));
  EXPECT_EQ(agent.client().Get("/v1/jobs/" + done + "/output")->status, 404);

  // tend rm: each id tried; 1 when one does not exist or still runs.
  std::string a = agent.submit_ok({{"command", {"true"}}});
  std::string b = agent.submit_ok({{"command", {"true"}}});
  agent.wait_final(a);
  agent.wait_final(b);
  std::string out;
  EXPECT_EQ(run_cli(agent, "rm " + a + " " + b, &out), 0);
  EXPECT_EQ(out, "removed " + a + "\nremoved " + b + "\n");
  EXPECT_EQ(run_cli(agent, "rm " + sleeper + " 2>/dev/null"), 1);
  EXPECT_EQ(run_cli(agent, "rm " + a + " 2>/dev/null"), 1);
  EXPECT_EQ(job_dirs(agent.data()), std::set<std::string>{sleeper});
  ASSERT_EQ(agent.client().Post("/v1/jobs/" + sleeper + "/cancel")->status, 202);
}

TEST(AgentJobEnvironment, SecretsOfTheAgentAreInvisibleToJobs) {
  ::setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-aws", 1);
  ::setenv("TEND_TOKEN", "s3cr3t-token", 1);
  ::setenv("TEND_OPS_PASSED", "passed-on", 1);
  ::setenv("LANG", "C.UTF-8", 1);
  Agent agent{{"--pass-env", "TEND_OPS_PASSED"}};
  bool started = agent.start();
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("TEND_TOKEN");
  ::unsetenv("TEND_OPS_PASSED");
  ASSERT_TRUE(started) << agent.last_error();
  std::string id = agent.submit_ok({{"command", {"env"}}, {"env", {{"MINE", "yes"}}}});
  EXPECT_EQ(agent.wait_final(id)["state"], "succeeded");
  std::string env = agent.output(id);
  EXPECT_EQ(env.find("s3cr3t"), std::string::npos) << env;
  for (const char* want : {"MINE=yes\n", "TEND_OPS_PASSED=passed-on\n", "LANG=C.UTF-8\n",
                           "HOME=/root\n", "USER=root\n", "LOGNAME=root\n", "SHELL=",
                           "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"})
    EXPECT_NE(env.find(want), std::string::npos) << want << " missing from:\n" << env;
  EXPECT_NE(env.find("TEND_JOB_ID=" + id + "\n"), std::string::npos) << env;

  // Python scripts: unbuffered, so output arrives as it is written.
  std::string py =
      agent.submit_ok({{"script", "import os; print(os.environ.get('PYTHONUNBUFFERED'))"},
                       {"interpreter", "python3"}});
  auto j = agent.wait_final(py);
  if (j["state"] == "succeeded") {
    EXPECT_EQ(agent.output(py), "1\n");
  }
}

TEST(AgentFiles, EverythingUnderDataIsPrivate) {
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string id = agent.submit_ok(
      {{"script", "echo out; echo err >&2"}, {"stdin", "in"}, {"env", {{"SECRET", "x"}}}});
  agent.wait_final(id);
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    ASSERT_NE(d, nullptr) << dir;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || name == "agent.log") continue;  // the test's own log
      std::string path = dir + "/" + name;
      struct stat st {};
      ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_mode & 077, 0u)
          << path << " is readable by others: mode " << std::oct << (st.st_mode & 0777);
      if (S_ISDIR(st.st_mode)) walk(path);
    }
    ::closedir(d);
  };
  struct stat st {};
  ASSERT_EQ(::stat(agent.data().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  walk(agent.data());
  for (const char* f : {"/agent.db", "/jobs", "/token"})
    EXPECT_EQ(::stat((agent.data() + f).c_str(), &st), 0) << f;
  EXPECT_EQ(::stat((agent.data() + "/jobs/" + id + "/output").c_str(), &st), 0);
  // The job itself gets the umask the agent was started with, not the agent's private one.
  std::string u = agent.submit_ok({{"command", {"sh", "-c", "umask"}}});
  agent.wait_final(u);
  mode_t mine = ::umask(022);
  ::umask(mine);
  char want[8];
  std::snprintf(want, sizeof want, "%04o\n", mine);
  EXPECT_EQ(agent.output(u), want);
}

TEST(AgentFiles, ScriptRunsAsAnotherUser) {
  TEND_REQUIRE(::geteuid() == 0 && have_user("nobody"), "root and the user nobody");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string id = agent.submit_ok({{"script", "id -un; head -c 5 \"$0\"; echo; echo \"$HOME\""},
                                    {"user", "nobody"},
                                    {"stdin", "hello"}});
  auto j = agent.wait_final(id);
  EXPECT_EQ(j["state"], "succeeded") << j.dump() << agent.output(id);
  struct passwd* pw = ::getpwnam("nobody");
  EXPECT_EQ(agent.output(id), std::string("nobody\nid -u\n") + pw->pw_dir + "\n");
  // The job's user reaches nothing of the agent's: not the job's own directory either.
  std::string peek =
      agent.submit_ok({{"command", {"sh", "-c", "cat " + agent.data() + "/jobs/" + id + "/script"}},
                       {"user", "nobody"}});
  EXPECT_EQ(agent.wait_final(peek)["state"], "failed");
  std::string py = agent.submit_ok({{"script", "import os; print(os.getuid())"},
                                    {"interpreter", "python3"},
                                    {"user", "nobody"}});
  agent.wait_final(py);
  if (::access("/usr/bin/python3", X_OK) == 0) {
    EXPECT_EQ(agent.output(py), std::to_string(pw->pw_uid) + "\n");
  }
}

TEST(AgentUsers, PolicyRefusesWith403NamingTheField) {
  if (!have_user("nobody") || !have_user("daemon")) GTEST_SKIP() << "needs users nobody, daemon";
  Agent agent{{"--deny-users", "root", "--allow-users", "nobody,root"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  for (json body : {json{{"command", {"true"}}}, json{{"command", {"true"}}, {"user", "root"}},
                    json{{"command", {"true"}}, {"user", "daemon"}}}) {
    auto r = agent.submit(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << body.dump() << " " << r->body;
    EXPECT_EQ(json::parse(r->body)["error"]["field"], "user") << r->body;
  }
  EXPECT_EQ(agent.job_count(), 0);
  EXPECT_TRUE(job_dirs(agent.data()).empty());
  std::string ok = agent.submit_ok({{"command", {"true"}}, {"user", "nobody"}});
  EXPECT_EQ(agent.wait_final(ok)["state"], "succeeded");
}

TEST(AgentDatabase, CorruptPageIsAnErrorNotAShortList) {
  std::string data = make_temp_dir();  // ours: it outlives the agents below
  std::vector<std::string> ids;
  {
    Agent agent{{"--max-running", "8"}, data};
    ASSERT_TRUE(agent.start()) << agent.last_error();
    for (int i = 0; i < 300; ++i)
      ids.push_back(agent.submit_ok({{"command", {"true"}},
                                     {"labels", {{"n", std::to_string(i)}}},
                                     {"env", {{"PAD", std::string(200, 'x')}}}}));
    agent.wait_final(ids.back(), 60s);
    for (auto& id : ids) agent.wait_final(id);
    agent.stop(SIGTERM);
  }
  std::string db = data + "/agent.db";
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  ASSERT_GT(st.st_size, 4096 * 8) << "the database is too small to damage one page of it";
  // A page in the middle of the jobs table: garbage over all of it.
  {
    int fd = ::open(db.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::string junk(4096, '\xA5');
    off_t page = (st.st_size / 4096 / 2) * 4096;
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), page), 4096);
    ::close(fd);
  }
  Agent damaged{{}, data};
  EXPECT_FALSE(damaged.start(10s)) << "an agent served a damaged database";
  std::string log = read_text(data + "/agent.log");
  EXPECT_NE(log.find("database damaged"), std::string::npos) << log;
  EXPECT_NE(log.find("--recover"), std::string::npos) << log;

  // --recover: what still reads is kept, the rest rebuilt from the job directories.
  Agent recovered{{"--recover"}, data};
  ASSERT_TRUE(recovered.start()) << recovered.last_error();
  std::set<std::string> listed = listed_ids(recovered);
  EXPECT_EQ(listed, std::set<std::string>(ids.begin(), ids.end()));
  int succeeded = 0;
  for (const auto& id : ids) {
    auto j = recovered.job(id);
    ASSERT_TRUE(j) << id;
    succeeded += (*j)["state"] == "succeeded";
  }
  EXPECT_EQ(succeeded, 300) << "every job's result.json says it succeeded";
  std::string rlog = read_text(data + "/agent.log");
  EXPECT_NE(rlog.find("moved the damaged database"), std::string::npos) << rlog;
  recovered.stop(SIGTERM);
  std::filesystem::remove_all(data);
}

namespace {

// A small tmpfs, unmounted (lazily) when the test ends.
struct SmallDisk {
  std::string dir;
  bool mounted = false;
  explicit SmallDisk(const char* size) {
    dir = make_temp_dir();
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, (std::string("size=") + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    ::rmdir(dir.c_str());
  }
};

int healthz_status(const Agent& agent) {
  auto r = agent.client(false).Get("/healthz");
  return r ? r->status : -1;
}

}  // namespace

TEST(AgentFullDisk, NoJobStaysRunningOnceSpaceReturns) {
  TEND_REQUIRE(::geteuid() == 0, "root (mount -t tmpfs)");
  SmallDisk disk("6m");
  ASSERT_TRUE(disk.mounted) << "mount tmpfs: " << std::strerror(errno);
  std::string data = disk.dir + "/data";
  ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);  // for the agent's log, which the harness puts there
  Agent agent{{"--max-running", "4"}, data};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  // Room the test can give back later, as an operator would by deleting something.
  std::string filler = disk.dir + "/filler";
  {
    std::string mb(1 << 20, 'f');
    FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (int i = 0; i < 2; ++i) std::fwrite(mb.data(), 1, mb.size(), f);
    std::fclose(f);
  }
  // Three jobs that write more than fits, once all three have started (a job whose supervisor
  // starts on a full disk cannot reserve its result: a different case).
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(
        agent.submit_ok({{"command", {"sh", "-c", "sleep 1; head -c 3000000 /dev/zero; exit 3"}}}));
  // Every job ends; the agent cannot record it: /healthz says so, new jobs are refused clearly
  // and leave nothing behind.
  auto deadline = Clock::now() + 20s;
  while (healthz_status(agent) == 200 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  auto h = agent.client(false).Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503) << h->body;
  EXPECT_EQ(json::parse(h->body).value("status", ""), "degraded") << h->body;
  auto dirs_before = job_dirs(data);
  auto refused = agent.submit({{"command", {"true"}}, {"stdin", std::string(100000, 'x')}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 507) << refused->body;
  EXPECT_NE(refused->body.find("disk"), std::string::npos) << refused->body;
  EXPECT_EQ(job_dirs(data), dirs_before) << "a refused submission left a directory";
  std::string log = read_text(data + "/agent.log");
  EXPECT_NE(log.find("degraded"), std::string::npos) << log;

  // The agent is degraded at its first record that cannot be written, which may come before
  // every job has ended (a slow start, or a record other than a job's end): jobs still writing
  // would take the space given back and fill the disk again. So the space returns once each
  // job has ended, i.e. once its shim has written its result (into the space it reserved).
  deadline = Clock::now() + 30s;
  for (const auto& id : ids) {
    const std::string result = data + "/jobs/" + id + "/result.json";
    while (read_text(result).empty() && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(read_text(result).empty()) << "job " << id << " did not end on the full disk";
  }
  // Space returns: the records catch up from the shims' results, nothing stays running.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  deadline = Clock::now() + 20s;
  while (healthz_status(agent) != 200 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(healthz_status(agent), 200);
  for (const auto& id : ids) {
    auto j = agent.wait_final(id, 10s);
    EXPECT_EQ(j["state"], "failed") << j.dump();
    EXPECT_EQ(j["exit_code"], 3) << j.dump();
  }
  auto m = agent.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("tend_jobs{state=\"running\"} 0"), std::string::npos) << m->body;
  std::string after = agent.submit_ok({{"command", {"true"}}});
  EXPECT_EQ(agent.wait_final(after)["state"], "succeeded");
  agent.stop(SIGTERM);
}

TEST(AgentRetention, DirectoriesWithoutARecordAreRemovedAtStart) {
  // What a kill -9 between making a job's directory and recording it leaves behind.
  Agent first;
  ASSERT_TRUE(first.start()) << first.last_error();
  std::string kept = first.submit_ok({{"command", {"true"}}});
  first.wait_final(kept);
  first.stop(SIGKILL);
  std::string orphan = first.data() + "/jobs/00000000deadbeef";
  ASSERT_EQ(::mkdir(orphan.c_str(), 0700), 0);
  { std::ofstream(orphan + "/script") << "echo never recorded"; }
  Agent second{{}, first.data()};
  ASSERT_TRUE(second.start()) << second.last_error();
  EXPECT_EQ(job_dirs(second.data()), std::set<std::string>{kept});
  EXPECT_NE(
      read_text(second.data() + "/agent.log").find("removed 1 job directories without a record"),
      std::string::npos);
}
