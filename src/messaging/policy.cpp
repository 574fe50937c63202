#include "messaging/policy.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/zone.h"

namespace regulars::messaging {
namespace {

constexpr Micros kMicrosPerWeek = 7 * kMicrosPerDay;

Result<int> ParseHhMm(const nlohmann::json& v, const std::string& field) {
  if (!v.is_string()) return InvalidField(field, "must be a string \"HH:MM\"");
  std::string s = v.get<std::string>();
  if (s.size() != 5 || s[2] != ':' || !isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) ||
      !isdigit(s[4]))
    return InvalidField(field, "must be \"HH:MM\"");
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return InvalidField(field, "must be a time between 00:00 and 23:59");
  return h * 60 + m;
}

std::string FormatHhMm(int minute) { return fmt::format("{:02}:{:02}", minute / 60, minute % 60); }

bool InQuiet(const QuietHours& q, int minute) {
  if (q.start_minute == q.end_minute) return false;
  if (q.start_minute < q.end_minute) return minute >= q.start_minute && minute < q.end_minute;
  return minute >= q.start_minute || minute < q.end_minute;
}

// The first instant at or after `now` outside the quiet period.
Result<Micros> QuietEnd(const QuietHours& q, Micros now, const std::string& tz) {
  RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(now, tz));
  int minute = lt.hour * 60 + lt.minute;
  // The end is today when the quiet period wraps past midnight and we are after midnight, or
  // when it does not wrap; otherwise tomorrow.
  int64_t day = DaysFromCivil(lt.year, lt.month, lt.day);
  if (q.start_minute > q.end_minute && minute >= q.start_minute) day += 1;
  Date d = CivilFromDays(day);
  RG_ASSIGN_OR_RETURN(
      Micros end, FromLocal(d.year, d.month, d.day, q.end_minute / 60, q.end_minute % 60, 0, tz));
  // A zone change can in principle put `end` before now; never defer into the past.
  return std::max(end, now);
}

}  // namespace

std::string_view PurposeName(Purpose p) {
  return p == Purpose::kMarketing ? "marketing" : "transactional";
}
std::optional<Purpose> ParsePurpose(std::string_view s) {
  if (s == "marketing") return Purpose::kMarketing;
  if (s == "transactional") return Purpose::kTransactional;
  return std::nullopt;
}

std::string_view SuppressionReasonName(SuppressionReason r) {
  switch (r) {
    case SuppressionReason::kBounced:
      return "bounced";
    case SuppressionReason::kUnsubscribed:
      return "unsubscribed";
    case SuppressionReason::kComplaint:
      return "complaint";
  }
  return "bounced";
}
std::optional<SuppressionReason> ParseSuppressionReason(std::string_view s) {
  if (s == "bounced") return SuppressionReason::kBounced;
  if (s == "unsubscribed") return SuppressionReason::kUnsubscribed;
  if (s == "complaint") return SuppressionReason::kComplaint;
  return std::nullopt;
}

