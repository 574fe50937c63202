#pragma once

// Time is UTC microseconds since the Unix epoch. The merchant's time zone applies only at the
// edges (birthdays, quiet hours, report days). Everything that asks "what time is it" asks a
// Clock, so tests move time instead of sleeping.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regulars {

using Micros = int64_t;  // UTC microseconds since 1970-01-01T00:00:00Z.

constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr Micros kMicrosPerDay = 86'400 * kMicrosPerSecond;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros Now() const = 0;
};

// Reads the system clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  Micros Now() const override;
  static SystemClock* Default();
};

// A clock tests set by hand. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start) : now_(start) {}
  Micros Now() const override { return now_.load(); }
  void Set(Micros t) { now_.store(t); }
  void Advance(Micros d) { now_.fetch_add(d); }

 private:
  std::atomic<Micros> now_;
};

// RFC 3339 in UTC with millisecond precision: "2026-11-23T10:51:02.123Z".
std::string FormatRfc3339(Micros t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; nullopt if malformed.
std::optional<Micros> ParseRfc3339(std::string_view s);

// A calendar date, possibly without a year (birthdays given as "--MM-DD").
struct Date {
  int year = 0;  // 0 = unknown
  int month = 0;
  int day = 0;
  friend bool operator==(const Date&, const Date&) = default;
};
// Parses "YYYY-MM-DD" or "--MM-DD". Validates the calendar: 02-29 only in leap years (and
// always allowed without a year).
std::optional<Date> ParseDate(std::string_view s);
std::string FormatDate(const Date& d);

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int y, int m, int d);
// The date of a day number (days since 1970-01-01); the inverse of DaysFromCivil.
Date CivilFromDays(int64_t days);
bool IsLeapYear(int y);

}  // namespace regulars
