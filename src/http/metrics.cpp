#include "http/metrics.h"

#include <fmt/format.h>

namespace regulars::http {

void Metrics::Record(const std::string& method, const std::string& route, int status,
                     double seconds) {
  std::lock_guard lock(mu_);
  Series& s = series_[{method, route}];
  s.by_status[status]++;
  s.count++;
  s.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) s.buckets[i]++;
}

std::string Metrics::Render(const std::string& extra) const {
  std::string out;
  out += "# HELP regulars_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE regulars_http_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, s] : series_)
    for (const auto& [status, n] : s.by_status)
      out += fmt::format(
          "regulars_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
          key.first, key.second, status, n);
  out += "# HELP regulars_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE regulars_http_request_duration_seconds histogram\n";
  for (const auto& [key, s] : series_) {
    std::string labels = fmt::format("method=\"{}\",route=\"{}\"", key.first, key.second);
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out += fmt::format("regulars_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n",
                         labels, kBuckets[i], s.buckets[i]);
    out += fmt::format("regulars_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
                       labels, s.count);
    out += fmt::format("regulars_http_request_duration_seconds_sum{{{}}} {:.6f}\n", labels, s.sum);
    out += fmt::format("regulars_http_request_duration_seconds_count{{{}}} {}\n", labels, s.count);
  }
  out += extra;
  return out;
}

}  // namespace regulars::http
