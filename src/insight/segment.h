#pragma once

// Segments: the definition language (a JSON tree of and / or / not / saved-segment references /
// predicates over member features), its parser and validator, and its evaluation on one
// merchant's in-memory features into a bitmap of member indexes.
//
// A definition is parsed once into a typed `SegmentNode` tree; every error is invalid_argument
// with `field` set to the path of the offending node from the root ("definition.and[1].op") and
// a message that starts with that path. Evaluation is a pure function of (tree, features, now);
// saved-segment references are resolved through a callback so the caller decides where saved
// definitions live, and a reference cycle is an error naming the path where it closes.

#include <nlohmann/json_fwd.hpp>
#include <roaring/roaring.hh>

// CRoaring 0.2 (Debian 12) declares Roaring in the global namespace; later releases in roaring::.
namespace roaring {
using ::Roaring;
}

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::insight {

struct MerchantFeatures;

enum class SegmentFeature {
  // Numbers.
  kOrders,
  kSpendMinor,
  kAovMinor,
  kDaysSinceLastOrder,
  kDaysSinceFirstOrder,
  kDaysSinceJoined,
  kPoints,
  kWalletMinor,
  kTierRank,
  // Model scores (numbers; members without a score never match).
  kPAlive,
  kExpectedPurchases90d,
  kExpectedValueMinor,
  // Sets of things bought / visited.
  kCategory,
  kSku,
  kBranch,
  // Strings.
  kRegion,
  kCity,
  kGender,
  kLanguage,
  kTier,
  kRfmGroup,
  kTag,
  // Booleans.
  kConsentSms,
  kConsentEmail,
  kConsentLine,
  // Calendar.
  kBirthday,
  kWeekday,
  kDayOfMonth,
};

enum class SegmentOp {
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
  kBetween,
  kIn,
  kAll,
  kNone,
  kNotIn,
  kInNextDays,
  kMonthIn,
};

// How a feature is compared; decides its operators and the shape of its value.
enum class FeatureType { kNumber, kScore, kSet, kString, kTag, kBool, kBirthday, kDayList };

struct FeatureInfo {
  SegmentFeature feature;
  std::string_view name;
  FeatureType type;
  bool takes_window;           // accepts "window_days"
  std::vector<SegmentOp> ops;  // in the order error messages list them
};

// Every feature of the language, in catalogue order.
const std::vector<FeatureInfo>& SegmentFeatures();
const FeatureInfo& InfoOf(SegmentFeature f);
std::string_view OpName(SegmentOp op);

// One predicate: {"feature", "op", "value" | "values", "window_days"?}. Which members of the
// value fields are used depends on the feature type:
//   kNumber / kScore: `lo` (and `hi` for between, inclusive); kNumber also in `ilo` / `ihi`.
//   kSet, kString, kTag: `strings` (branch and tier ids as their decimal strings; rfm_group
//     names, rfm.h's ParseRfmGroup); kBool: `flag`; kBirthday: `lo` = days for in_next_days, `ints`
//     = months;
//   kDayList: `ints` (weekdays 1 = Monday .. 7, or days of month 1..31).
struct SegmentPredicate {
  SegmentFeature feature = SegmentFeature::kOrders;
  SegmentOp op = SegmentOp::kEq;
  double lo = 0, hi = 0;
  int64_t ilo = 0, ihi = 0;  // the same bounds as integers, for kNumber
  std::vector<std::string> strings;
  std::vector<int> ints;
  bool flag = false;
  std::optional<int> window_days;  // 1..3650
};

struct SegmentNode {
  enum class Kind { kAnd, kOr, kNot, kSegment, kPredicate };
  Kind kind = Kind::kPredicate;
  std::string path;                   // "definition.and[1]": where this node sits
  std::vector<SegmentNode> children;  // and / or: one or more; not: exactly one
  Id segment_id = 0;                  // kSegment
  SegmentPredicate predicate;         // kPredicate
};

// Parses and validates a definition. `root` names the root in paths and messages.
Result<SegmentNode> ParseSegmentDefinition(const nlohmann::json& definition,
                                           std::string_view root = "definition");

// The ids of saved segments the tree refers to directly, in document order.
std::vector<Id> SegmentRefs(const SegmentNode& node);
// Whether the tree uses a relative-time condition (days_since_*, window_days, birthday), whose
// result changes with the clock alone.
bool DependsOnTime(const SegmentNode& node);

// Looks up a saved segment's parsed definition; not_found when there is no such segment.
using SegmentResolver = std::function<Result<std::shared_ptr<const SegmentNode>>(Id segment_id)>;

// What one evaluation did, for tests and benchmarks (counts, never timings).
struct SegmentEvalStats {
  uint64_t predicates = 0;       // predicate nodes evaluated
  uint64_t members_tested = 0;   // per-member tests by column scans and order-log predicates
  uint64_t order_logs_read = 0;  // member order logs opened by windowed / calendar predicates
};

// The members of `features` matching `node` at `now`, as a bitmap of member indexes.
// `resolve` may be empty when the tree has no segment references. Errors: invalid_argument
// naming the reference path for an unknown segment or a reference cycle.
//
// An AND evaluates its children cheapest first (saved-segment references and bitmap lookups,
// then plain column scans, then order-log walks), each only over the members still matching
// the children before it, and stops at an empty result (except on no members at all, where
// every reference is still checked). OR and NOT see the same candidates; NOT complements
// against them. The result is the same as evaluating every node over all members. `stats`,
// when given, receives the counts of this evaluation.
Result<roaring::Roaring> EvaluateSegment(const SegmentNode& node, const MerchantFeatures& features,
                                         Micros now, const SegmentResolver& resolve = {},
                                         SegmentEvalStats* stats = nullptr);

// The merchant's UTC offset as a step function of time, for calendar predicates over many
// orders without a time-zone lookup each (built once from the tz database for a span of years).
class ZoneOffsets {
 public:
  // Covers [from_s, to_s] (Unix seconds); outside it the nearest known offset applies.
  static Result<ZoneOffsets> For(std::string_view timezone, int64_t from_s, int64_t to_s);
  // Seconds to add to a UTC instant to get local wall-clock seconds.
  int64_t OffsetAt(int64_t utc_s) const;
  // The same, starting from the interval `*hint` (updated): constant time for nearby instants.
  int64_t OffsetAt(int64_t utc_s, size_t* hint) const;
  // The transitions: offsets_[i] applies from starts_[i] (starts_[0] is "forever before").
  const std::vector<int64_t>& starts() const { return starts_; }
  const std::vector<int64_t>& offsets() const { return offsets_; }

 private:
  std::vector<int64_t> starts_;
  std::vector<int64_t> offsets_;
};

// The local (month, day) pairs whose birthdays fall within today .. today + days in `timezone`
// at `now`, encoded month * 100 + day; Feb 29 is included when Feb 28 is in a non-leap year.
Result<std::vector<int>> BirthdayKeysWithin(Micros now, std::string_view timezone, int days);

}  // namespace regulars::insight
