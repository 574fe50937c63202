#include "base/zone.h"

#include <date/tz.h>

#include <fmt/format.h>

namespace regulars {
namespace {

Result<const date::time_zone*> Zone(std::string_view tz) {
  try {
    return date::locate_zone(std::string(tz));
  } catch (const std::exception&) {
    return InvalidField("timezone", fmt::format("unknown time zone '{}'", tz));
  }
}

}  // namespace

Result<LocalTime> ToLocal(Micros t, std::string_view tz) {
  RG_ASSIGN_OR_RETURN(const date::time_zone* zone, Zone(tz));
  using namespace std::chrono;
  sys_time<microseconds> st{microseconds{t}};
  auto local = zone->to_local(st);
  auto day = date::floor<date::days>(local);
  date::year_month_day ymd{day};
  date::hh_mm_ss hms{floor<seconds>(local - day)};
  LocalTime out;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(hms.hours().count());
  out.minute = static_cast<int>(hms.minutes().count());
  out.second = static_cast<int>(hms.seconds().count());
  out.weekday = static_cast<int>(date::weekday{day}.c_encoding());
  return out;
}

Result<Micros> FromLocal(int year, int month, int day, int hour, int minute, int second,
                         std::string_view tz) {
  RG_ASSIGN_OR_RETURN(const date::time_zone* zone, Zone(tz));
  using namespace std::chrono;
  date::local_days ld{date::year{year} / month / day};
  date::local_seconds ls = ld + hours{hour} + minutes{minute} + seconds{second};
  auto info = zone->get_info(ls);
  sys_seconds st;
  if (info.result == date::local_info::nonexistent) {
    st = info.second.begin;  // the first instant after the gap
  } else {
    st = sys_seconds{ls.time_since_epoch()} - info.first.offset;
  }
  return duration_cast<microseconds>(st.time_since_epoch()).count();
}

Result<Micros> EndOfLocalDay(Micros t, std::string_view tz) {
  RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(t, tz));
  int64_t next = DaysFromCivil(lt.year, lt.month, lt.day) + 1;
  date::year_month_day ymd{date::sys_days{date::days{next}}};
  return FromLocal(static_cast<int>(ymd.year()),
                   static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day())), 0, 0, 0, tz);
}

}  // namespace regulars
