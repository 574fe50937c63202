#include "loyalty/earning.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace regulars::loyalty {

using nlohmann::json;

namespace {

std::string_view KindName(RuleKind k) {
  switch (k) {
    case RuleKind::kPerAmount:
      return "per_amount";
    case RuleKind::kPerVisit:
      return "per_visit";
    case RuleKind::kPerItem:
      return "per_item";
    case RuleKind::kMultiplier:
      return "multiplier";
  }
  return "per_amount";
}

std::unexpected<Error> Bad(const std::string& key, std::string_view why) {
  return InvalidField("definition." + key, why);
}

Result<int64_t> Int(const json& j, const char* key, int64_t def, int64_t min, int64_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer()) return Bad(key, "must be an integer");
  int64_t v = it->get<int64_t>();
  if (v < min || v > max) return Bad(key, fmt::format("must be from {} to {}", min, max));
  return v;
}

Result<std::vector<std::string>> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return Bad(key, "must be an array of strings");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty())
      return Bad(key, "must be an array of non-empty strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool Matches(const EarningRule& r, const OrderLine& l) {
  if (!r.skus.empty() && std::find(r.skus.begin(), r.skus.end(), l.sku) == r.skus.end())
    return false;
  if (!r.categories.empty() && (!l.category || std::find(r.categories.begin(), r.categories.end(),
                                                         *l.category) == r.categories.end()))
    return false;
  return true;
}

bool DateInRange(const Date& d, const std::optional<Date>& from, const std::optional<Date>& to) {
  auto key = [](const Date& x) { return x.year * 10000 + x.month * 100 + x.day; };
  if (from && key(d) < key(*from)) return false;
  if (to && key(d) > key(*to)) return false;
  return true;
}

bool Applies(const EarningRule& r, const OrderFacts& o) {
  if (!r.branch_ids.empty() && (!o.branch_id || std::find(r.branch_ids.begin(), r.branch_ids.end(),
                                                          *o.branch_id) == r.branch_ids.end()))
    return false;
  if (!r.weekdays.empty() &&
      std::find(r.weekdays.begin(), r.weekdays.end(), o.local_weekday) == r.weekdays.end())
    return false;
  if (!DateInRange(o.local_date, r.from, r.to)) return false;
  if (r.birthday_month && !o.birthday_month) return false;
  if (!r.tier_levels.empty() &&
      std::find(r.tier_levels.begin(), r.tier_levels.end(), o.tier_level) == r.tier_levels.end())
    return false;
  if (o.total_minor < r.min_spend_minor) return false;
  return true;
}

int64_t Divide(int64_t a, int64_t b, Rounding mode) {
  if (b <= 0) return 0;
  switch (mode) {
    case Rounding::kFloor:
      return a / b;
    case Rounding::kCeil:
      return (a + b - 1) / b;
    case Rounding::kRound:
      return (2 * a + b) / (2 * b);
  }
  return a / b;
}

int64_t Cap(const EarningRule& r, const OrderFacts& o, int64_t points) {
  if (r.cap_per_order > 0) points = std::min(points, r.cap_per_order);
  if (r.cap_per_day > 0) {
    auto it = o.earned_today_by_rule.find(r.id);
    int64_t used = it == o.earned_today_by_rule.end() ? 0 : it->second;
    points = std::min(points, std::max<int64_t>(0, r.cap_per_day - used));
  }
  return std::max<int64_t>(0, points);
}

std::string Amount(int64_t minor) { return fmt::format("{}.{:02}", minor / 100, minor % 100); }

}  // namespace

