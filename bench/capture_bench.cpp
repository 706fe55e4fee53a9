// Output capture throughput and memory: a job writing N GiB through tend's bounded capture vs
// the same bytes through `cat` into /dev/null, same run.
//
//   build/bench/capture_bench [GIB]
#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "bench_util.hpp"
#include "tend/job.hpp"

namespace {

long max_rss_kib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  int gib = argc > 1 ? std::atoi(argv[1]) : 1;
  std::string bytes = std::to_string(static_cast<long long>(gib) << 30);
  std::string producer = "head -c " + bytes + " /dev/zero";

  auto t0 = bench::Clock::now();
  auto ref = tend::run(tend::Command({"sh", "-c", producer + " | cat >/dev/null"}));
  std::chrono::duration<double> ref_s = bench::Clock::now() - t0;
  if (!ref) std::abort();

  long rss_before = max_rss_kib();
  tend::Command cmd({"sh", "-c", producer});
  cmd.stdout_(tend::Stdio::capture());
  t0 = bench::Clock::now();
  auto r = tend::run(cmd);
  std::chrono::duration<double> tend_s = bench::Clock::now() - t0;
  if (!r || r->stdout_bytes != std::stoull(bytes)) std::abort();

  double ref_mbs = (gib * 1024.0) / ref_s.count();
  double tend_mbs = (gib * 1024.0) / tend_s.count();
  std::printf("| case | tend MiB/s | cat MiB/s | ratio | target |\n|---|---|---|---|---|\n");
  std::printf(
      "| %d GiB captured (1 MiB head + 1 MiB tail kept) | %.0f | %.0f | %.2fx | >= 0.8x |\n", gib,
      tend_mbs, ref_mbs, tend_mbs / ref_mbs);
  std::printf(
      "\npeak RSS of the capturing process: %.1f MiB (before the capture: %.1f MiB; "
      "target <= 16 MiB)\n",
      max_rss_kib() / 1024.0, rss_before / 1024.0);
  return 0;
}
