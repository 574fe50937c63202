#pragma once

// The merchant's local calendar: converts UTC instants to and from an IANA time zone using the
// operating system's tz database (Howard Hinnant's date/tz). Used only at the edges: expiry at
// the end of a local month, birthdays, report days, quiet hours.

#include <string_view>

#include "base/error.h"
#include "base/time.h"

namespace regulars {

struct LocalTime {
  int year = 0, month = 0, day = 0;
  int hour = 0, minute = 0, second = 0;
  int weekday = 0;  // 0 = Sunday … 6 = Saturday
};

// invalid_argument naming "timezone" for an unknown zone.
Result<LocalTime> ToLocal(Micros t, std::string_view tz);

// The UTC instant of a local wall-clock time. In a gap (spring forward) the time after the gap;
// in an overlap the earlier instant.
Result<Micros> FromLocal(int year, int month, int day, int hour, int minute, int second,
                         std::string_view tz);

// The first instant of the local day after the one containing `t` (exclusive end of that day).
Result<Micros> EndOfLocalDay(Micros t, std::string_view tz);

}  // namespace regulars
