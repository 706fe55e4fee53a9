// Tiny helpers for the benchmarks: each compares tend with a reference measured in the same run
// and prints the ratio; absolute figures depend on the machine, ratios much less so.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

// Median of `rounds` rounds, each the mean of `iters` calls of `fn`, in microseconds.
inline double median_us(int rounds, int iters, const std::function<void()>& fn) {
  std::vector<double> per_op;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    std::chrono::duration<double, std::micro> d = Clock::now() - t0;
    per_op.push_back(d.count() / iters);
  }
  std::sort(per_op.begin(), per_op.end());
  return per_op[per_op.size() / 2];
}

inline void row(const char* what, double tend_us, double ref_us, const char* target) {
  std::printf("| %-44s | %10.1f | %10.1f | %6.2fx | %-8s |\n", what, tend_us, ref_us,
              tend_us / ref_us, target);
}

// With the ratio given (e.g. a median of per-round ratios) and the CPU time per call of both.
inline void row(const char* what, double tend_us, double ref_us, double ratio, double tend_cpu,
                double ref_cpu, const char* target) {
  std::printf("| %-52s | %9.1f | %9.1f | %6.2fx | %8.1f | %8.1f | %-8s |\n", what, tend_us, ref_us,
              ratio, tend_cpu, ref_cpu, target);
}

inline void header_with_cpu() {
  std::printf("| %-52s | %9s | %9s | %7s | %8s | %8s | %-8s |\n", "case", "tend µs", "raw µs",
              "ratio", "tend CPU", "raw CPU", "target");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------------------",
              "-----------", "-----------", "---------", "----------", "----------", "----------");
}

inline void header(const char* tend_col, const char* ref_col) {
  std::printf("| %-44s | %10s | %10s | %7s | %-8s |\n", "case", tend_col, ref_col, "ratio",
              "target");
  std::printf("|%s|%s|%s|%s|%s|\n", "----------------------------------------------",
              "------------", "------------", "---------", "----------");
}

}  // namespace bench
