#pragma once

// Earning rules and the pure function that scores an order with them. No I/O; the rule
// definition's JSON form is parsed in earning.cpp (domain headers carry no JSON).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::loyalty {

enum class RuleKind {
  kPerAmount,   // `points` for every `per_amount_minor` spent on matching lines
  kPerVisit,    // `points` per qualifying order
  kPerItem,     // `points` per unit of a matching item
  kMultiplier,  // multiplies what the other rules of the point type earned
};
enum class Rounding { kFloor, kRound, kCeil };
enum class Stacking { kSum, kBestOf };

struct EarningRule {
  Id id = 0;
  int version = 1;
  Id point_type_id = 0;
  std::string name;
  RuleKind kind = RuleKind::kPerAmount;
  int64_t points = 0;
  int64_t per_amount_minor = 0;
  Rounding rounding = Rounding::kFloor;
  int64_t factor_milli = 1000;  // multipliers: 2000 = ×2
  Stacking stacking = Stacking::kSum;
  // Conditions; empty means "any".
  std::vector<std::string> skus;
  std::vector<std::string> categories;
  std::vector<Id> branch_ids;
  std::vector<int> weekdays;  // 0 = Sunday … 6 = Saturday, in the merchant's zone
  std::optional<Date> from;   // local dates, inclusive
  std::optional<Date> to;
  bool birthday_month = false;
  std::vector<int> tier_levels;  // the member's tier level must be one of these
  int64_t min_spend_minor = 0;
  int64_t cap_per_order = 0;  // 0 = no cap
  int64_t cap_per_day = 0;    // 0 = no cap; per member and local day
};

// Parses a rule definition (the JSON object of the API) into `rule`'s fields. Errors name the
// field under "definition." ("definition.per_amount_minor: must be a positive integer").
Status ParseRuleDefinition(std::string_view json_text, EarningRule& rule);
std::string RuleDefinitionJson(const EarningRule& rule);

struct OrderLine {
  std::string sku;
  std::optional<std::string> category;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
};

// What the scorer needs to know about an order, all already resolved to local time.
struct OrderFacts {
  int64_t total_minor = 0;
  std::vector<OrderLine> lines;
  std::optional<Id> branch_id;
  int local_weekday = 0;
  Date local_date;
  bool birthday_month = false;
  int tier_level = 0;
  std::string tier_name;
  int64_t tier_multiplier_milli = 1000;  // the tier's benefit, applied after the rules
  // Points this member already earned today from each rule (for cap_per_day).
  std::map<Id, int64_t> earned_today_by_rule;
};

struct EarnLine {
  Id rule_id = 0;
  std::string rule_name;
  Id point_type_id = 0;
  int64_t points = 0;
  std::string explanation;  // "1 point per 30.00 on 450.00", "×2 weekend"
};

struct EarnResult {
  std::vector<EarnLine> lines;
  std::map<Id, int64_t> total_by_point_type;
};

// Scores an order. Base rules (per amount, per visit, per item) add up; multipliers of a point
// type then scale the base: those stacking by "sum" add their (factor − 1), of those stacking by
// "best_of" only the highest counts. Caps apply per rule; minimum spend gates a rule.
EarnResult ScoreOrder(const std::vector<EarningRule>& rules, const OrderFacts& order);

// The share of `earned` to take back when `refunded_after` of `total` has been refunded in all,
// given `reversed_before` already taken back. Cumulative, so partial refunds never drift and a
// full refund takes back exactly everything.
int64_t PointsToReverse(int64_t earned, int64_t total_minor, int64_t refunded_after_minor,
                        int64_t reversed_before);

}  // namespace regulars::loyalty