Result<PolicySettings> ParsePolicySettings(const nlohmann::json& j, std::string timezone) {
  PolicySettings s;
  s.timezone = std::move(timezone);
  RG_TRY(ToLocal(0, s.timezone));
  if (!j.is_object()) return InvalidField("policy", "must be an object");
  if (auto it = j.find("quiet_hours"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidField("quiet_hours", "must be an object or null");
    if (!it->contains("start")) return InvalidField("quiet_hours.start", "required");
    if (!it->contains("end")) return InvalidField("quiet_hours.end", "required");
    QuietHours q;
    RG_ASSIGN_OR_RETURN(q.start_minute, ParseHhMm((*it)["start"], "quiet_hours.start"));
    RG_ASSIGN_OR_RETURN(q.end_minute, ParseHhMm((*it)["end"], "quiet_hours.end"));
    if (q.start_minute == q.end_minute)
      return InvalidField("quiet_hours.end", "must differ from quiet_hours.start");
    s.quiet_hours = q;
  }
  if (auto it = j.find("caps"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidField("caps", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& c = (*it)[i];
      std::string f = fmt::format("caps[{}]", i);
      if (!c.is_object()) return InvalidField(f, "must be an object");
      FrequencyCap cap;
      auto medium = c.contains("medium") && c["medium"].is_string()
                        ? ParseMedium(c["medium"].get<std::string>())
                        : std::nullopt;
      if (!medium) return InvalidField(f + ".medium", "must be email, sms, line or webhook");
      cap.medium = *medium;
      std::string period = c.value("period", "");
      if (period == "day")
        cap.period = kMicrosPerDay;
      else if (period == "week")
        cap.period = kMicrosPerWeek;
      else
        return InvalidField(f + ".period", "must be \"day\" or \"week\"");
      if (!c.contains("max") || !c["max"].is_number_integer() || c["max"].get<int64_t>() < 1 ||
          c["max"].get<int64_t>() > 1000)
        return InvalidField(f + ".max", "must be an integer from 1 to 1000");
      cap.max = c["max"].get<int>();
      std::string action = c.value("action", "defer");
      if (action == "defer")
        cap.action = CapAction::kDefer;
      else if (action == "skip")
        cap.action = CapAction::kSkip;
      else
        return InvalidField(f + ".action", "must be \"defer\" or \"skip\"");
      s.caps.push_back(cap);
    }
  }
  return s;
}

nlohmann::json PolicySettingsToJson(const PolicySettings& s) {
  nlohmann::json j = nlohmann::json::object();
  if (s.quiet_hours)
    j["quiet_hours"] = {{"start", FormatHhMm(s.quiet_hours->start_minute)},
                        {"end", FormatHhMm(s.quiet_hours->end_minute)}};
  else
    j["quiet_hours"] = nullptr;
  j["caps"] = nlohmann::json::array();
  for (const auto& c : s.caps)
    j["caps"].push_back({{"medium", MediumName(c.medium)},
                         {"period", c.period == kMicrosPerWeek ? "week" : "day"},
                         {"max", c.max},
                         {"action", c.action == CapAction::kSkip ? "skip" : "defer"}});
  return j;
}

Result<Decision> Decide(const PolicySettings& s, const PolicyFacts& f, Micros now) {
  using K = Decision::Kind;
  // An unsubscribe is lifted by an explicit opt-in given after it (the consent's own time is
  // later than the suppression's); a bounce or a complaint is not.
  bool opted_in_again = f.suppression == SuppressionReason::kUnsubscribed &&
                        f.consent.value_or(false) && f.consent_changed_at > f.suppressed_at;
  if (f.suppression && !opted_in_again) {
    if (*f.suppression == SuppressionReason::kBounced || f.purpose == Purpose::kMarketing)
      return Decision{K::kSuppress, 0, std::string(SuppressionReasonName(*f.suppression))};
  }
  if (f.purpose == Purpose::kTransactional) return Decision{};
  if (!f.consent.value_or(false)) return Decision{K::kSuppress, 0, "no_consent"};
  if (s.quiet_hours) {
    RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(now, s.timezone));
    if (InQuiet(*s.quiet_hours, lt.hour * 60 + lt.minute)) {
      RG_ASSIGN_OR_RETURN(Micros until, QuietEnd(*s.quiet_hours, now, s.timezone));
      return Decision{K::kDefer, until, "quiet_hours"};
    }
  } else {
    RG_TRY(ToLocal(now, s.timezone));
  }
  // The most restrictive cap decides: a skip wins over a defer; among defers the latest.
  std::optional<Decision> capped;
  for (const FrequencyCap& cap : s.caps) {
    if (cap.medium != f.medium) continue;
    std::vector<Micros> in_window;
    for (Micros t : f.sent_at)
      if (t > now - cap.period && t <= now) in_window.push_back(t);
    if (static_cast<int>(in_window.size()) < cap.max) continue;
    if (cap.action == CapAction::kSkip) return Decision{K::kSkip, 0, "frequency_cap"};
    // Sending becomes allowed once only max-1 of these remain in the window: when the
    // (size-max)-th oldest leaves it.
    std::sort(in_window.begin(), in_window.end());
    Micros until = in_window[in_window.size() - cap.max] + cap.period;
    if (!capped || until > capped->until) capped = Decision{K::kDefer, until, "frequency_cap"};
  }
  if (capped) return *capped;
  return Decision{};
}

}  // namespace regulars::messaging
