#pragma once

// Request counters and latency histograms by route, rendered in Prometheus text format.
// Thread-safe; recording takes one short lock.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace regulars::http {

class Metrics {
 public:
  // `route` is the pattern ("/api/v1/members/{id}"), not the concrete path, to bound cardinality.
  void Record(const std::string& method, const std::string& route, int status, double seconds);
  // `extra` is appended verbatim (gauges owned by others: database time, memory).
  std::string Render(const std::string& extra) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Series {
    std::map<int, uint64_t> by_status;
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_;
};

}  // namespace regulars::http
