#include "accounts/login_throttle.h"

#include <fmt/format.h>

namespace regulars::accounts {

LoginThrottle::LoginThrottle(const Clock& clock, ThrottleOptions options)
    : clock_(clock), options_(options) {}

int LoginThrottle::CountRecent(std::deque<Micros>& q, Micros now) {
  while (!q.empty() && q.front() <= now - options_.window) q.pop_front();
  return static_cast<int>(q.size());
}

Status LoginThrottle::Check(const std::string& email, const std::string& ip) {
  std::lock_guard lock(mu_);
  Micros now = clock_.Now();
  auto over = [&](const std::string& key, int limit) -> std::optional<Micros> {
    auto it = failures_.find(key);
    if (it == failures_.end()) return std::nullopt;
    if (CountRecent(it->second, now) < limit) return std::nullopt;
    return it->second.front() + options_.window - now;
  };
  auto wait = over("email:" + email, options_.max_failures_per_email);
  if (!wait) wait = over("ip:" + ip, options_.max_failures_per_ip);
  if (!wait) return {};
  int64_t minutes = (*wait + 60 * kMicrosPerSecond - 1) / (60 * kMicrosPerSecond);
  return Fail(Code::kResourceExhausted,
              fmt::format("too many failed log-in attempts; try again in {} minute{}", minutes,
                          minutes == 1 ? "" : "s"));
}

void LoginThrottle::RecordFailure(const std::string& email, const std::string& ip) {
  std::lock_guard lock(mu_);
  Micros now = clock_.Now();
  failures_["email:" + email].push_back(now);
  failures_["ip:" + ip].push_back(now);
  if (failures_.size() > 100'000) {  // bound memory under a spray of addresses
    for (auto it = failures_.begin(); it != failures_.end();) {
      if (CountRecent(it->second, now) == 0)
        it = failures_.erase(it);
      else
        ++it;
    }
  }
}

void LoginThrottle::RecordSuccess(const std::string& email) {
  std::lock_guard lock(mu_);
  failures_.erase("email:" + email);
}

}  // namespace regulars::accounts
