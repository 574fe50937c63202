#include "loyalty/tier.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace regulars::loyalty {

Status ValidateTiers(const std::vector<Tier>& tiers) {
  if (tiers.size() > kMaxTiers) return InvalidField("tiers", "at most 10 tiers");
  std::vector<Tier> sorted = tiers;
  std::sort(sorted.begin(), sorted.end(),
            [](const Tier& a, const Tier& b) { return a.level < b.level; });
  std::set<int> seen;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const Tier& t = sorted[i];
    if (t.level < 1 || t.level > kMaxTiers) return InvalidField("level", "must be 1 to 10");
    if (!seen.insert(t.level).second)
      return Fail(Code::kAlreadyExists,
                  fmt::format("level: another tier already has level {}", t.level), "level");
    if (t.threshold < 0) return InvalidField("threshold", "must not be negative");
    if (i > 0 && t.threshold <= sorted[i - 1].threshold)
      return InvalidField("threshold", fmt::format("must be above level {}'s threshold of {}",
                                                   sorted[i - 1].level, sorted[i - 1].threshold));
    if (t.earn_multiplier_milli < 1000 || t.earn_multiplier_milli > 100000)
      return InvalidField("earn_multiplier", "must be from 1 to 100");
  }
  return {};
}

int QualifiedLevel(const std::vector<Tier>& tiers, int64_t value) {
  int best = 0;
  for (const Tier& t : tiers)
    if (value >= t.threshold && t.level > best) best = t.level;
  return best;
}

int EffectiveLevel(const MemberTierState& s, Micros now) {
  if (s.override_level && (!s.override_until || now < *s.override_until)) return *s.override_level;
  return s.level;
}

TierDecision OnQualification(const MemberTierState& s, int qualified, Micros now) {
  TierDecision d{s, false, ""};
  if (qualified > s.level) {
    d.next.level = qualified;
    d.next.since = now;
    d.next.grace_until.reset();
    d.changed = true;
    d.reason = "upgrade";
  } else if (qualified >= s.level && s.grace_until) {
    d.next.grace_until.reset();
    d.changed = true;
    d.reason = "grace_cleared";
  }
  return d;
}

TierDecision OnReview(const MemberTierState& s, int qualified, Micros now, int grace_days) {
  TierDecision d = OnQualification(s, qualified, now);
  if (d.changed || qualified >= s.level) return d;
  if (!s.grace_until) {
    d.next.grace_until = now + grace_days * kMicrosPerDay;
    d.changed = true;
    d.reason = "grace_started";
  } else if (now >= *s.grace_until) {
    d.next.level = qualified;
    d.next.since = now;
    d.next.grace_until.reset();
    d.changed = true;
    d.reason = "downgrade";
  }
  return d;
}

Micros WindowStart(const TierProgram& p, Micros now, Micros year_start) {
  if (p.window == TierWindow::kCalendarYear) return year_start;
  return now - static_cast<Micros>(p.window_days) * kMicrosPerDay;
}

}  // namespace regulars::loyalty
