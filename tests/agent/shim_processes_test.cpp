// Finding the shims of a previous agent in /proc: the way a restarted (or upgraded) agent
// re-attaches to the jobs it did not start.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "agent_harness.hpp"
#include "server/shim_processes.hpp"
#include "tend/child.hpp"
#include "tend/command.hpp"
#include "tend/process.hpp"

using namespace agent_test;

namespace {

// Starts `tend agent-shim JOBDIR_ARG` in `cwd` on a spec that runs `sleep 30`.
tend::Child start_shim(const std::string& cwd, const std::string& jobdir_arg,
                       const std::string& id) {
  std::string spec = cwd + "/spec-" + id + ".json";
  std::ofstream(spec) << R"({"id":")" << id
                      << R"(","request":{"command":["sleep","30"]},"output_limit":4096})";
  tend::Command cmd({TEND_BINARY, "agent-shim", jobdir_arg});
  cmd.cwd(cwd).stdin_(tend::Stdio::file(spec)).stdout_(tend::Stdio::null()).merge_stderr();
  auto child = tend::spawn(cmd);
  EXPECT_TRUE(child.ok()) << child.error().message();
  return child.ok() ? std::move(*child) : tend::Child{};
}

// Every process whose command line says agent-shim: what find_shims saw, for a failure message.
std::string shim_like_processes() {
  std::string out;
  for (const tend::ProcessInfo& p : tend::list_processes()) {
    auto argv = tend::process_cmdline(p.pid);
    if (!argv || argv->size() < 2 || (*argv)[1] != "agent-shim") continue;
    out += "\n  pid " + std::to_string(p.pid) + " ppid " + std::to_string(p.ppid) + " state " +
           p.state + " name " + p.name + " arg " + argv->back();
  }
  return out;
}

}  // namespace

TEST(ShimProcesses, FindsShimsByAbsoluteAndByRelativeJobDirectory) {
  static int runs = 0;
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(make_temp_dir().c_str(), nullptr),
                                                   &std::free);
  ASSERT_TRUE(real);
  std::string data = real.get();
  ASSERT_EQ(::mkdir((data + "/jobs").c_str(), 0700), 0);
  // Job ids name cgroups too: unique ones, so that runs side by side (or repeated, while the
  // last run's cgroups are still being removed) do not meet.
  const std::string abs_id = "abs-" + std::to_string(::getpid()) + "-" + std::to_string(++runs);
  const std::string rel_id = "rel-" + std::to_string(::getpid()) + "-" + std::to_string(runs);
  ASSERT_EQ(::mkdir((data + "/jobs/" + abs_id).c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((data + "/jobs/" + rel_id).c_str(), 0700), 0);
  // The second as an agent before absolute data paths started it: `--data .` from DATA. Looked
  // for at once: each shim may still be starting its job, whose child shares its command line
  // until it execs (and must not be taken for the shim).
  tend::Child abs = start_shim(data, data + "/jobs/" + abs_id, abs_id);
  tend::Child rel = start_shim(data, "./jobs/" + rel_id, rel_id);
  ASSERT_TRUE(abs.valid() && rel.valid());

  auto found = tend::agent::find_shims(data + "/jobs");
  EXPECT_EQ(found.size(), 2u) << "shims started: " << abs.pid() << " " << rel.pid()
                              << shim_like_processes();
  ASSERT_TRUE(found.count(abs_id));
  ASSERT_TRUE(found.count(rel_id));
  EXPECT_EQ(found[abs_id].pid, abs.pid());
  EXPECT_EQ(found[rel_id].pid, rel.pid());
  EXPECT_TRUE(found[rel_id].pidfd.valid());
  // Another data directory's shims are not ours.
  EXPECT_TRUE(tend::agent::find_shims(data + "/other").empty());

  // SIGTERM is a cancel: each shim stops its job and exits, once it has started its job (before
  // that, its signals are not blocked yet and SIGTERM simply ends it).
  for (tend::Child* c : {&abs, &rel}) {
    std::string children =
        "/proc/" + std::to_string(c->pid()) + "/task/" + std::to_string(c->pid()) + "/children";
    auto deadline = Clock::now() + 5s;
    while (read_text(children).empty() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(read_text(children).empty()) << "the shim did not start its job";
    ASSERT_TRUE(c->signal(SIGTERM));
    auto st = c->wait();
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_TRUE(st->exited()) << st->describe();
  }
  EXPECT_TRUE(tend::agent::find_shims(data + "/jobs").empty()) << shim_like_processes();
}