namespace {

Status ParseRuleDefinitionUncached(std::string_view text, EarningRule& r) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidField("definition", "must be a JSON object");
  // A definition replaces every field of the previous one; identity stays.
  EarningRule fresh;
  fresh.id = r.id;
  fresh.version = r.version;
  fresh.point_type_id = r.point_type_id;
  fresh.name = r.name;
  r = std::move(fresh);
  static constexpr std::string_view kKeys[] = {
      "kind",        "points",     "per_amount_minor", "rounding",        "factor",
      "stacking",    "skus",       "categories",       "branch_ids",      "weekdays",
      "from",        "to",         "birthday_month",   "min_spend_minor", "cap_per_order",
      "cap_per_day", "tier_levels"};
  for (const auto& [k, v] : j.items())
    if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
      return Bad(k, "unknown field");
  std::string kind = j.value("kind", "");
  if (kind == "per_amount")
    r.kind = RuleKind::kPerAmount;
  else if (kind == "per_visit")
    r.kind = RuleKind::kPerVisit;
  else if (kind == "per_item")
    r.kind = RuleKind::kPerItem;
  else if (kind == "multiplier")
    r.kind = RuleKind::kMultiplier;
  else
    return Bad("kind", "must be per_amount, per_visit, per_item or multiplier");
  if (r.kind != RuleKind::kMultiplier) {
    RG_ASSIGN_OR_RETURN(r.points, Int(j, "points", 0, 1, 1'000'000));
    if (r.points == 0) return Bad("points", "is required");
  }
  if (r.kind == RuleKind::kPerAmount) {
    RG_ASSIGN_OR_RETURN(r.per_amount_minor, Int(j, "per_amount_minor", 0, 1, INT64_C(1) << 40));
    if (r.per_amount_minor == 0) return Bad("per_amount_minor", "is required");
    std::string rounding = j.value("rounding", "floor");
    if (rounding == "floor")
      r.rounding = Rounding::kFloor;
    else if (rounding == "round")
      r.rounding = Rounding::kRound;
    else if (rounding == "ceil")
      r.rounding = Rounding::kCeil;
    else
      return Bad("rounding", "must be floor, round or ceil");
  }
  if (r.kind == RuleKind::kMultiplier) {
    auto f = j.find("factor");
    if (f == j.end() || !f->is_number() || f->get<double>() < 1 || f->get<double>() > 100)
      return Bad("factor", "must be a number from 1 to 100");
    r.factor_milli = static_cast<int64_t>(std::llround(f->get<double>() * 1000));
    std::string stacking = j.value("stacking", "sum");
    if (stacking == "sum")
      r.stacking = Stacking::kSum;
    else if (stacking == "best_of")
      r.stacking = Stacking::kBestOf;
    else
      return Bad("stacking", "must be sum or best_of");
  }
  RG_ASSIGN_OR_RETURN(r.skus, Strings(j, "skus"));
  RG_ASSIGN_OR_RETURN(r.categories, Strings(j, "categories"));
  RG_ASSIGN_OR_RETURN(auto branches, Strings(j, "branch_ids"));
  r.branch_ids.clear();
  for (const auto& b : branches) {
    auto id = ParseId(b);
    if (!id) return Bad("branch_ids", "must hold branch ids");
    r.branch_ids.push_back(*id);
  }
  r.weekdays.clear();
  if (auto w = j.find("weekdays"); w != j.end() && !w->is_null()) {
    if (!w->is_array()) return Bad("weekdays", "must be an array of 0 (Sunday) to 6");
    for (const auto& d : *w) {
      if (!d.is_number_integer() || d.get<int>() < 0 || d.get<int>() > 6)
        return Bad("weekdays", "must be an array of 0 (Sunday) to 6");
      r.weekdays.push_back(d.get<int>());
    }
  }
  for (const char* key : {"from", "to"}) {
    auto it = j.find(key);
    std::optional<Date>& out = std::string_view(key) == "from" ? r.from : r.to;
    out.reset();
    if (it == j.end() || it->is_null()) continue;
    auto d = it->is_string() ? ParseDate(it->get<std::string>()) : std::nullopt;
    if (!d || d->year == 0) return Bad(key, "must be a date YYYY-MM-DD");
    out = d;
  }
  if (auto t = j.find("tier_levels"); t != j.end() && !t->is_null()) {
    if (!t->is_array()) return Bad("tier_levels", "must be an array of tier levels 1 to 10");
    for (const auto& l : *t) {
      if (!l.is_number_integer() || l.get<int>() < 1 || l.get<int>() > 10)
        return Bad("tier_levels", "must be an array of tier levels 1 to 10");
      r.tier_levels.push_back(l.get<int>());
    }
  }
  if (auto b = j.find("birthday_month"); b != j.end() && !b->is_null()) {
    if (!b->is_boolean()) return Bad("birthday_month", "must be true or false");
    r.birthday_month = b->get<bool>();
  }
  RG_ASSIGN_OR_RETURN(r.min_spend_minor, Int(j, "min_spend_minor", 0, 0, INT64_C(1) << 50));
  RG_ASSIGN_OR_RETURN(r.cap_per_order, Int(j, "cap_per_order", 0, 0, INT64_C(1) << 40));
  RG_ASSIGN_OR_RETURN(r.cap_per_day, Int(j, "cap_per_day", 0, 0, INT64_C(1) << 40));
  return {};
}

