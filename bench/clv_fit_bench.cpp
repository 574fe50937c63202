// bench_clv_fit: the BG/NBD maximum-likelihood fit on a million customers.
//
// Draws N customers (default 1,000,000; fixed seed) from the BG/NBD story with known parameters
// (r = 0.243, alpha = 4.414, a = 0.793, b = 2.426: the CDNOW estimates, in weeks), the way a
// merchant's history would arrive: customers join over 12 weeks, are observed to week 39, and
// purchases are counted in whole days (two on one day are one, as Summarise does). Then fits
// the model three times and prints the median wall time of FitBgNbd (grouping included), the
// number of distinct (x, t_x, T) groups, the evaluations and the recovered parameters.
//
//   build-release/bench/bench_clv_fit [customers] [seed]

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "insight/clv.h"

using regulars::insight::BgNbdParams;
using regulars::insight::RfmSummary;

namespace {

std::vector<RfmSummary> Draw(const BgNbdParams& p, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> lam_d(p.r, 1 / p.alpha), ga(p.a, 1), gb(p.b, 1);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> join_day(0, 83);
  std::vector<RfmSummary> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const double lam = lam_d(rng), xa = ga(rng), drop = xa / (xa + gb(rng));
    const int T_days = 273 - join_day(rng);
    RfmSummary s{0, 0, T_days / 7.0, 0};
    double t = 0;  // weeks since the first purchase
    int last_day = 0;
    while (true) {
      t += -std::log(1 - u(rng)) / lam;
      if (!(t * 7 < T_days + 1)) break;  // also catches t = inf for a near-zero rate
      int day = static_cast<int>(t * 7);
      if (day != last_day) {
        s.x += 1;
        last_day = day;
        s.t_x = day / 7.0;
      }
      if (u(rng) < drop) break;
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace

// CPU seconds of this process: on a shared, loaded machine wall time also counts other work.
double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20261201;
  const BgNbdParams truth{0.243, 4.414, 0.793, 2.426};

  auto t0 = std::chrono::steady_clock::now();
  auto data = Draw(truth, n, seed);
  double gen_s = Since(t0);
  auto g0 = std::chrono::steady_clock::now();
  double gc0 = CpuSeconds();
  auto groups = regulars::insight::GroupRfm(data);
  double group_s = Since(g0), group_cpu = CpuSeconds() - gc0;
  int64_t repeat = std::count_if(data.begin(), data.end(), [](auto& c) { return c.x > 0; });
  fmt::print("customers {}  repeat buyers {}  generated in {:.2f} s\n", n, repeat, gen_s);
  fmt::print("distinct (x, t_x, T) groups {}  grouping {:.3f} s (cpu {:.3f} s)\n",
             groups.rows.size(), group_s, group_cpu);

  std::vector<double> seconds, cpu;
  regulars::insight::BgNbdFit fit;
  for (int run = 0; run < 3; ++run) {
    auto s = std::chrono::steady_clock::now();
    double c0 = CpuSeconds();
    auto f = regulars::insight::FitBgNbd(data);
    seconds.push_back(Since(s));
    cpu.push_back(CpuSeconds() - c0);
    if (!f) {
      fmt::print(stderr, "fit failed: {}\n", f.error().ToString());
      return 1;
    }
    fit = *f;
    fmt::print("run {}: {:.3f} s (cpu {:.3f} s)\n", run + 1, seconds.back(), cpu.back());
  }
  std::sort(seconds.begin(), seconds.end());
  std::sort(cpu.begin(), cpu.end());
  const auto& p = fit.params;
  fmt::print(
      "BG/NBD fit (grouping included): median {:.3f} s over 3 runs (min {:.3f}, max {:.3f})"
      "; median cpu {:.3f} s\n",
      seconds[1], seconds[0], seconds[2], cpu[1]);
  fmt::print("  evaluations {}  log-likelihood {:.2f}  {}\n", fit.report.evaluations,
             fit.report.log_likelihood, fit.report.stop_reason);
  fmt::print("  recovered r {:.4f}  alpha {:.4f}  a {:.4f}  b {:.4f}\n", p.r, p.alpha, p.a, p.b);
  fmt::print("  truth     r {:.4f}  alpha {:.4f}  a {:.4f}  b {:.4f}\n", truth.r, truth.alpha,
             truth.a, truth.b);
  return fit.report.converged ? 0 : 1;
}
