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

}  // namespace

TEST(ShimProcesses, FindsShimsByAbsoluteAndByRelativeJobDirectory) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(make_temp_dir().c_str(), nullptr),
                                                   &std::free);
  ASSERT_TRUE(real);
  std::string data = real.get();
  ASSERT_EQ(::mkdir((data + "/jobs").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((data + "/jobs/abs1").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((data + "/jobs/rel1").c_str(), 0700), 0);
  // The second as an agent before absolute data paths started it: `--data .` from DATA. Looked
  // for at once: each shim may still be starting its job, whose child shares its command line
  // until it execs (and must not be taken for the shim).
  tend::Child abs = start_shim(data, data + "/jobs/abs1", "abs1");
  tend::Child rel = start_shim(data, "./jobs/rel1", "rel1");
  ASSERT_TRUE(abs.valid() && rel.valid());

  auto found = tend::agent::find_shims(data + "/jobs");
  EXPECT_EQ(found.size(), 2u);
  ASSERT_TRUE(found.count("abs1"));
  ASSERT_TRUE(found.count("rel1"));
  EXPECT_EQ(found["abs1"].pid, abs.pid());
  EXPECT_EQ(found["rel1"].pid, rel.pid());
  EXPECT_TRUE(found["rel1"].pidfd.valid());
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
  EXPECT_TRUE(tend::agent::find_shims(data + "/jobs").empty());
}
