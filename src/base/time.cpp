#include "base/time.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>

namespace regulars {

Micros SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

namespace {

void CivilFromDays(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yy + (m <= 2));
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && (y == 0 || IsLeapYear(y))) return 29;
  return kDays[m - 1];
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Date CivilFromDays(int64_t days) {
  Date d;
  CivilFromDays(days, d.year, d.month, d.day);
  return d;
}

std::string FormatRfc3339(Micros t) {
  int64_t days = t >= 0 ? t / kMicrosPerDay : -((-t + kMicrosPerDay - 1) / kMicrosPerDay);
  int64_t rem = t - days * kMicrosPerDay;
  int y, m, d;
  CivilFromDays(days, y, m, d);
  int64_t secs = rem / kMicrosPerSecond;
  int64_t millis = (rem % kMicrosPerSecond) / 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, secs / 3600,
                     (secs / 60) % 60, secs % 60, millis);
}

std::optional<Micros> ParseRfc3339(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  int y, mo, d, h, mi, se;
  if (!ParseInt(s.substr(0, 4), y) || !ParseInt(s.substr(5, 2), mo) ||
      !ParseInt(s.substr(8, 2), d) || !ParseInt(s.substr(11, 2), h) ||
      !ParseInt(s.substr(14, 2), mi) || !ParseInt(s.substr(17, 2), se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  size_t i = 19;
  Micros frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 6) frac = frac * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 6; ++k) frac *= 10;
  }
  if (i >= s.size()) return std::nullopt;
  int64_t offset_secs = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (s.size() - i != 6 || s[i + 3] != ':' || !ParseInt(s.substr(i + 1, 2), oh) ||
        !ParseInt(s.substr(i + 4, 2), om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_secs = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_secs;
  return secs * kMicrosPerSecond + frac;
}

std::optional<Date> ParseDate(std::string_view s) {
  Date out;
  if (s.size() == 7 && s[0] == '-' && s[1] == '-' && s[4] == '-') {
    if (!ParseInt(s.substr(2, 2), out.month) || !ParseInt(s.substr(5, 2), out.day))
      return std::nullopt;
  } else if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    if (!ParseInt(s.substr(0, 4), out.year) || !ParseInt(s.substr(5, 2), out.month) ||
        !ParseInt(s.substr(8, 2), out.day) || out.year < 1)
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (out.month < 1 || out.month > 12 || out.day < 1 || out.day > DaysInMonth(out.year, out.month))
    return std::nullopt;
  return out;
}

std::string FormatDate(const Date& d) {
  if (d.year == 0) return fmt::format("--{:02}-{:02}", d.month, d.day);
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

}  // namespace regulars
