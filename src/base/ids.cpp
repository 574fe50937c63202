#include "base/ids.h"

#include <sodium.h>

#include <atomic>
#include <charconv>
#include <chrono>

namespace regulars {

Id NewId() {
  static std::atomic<int64_t> last{0};
  static const int64_t node = [] {
    if (sodium_init() < 0) return int64_t{0};
    return static_cast<int64_t>(randombytes_uniform(1024));
  }();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  int64_t candidate = (ms << 22) | node;
  int64_t prev = last.load();
  for (;;) {
    // Never go backwards: after the 4096th id in one millisecond, borrow from the next.
    int64_t next = candidate > prev ? candidate : prev + 1024;
    if (last.compare_exchange_weak(prev, next)) return next;
  }
}

std::string IdToString(Id id) { return std::to_string(id); }

std::optional<Id> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  Id out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p != s.data() + s.size() || out <= 0) return std::nullopt;
  return out;
}

}  // namespace regulars
