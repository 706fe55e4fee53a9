// Runs `sh -c 'exit 3'` through libtend and prints what tend reports: "3 exited cgroup|session".
#include <tend/job.hpp>

#include <cstdio>

int main() {
  tend::Command cmd({"sh", "-c", "exit 3"});
  auto result = tend::run(cmd, tend::JobOptions{});
  if (!result) {
    std::fprintf(stderr, "consumer: %s\n", result.error().message().c_str());
    return 1;
  }
  std::printf("%d %s %s\n", result->exit_code(), tend::to_string(result->reason),
              tend::to_string(result->scope_level));
  return 0;
}