// Definitions that parsed, by their text: every order parses the rules in force, and a rule's
// text changes only with a new version. Bounded; thread-safe.
class DefinitionCache {
 public:
  bool Find(std::string_view text, EarningRule& r) {
    std::lock_guard lock(mu_);
    auto it = parsed_.find(text);
    if (it == parsed_.end()) return false;
    r = it->second;
    return true;
  }
  void Put(std::string_view text, const EarningRule& r) {
    std::lock_guard lock(mu_);
    if (parsed_.size() >= kMaxEntries) parsed_.clear();
    parsed_.emplace(std::string(text), r);
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, EarningRule, Hash, std::equal_to<>> parsed_;
};

DefinitionCache& Definitions() {
  static DefinitionCache cache;
  return cache;
}

}  // namespace

Status ParseRuleDefinition(std::string_view text, EarningRule& r) {
  EarningRule parsed;
  if (!Definitions().Find(text, parsed)) {
    RG_TRY(ParseRuleDefinitionUncached(text, r));
    parsed = r;
    Definitions().Put(text, parsed);
    return {};
  }
  // The cached definition with this rule's identity, as a fresh parse would leave it.
  parsed.id = r.id;
  parsed.version = r.version;
  parsed.point_type_id = r.point_type_id;
  parsed.name = r.name;
  r = std::move(parsed);
  return {};
}

std::string RuleDefinitionJson(const EarningRule& r) {
  json j = {{"kind", KindName(r.kind)}};
  if (r.kind != RuleKind::kMultiplier) j["points"] = r.points;
  if (r.kind == RuleKind::kPerAmount) {
    j["per_amount_minor"] = r.per_amount_minor;
    j["rounding"] = r.rounding == Rounding::kFloor   ? "floor"
                    : r.rounding == Rounding::kRound ? "round"
                                                     : "ceil";
  }
  if (r.kind == RuleKind::kMultiplier) {
    j["factor"] = static_cast<double>(r.factor_milli) / 1000.0;
    j["stacking"] = r.stacking == Stacking::kSum ? "sum" : "best_of";
  }
  if (!r.skus.empty()) j["skus"] = r.skus;
  if (!r.categories.empty()) j["categories"] = r.categories;
  if (!r.branch_ids.empty()) {
    json b = json::array();
    for (Id id : r.branch_ids) b.push_back(IdToString(id));
    j["branch_ids"] = b;
  }
  if (!r.weekdays.empty()) j["weekdays"] = r.weekdays;
  if (r.from) j["from"] = FormatDate(*r.from);
  if (r.to) j["to"] = FormatDate(*r.to);
  if (r.birthday_month) j["birthday_month"] = true;
  if (!r.tier_levels.empty()) j["tier_levels"] = r.tier_levels;
  if (r.min_spend_minor) j["min_spend_minor"] = r.min_spend_minor;
  if (r.cap_per_order) j["cap_per_order"] = r.cap_per_order;
  if (r.cap_per_day) j["cap_per_day"] = r.cap_per_day;
  return j.dump();
}

