// bench_feature_build: peak memory and time of one merchant's feature-store build
// (insight::BuildMerchantFeatures) from a bench_gen_insight database, at a chosen chunk size.
//
//   build/bench/bench_feature_build --database sqlite:/tmp/insight.db --members-per-chunk 5000
//
// --members-per-chunk 0 reads the whole merchant in one chunk (how the build read before it
// was chunked). Prints one JSON line: members, store bytes, seconds, and the process's VmHWM
// (peak RSS), VmRSS after the build and VmRSS after malloc_trim(0), in kB. Run it under
// /usr/bin/time -v for an outside view of the same peak.

#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "base/time.h"
#include "insight/feature_store.h"
#include "store/db.h"

using namespace regulars;

namespace {

int64_t ProcStatusKb(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}

Status Run(const std::string& url, size_t per_chunk, const std::string& now_text) {
  store::Options options;
  options.url = url;
  options.pool_size = 1;
  RG_ASSIGN_OR_RETURN(auto db, store::Open(options));
  auto now = ParseRfc3339(now_text);
  if (!now) return InvalidField("--now", "must be an RFC 3339 time");
  insight::BuildOptions build;
  build.members_per_chunk = per_chunk == 0 ? std::numeric_limits<size_t>::max() : per_chunk;
  const int64_t rss_before = ProcStatusKb("VmRSS");
  auto t0 = std::chrono::steady_clock::now();
  size_t members = 0, bytes = 0;
  RG_TRY(db->Read([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT merchant_id FROM merchants ORDER BY 1"));
    if (rows.size() != 1)
      return Fail(Code::kFailedPrecondition,
                  fmt::format("expected one merchant (a bench_gen_insight database), found {}",
                              rows.size()));
    RG_ASSIGN_OR_RETURN(auto f, insight::BuildMerchantFeatures(tx, rows[0].Int(0), *now, build));
    members = f.size();
    bytes = f.MemoryBytes();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t hwm = ProcStatusKb("VmHWM"), rss = ProcStatusKb("VmRSS");
    malloc_trim(0);
    std::printf(
        "{\"members_per_chunk\": %zu, \"members\": %zu, \"store_bytes\": %zu, \"build_s\": %.2f, "
        "\"rss_before_kb\": %lld, \"vmhwm_kb\": %lld, \"rss_after_kb\": %lld, "
        "\"rss_trimmed_kb\": %lld}\n",
        per_chunk, members, bytes, s, static_cast<long long>(rss_before),
        static_cast<long long>(hwm), static_cast<long long>(rss),
        static_cast<long long>(ProcStatusKb("VmRSS")));
    return {};
  }));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak memory of one merchant's feature-store build"};
  std::string url, now = "2026-12-01T00:00:00Z";
  size_t per_chunk = 5'000;
  app.add_option("--database", url, "sqlite:PATH or postgresql://...")->required();
  app.add_option("--members-per-chunk", per_chunk, "members per chunk; 0 = all in one chunk");
  app.add_option("--now", now, "the build's now (RFC 3339)");
  CLI11_PARSE(app, argc, argv);
  auto s = Run(url, per_chunk, now);
  if (!s) {
    std::fprintf(stderr, "bench_feature_build: %s\n", s.error().ToString().c_str());
    return 1;
  }
  return 0;
}
