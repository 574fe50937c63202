#pragma once

// Limits failed log-in attempts per e-mail and per client address in a sliding window, so
// passwords cannot be guessed at speed. In memory: a restart forgets, which is acceptable for a
// throttle. Thread-safe.

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/error.h"
#include "base/time.h"

namespace regulars::accounts {

struct ThrottleOptions {
  int max_failures_per_email = 5;  // within the window
  int max_failures_per_ip = 30;    // within the window
  Micros window = 15 * 60 * kMicrosPerSecond;
};

class LoginThrottle {
 public:
  LoginThrottle(const Clock& clock, ThrottleOptions options = {});

  // resource_exhausted ("too many failed log-in attempts; try again in N minutes") when either
  // key is over its limit.
  Status Check(const std::string& email, const std::string& ip);
  void RecordFailure(const std::string& email, const std::string& ip);
  void RecordSuccess(const std::string& email);

 private:
  int CountRecent(std::deque<Micros>& q, Micros now);

  const Clock& clock_;
  ThrottleOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Micros>> failures_;
};

}  // namespace regulars::accounts