EarnResult ScoreOrder(const std::vector<EarningRule>& rules, const OrderFacts& o) {
  EarnResult out;
  int64_t items_sum = 0;
  for (const auto& l : o.lines) items_sum += l.quantity * l.unit_price_minor;
  std::map<Id, int64_t> base;
  for (const EarningRule& r : rules) {
    if (r.kind == RuleKind::kMultiplier || !Applies(r, o)) continue;
    int64_t points = 0;
    std::string why;
    bool filtered = !r.skus.empty() || !r.categories.empty();
    if (r.kind == RuleKind::kPerAmount) {
      int64_t amount = o.total_minor;
      if (filtered) {
        int64_t matched = 0;
        for (const auto& l : o.lines)
          if (Matches(r, l)) matched += l.quantity * l.unit_price_minor;
        // Order-level discounts apply to matching lines in proportion.
        amount =
            items_sum > 0
                ? static_cast<int64_t>((static_cast<__int128>(matched) * o.total_minor) / items_sum)
                : 0;
      }
      points = Divide(amount, r.per_amount_minor, r.rounding) * r.points;
      why = fmt::format("{} per {} on {}", r.points, Amount(r.per_amount_minor), Amount(amount));
    } else if (r.kind == RuleKind::kPerVisit) {
      if (filtered) {
        bool any = false;
        for (const auto& l : o.lines) any |= Matches(r, l);
        if (!any) continue;
      }
      points = r.points;
      why = fmt::format("{} per visit", r.points);
    } else if (r.kind == RuleKind::kPerItem) {
      int64_t units = 0;
      for (const auto& l : o.lines)
        if (Matches(r, l)) units += l.quantity;
      points = units * r.points;
      why = fmt::format("{} per item × {}", r.points, units);
    }
    int64_t capped = Cap(r, o, points);
    if (capped != points) why += fmt::format(" (capped at {})", capped);
    if (capped <= 0) continue;
    base[r.point_type_id] += capped;
    out.lines.push_back({r.id, r.name, r.point_type_id, capped, why});
  }
  // Multipliers scale each point type's base.
  std::map<Id, int64_t> best_extra_milli;
  std::map<Id, const EarningRule*> best_rule;
  std::vector<const EarningRule*> sums;
  for (const EarningRule& r : rules) {
    if (r.kind != RuleKind::kMultiplier || !Applies(r, o) || base[r.point_type_id] == 0) continue;
    if (r.stacking == Stacking::kSum) {
      sums.push_back(&r);
    } else if (r.factor_milli - 1000 > best_extra_milli[r.point_type_id]) {
      best_extra_milli[r.point_type_id] = r.factor_milli - 1000;
      best_rule[r.point_type_id] = &r;
    }
  }
  for (const auto& [pt, rule] : best_rule) sums.push_back(rule);
  for (const EarningRule* r : sums) {
    int64_t extra = base[r->point_type_id] * (r->factor_milli - 1000) / 1000;
    extra = Cap(*r, o, extra);
    if (extra <= 0) continue;
    out.lines.push_back({r->id, r->name, r->point_type_id, extra,
                         fmt::format("×{:g} on {}", static_cast<double>(r->factor_milli) / 1000,
                                     base[r->point_type_id])});
  }
  // The member's tier multiplies the base of every point type.
  if (o.tier_multiplier_milli > 1000)
    for (const auto& [pt, b] : base) {
      int64_t extra = b * (o.tier_multiplier_milli - 1000) / 1000;
      if (extra <= 0) continue;
      out.lines.push_back(
          {0, "tier: " + o.tier_name, pt, extra,
           fmt::format("×{:g} for {} on {}", static_cast<double>(o.tier_multiplier_milli) / 1000,
                       o.tier_name, b)});
    }
  for (const auto& l : out.lines) out.total_by_point_type[l.point_type_id] += l.points;
  return out;
}

int64_t PointsToReverse(int64_t earned, int64_t total_minor, int64_t refunded_after_minor,
                        int64_t reversed_before) {
  if (earned <= 0) return 0;
  int64_t should = total_minor <= 0 || refunded_after_minor >= total_minor
                       ? earned
                       : static_cast<int64_t>(
                             (static_cast<__int128>(earned) * refunded_after_minor) / total_minor);
  return std::max<int64_t>(0, should - reversed_before);
}

}  // namespace regulars::loyalty
