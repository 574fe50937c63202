#pragma once

// Tiers (會員分級): value types and the pure decisions — which level a member qualifies for,
// and what a review does. No I/O.

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::loyalty {

inline constexpr int kMaxTiers = 10;

enum class TierMetric { kSpend, kPoints };
enum class TierWindow { kRollingDays, kCalendarYear };

struct TierProgram {
  TierMetric metric = TierMetric::kSpend;
  std::optional<Id> point_type_id;  // for kPoints
  TierWindow window = TierWindow::kRollingDays;
  int window_days = 365;
  int grace_days = 30;
};

struct Tier {
  Id id = 0;
  int level = 1;  // 1..10; 0 is "no tier"
  std::string name;
  int64_t threshold = 0;  // minor units of spend, or points, within the window
  int64_t earn_multiplier_milli = 1000;
  std::string benefits_json = "{}";  // birthday_gift, welcome_gift, member_price_percent, ...
};

// Checks a set of tiers: at most 10, levels unique 1..10, thresholds rising with the level.
Status ValidateTiers(const std::vector<Tier>& tiers);

// The highest level whose threshold `value` reaches (0 when none).
int QualifiedLevel(const std::vector<Tier>& tiers, int64_t value);

struct MemberTierState {
  int level = 0;
  Micros since = 0;
  std::optional<Micros> grace_until;
  std::optional<int> override_level;
  std::optional<Micros> override_until;
};

// The level in effect now: an override until it ends, else the kept level.
int EffectiveLevel(const MemberTierState& s, Micros now);

// What to do with a member's tier. Upgrades happen at once (on every order); downgrades only at
// a review, after `grace_days` without qualifying.
struct TierDecision {
  MemberTierState next;
  bool changed = false;
  std::string reason;  // upgrade, downgrade, grace_started, grace_cleared
};
TierDecision OnQualification(const MemberTierState& s, int qualified, Micros now);
TierDecision OnReview(const MemberTierState& s, int qualified, Micros now, int grace_days);

// The start of the qualification window ending at `now`; for calendar years the local start of
// the year is passed in as `year_start`.
Micros WindowStart(const TierProgram& p, Micros now, Micros year_start);

}  // namespace regulars::loyalty
