#include "insight/segment.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "base/zone.h"
#include "insight/feature_store.h"
#include "insight/rfm.h"

namespace regulars::insight {
namespace {

using nlohmann::json;
using Op = SegmentOp;
using F = SegmentFeature;

constexpr int kMaxDepth = 32;
constexpr size_t kMaxValues = 500;

const std::vector<Op> kNumberOps = {Op::kEq, Op::kNe, Op::kGt,     Op::kGe,
                                    Op::kLt, Op::kLe, Op::kBetween};
const std::vector<Op> kSetOps = {Op::kIn, Op::kAll, Op::kNone};
const std::vector<Op> kStringOps = {Op::kIn, Op::kNotIn};

std::string Quote(std::string_view s) { return json(std::string(s)).dump(); }

std::string Join(const std::vector<std::string_view>& names, std::string_view sep = ", ") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += sep;
    out += names[i];
  }
  return out;
}

std::string OpList(const std::vector<Op>& ops) {
  std::vector<std::string_view> names;
  for (Op op : ops) names.push_back(OpName(op));
  return Join(names);
}

std::string FeatureList() {
  std::vector<std::string_view> names;
  for (const auto& f : SegmentFeatures()) names.push_back(f.name);
  return Join(names);
}

std::unexpected<Error> At(const std::string& field, std::string_view why) {
  return InvalidField(field, why);
}

bool IsInt64(const json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return v.is_number_integer();
}

// Reads an integer within [lo, hi] or fails with `why` at `field`.
Result<int64_t> IntIn(const json& v, const std::string& field, int64_t lo, int64_t hi,
                      std::string_view why) {
  if (!IsInt64(v)) return At(field, why);
  int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) return At(field, why);
  return x;
}

class Parser {
 public:
  Result<SegmentNode> Node(const json& j, const std::string& path, int depth) {
    if (depth > kMaxDepth)
      return At(path, fmt::format("nested too deeply (at most {} levels)", kMaxDepth));
    if (!j.is_object())
      return At(path, "must be an object with one of and, or, not, segment or feature");
    SegmentNode n;
    n.path = path;
    for (const char* key : {"and", "or"}) {
      if (!j.contains(key)) continue;
      RG_TRY(OnlyKeys(j, path, {key}));
      const json& list = j.at(key);
      std::string field = path + "." + key;
      if (!list.is_array() || list.empty())
        return At(field, "must be a non-empty list of conditions");
      n.kind = std::string_view(key) == "and" ? SegmentNode::Kind::kAnd : SegmentNode::Kind::kOr;
      for (size_t i = 0; i < list.size(); ++i) {
        RG_ASSIGN_OR_RETURN(SegmentNode child,
                            Node(list[i], fmt::format("{}[{}]", field, i), depth + 1));
        n.children.push_back(std::move(child));
      }
      return n;
    }
    if (j.contains("not")) {
      RG_TRY(OnlyKeys(j, path, {"not"}));
      n.kind = SegmentNode::Kind::kNot;
      RG_ASSIGN_OR_RETURN(SegmentNode child, Node(j.at("not"), path + ".not", depth + 1));
      n.children.push_back(std::move(child));
      return n;
    }
    if (j.contains("segment")) {
      RG_TRY(OnlyKeys(j, path, {"segment"}));
      n.kind = SegmentNode::Kind::kSegment;
      const json& v = j.at("segment");
      std::optional<Id> id;
      if (v.is_string()) id = ParseId(v.get<std::string>());
      if (IsInt64(v) && v.get<int64_t>() > 0) id = v.get<int64_t>();
      if (!id) return At(path + ".segment", "must be a segment id");
      n.segment_id = *id;
      return n;
    }
    if (j.contains("feature")) {
      RG_TRY(OnlyKeys(j, path, {"feature", "op", "value", "values", "window_days"}));
      n.kind = SegmentNode::Kind::kPredicate;
      RG_ASSIGN_OR_RETURN(n.predicate, Predicate(j, path));
      return n;
    }
    return At(path, "must be an object with one of and, or, not, segment or feature");
  }

 private:
  static Status OnlyKeys(const json& j, const std::string& path,
                         std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, _] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        return At(path + "." + key, "unknown field");
    }
    return {};
  }

  static Result<SegmentPredicate> Predicate(const json& j, const std::string& path) {
    SegmentPredicate p;
    const json& fv = j.at("feature");
    if (!fv.is_string()) return At(path + ".feature", "must be a string");
    std::string fname = fv.get<std::string>();
    const FeatureInfo* info = nullptr;
    for (const auto& f : SegmentFeatures())
      if (f.name == fname) info = &f;
    if (!info)
      return At(path + ".feature",
                fmt::format("{} is not a feature (use {})", Quote(fname), FeatureList()));
    p.feature = info->feature;

    std::string op_field = path + ".op";
    if (!j.contains("op")) return At(op_field, fmt::format("is required ({})", OpList(info->ops)));
    if (!j.at("op").is_string()) return At(op_field, "must be a string");
    std::string oname = j.at("op").get<std::string>();
    auto op =
        std::find_if(info->ops.begin(), info->ops.end(), [&](Op o) { return OpName(o) == oname; });
    if (op == info->ops.end())
      return At(op_field, fmt::format("{} is not an operator of feature {} (use {})", Quote(oname),
                                      Quote(info->name), OpList(info->ops)));
    p.op = *op;

    if (j.contains("window_days")) {
      std::string field = path + ".window_days";
      if (!info->takes_window)
        return At(field, fmt::format("feature {} does not take window_days", Quote(info->name)));
      RG_ASSIGN_OR_RETURN(int64_t w, IntIn(j.at("window_days"), field, 1, 3650,
                                           "must be an integer from 1 to 3650"));
      p.window_days = static_cast<int>(w);
    }

    // Which of value / values the operator takes.
    bool wants_list = p.op == Op::kBetween || p.op == Op::kIn || p.op == Op::kAll ||
                      p.op == Op::kNone || p.op == Op::kNotIn || p.op == Op::kMonthIn;
    std::string value_field = path + ".value", values_field = path + ".values";
    if (wants_list) {
      if (j.contains("value"))
        return At(value_field,
                  fmt::format("op {} takes values (a list), not value", Quote(OpName(p.op))));
      if (!j.contains("values"))
        return At(values_field, fmt::format("is required for op {}", Quote(OpName(p.op))));
    } else {
      if (j.contains("values"))
        return At(values_field, fmt::format("op {} takes value, not values", Quote(OpName(p.op))));
      if (!j.contains("value"))
        return At(value_field, fmt::format("is required for op {}", Quote(OpName(p.op))));
    }

    switch (info->type) {
      case FeatureType::kNumber:
      case FeatureType::kScore: {
        bool integer = info->type == FeatureType::kNumber;
        auto number = [&](const json& v, const std::string& field) -> Status {
          if (integer ? !IsInt64(v) : !v.is_number())
            return At(field, integer ? "must be an integer" : "must be a number");
          return {};
        };
        if (p.op == Op::kBetween) {
          const json& vs = j.at("values");
          if (!vs.is_array() || vs.size() != 2) return At(values_field, "must be [low, high]");
          RG_TRY(number(vs[0], values_field + "[0]"));
          RG_TRY(number(vs[1], values_field + "[1]"));
          p.lo = vs[0].get<double>();
          p.hi = vs[1].get<double>();
          if (integer) {
            p.ilo = vs[0].get<int64_t>();
            p.ihi = vs[1].get<int64_t>();
          }
          if (p.lo > p.hi) return At(values_field, "low must not be above high");
        } else {
          RG_TRY(number(j.at("value"), value_field));
          p.lo = p.hi = j.at("value").get<double>();
          if (integer) p.ilo = p.ihi = j.at("value").get<int64_t>();
        }
        return p;
      }
      case FeatureType::kSet:
      case FeatureType::kString:
      case FeatureType::kTag: {
        const json& vs = j.at("values");
        if (!vs.is_array() || vs.empty())
          return At(values_field, "must be a non-empty list of strings");
        if (vs.size() > kMaxValues)
          return At(values_field, fmt::format("must have at most {} values", kMaxValues));
        bool ids = p.feature == F::kBranch || p.feature == F::kTier;
        for (size_t i = 0; i < vs.size(); ++i) {
          std::string field = fmt::format("{}[{}]", values_field, i);
          if (!vs[i].is_string()) return At(field, "must be a string");
          std::string s = vs[i].get<std::string>();
          if (s.empty()) return At(field, "must not be empty");
          if (ids) {
            auto id = ParseId(s);
            if (!id)
              return At(field,
                        p.feature == F::kBranch ? "must be a branch id" : "must be a tier id");
            s = IdToString(*id);
          }
          if (p.feature == F::kRfmGroup && !ParseRfmGroup(s)) {
            const auto& names = RfmGroupNames();
            return At(field,
                      fmt::format("{} is not an RFM group (use {})", Quote(s),
                                  Join(std::vector<std::string_view>(names.begin(), names.end()))));
          }
          p.strings.push_back(std::move(s));
        }
        return p;
      }
      case FeatureType::kBool: {
        const json& v = j.at("value");
        if (!v.is_boolean()) return At(value_field, "must be true or false");
        p.flag = v.get<bool>();
        return p;
      }
      case FeatureType::kBirthday: {
        if (p.op == Op::kInNextDays) {
          RG_ASSIGN_OR_RETURN(int64_t d, IntIn(j.at("value"), value_field, 0, 366,
                                               "must be an integer from 0 to 366"));
          p.lo = p.hi = static_cast<double>(d);
          p.ilo = p.ihi = d;
          return p;
        }
        return IntList(j.at("values"), values_field, 1, 12, "months (1 to 12)",
                       "must be a month from 1 to 12", p);
      }
      case FeatureType::kDayList:
        if (p.feature == F::kWeekday)
          return IntList(j.at("values"), values_field, 1, 7, "weekdays (1 = Monday to 7 = Sunday)",
                         "must be a weekday from 1 (Monday) to 7 (Sunday)", p);
        return IntList(j.at("values"), values_field, 1, 31, "days of month (1 to 31)",
                       "must be a day of month from 1 to 31", p);
    }
    return At(path, "unsupported feature");
  }

  static Result<SegmentPredicate> IntList(const json& vs, const std::string& field, int lo, int hi,
                                          std::string_view what, std::string_view why,
                                          SegmentPredicate p) {
    if (!vs.is_array() || vs.empty())
      return At(field, fmt::format("must be a non-empty list of {}", what));
    if (vs.size() > kMaxValues)
      return At(field, fmt::format("must have at most {} values", kMaxValues));
    for (size_t i = 0; i < vs.size(); ++i) {
      RG_ASSIGN_OR_RETURN(int64_t v, IntIn(vs[i], fmt::format("{}[{}]", field, i), lo, hi, why));
      p.ints.push_back(static_cast<int>(v));
    }
    std::sort(p.ints.begin(), p.ints.end());
    p.ints.erase(std::unique(p.ints.begin(), p.ints.end()), p.ints.end());
    return p;
  }
};

void CollectRefs(const SegmentNode& n, std::vector<Id>* out) {
  if (n.kind == SegmentNode::Kind::kSegment) out->push_back(n.segment_id);
  for (const auto& c : n.children) CollectRefs(c, out);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

class Evaluator {
 public:
  Evaluator(const MerchantFeatures& f, Micros now, const SegmentResolver& resolve)
      : f_(f),
        now_(now),
        now_s_(FloorDiv(now, kMicrosPerSecond)),
        n_(static_cast<uint32_t>(f.size())),
        resolve_(resolve) {
    scratch_.resize(n_);
  }

  const SegmentEvalStats& stats() const { return stats_; }

  // The members matching `node` among the current candidates (all members when unrestricted).
  Result<roaring::Roaring> Eval(const SegmentNode& node, const std::string* ref_path) {
    using K = SegmentNode::Kind;
    switch (node.kind) {
      case K::kAnd:
        return And(node, ref_path);
      case K::kOr: {
        roaring::Roaring acc;
        for (const auto& c : node.children) {
          RG_ASSIGN_OR_RETURN(roaring::Roaring next, Eval(c, ref_path));
          acc |= next;
        }
        return acc;
      }
      case K::kNot: {
        RG_ASSIGN_OR_RETURN(roaring::Roaring inner, Eval(node.children[0], ref_path));
        return Universe() - inner;
      }
      case K::kSegment: {
        RG_ASSIGN_OR_RETURN(roaring::Roaring r, Reference(node, ref_path));
        if (scope_.set) r &= *scope_.set;
        return r;
      }
      case K::kPredicate: {
        ++stats_.predicates;
        RG_ASSIGN_OR_RETURN(roaring::Roaring r, Predicate(node.predicate));
        // Bitmap lookups answer for all members; column scans already kept to the candidates.
        if (scope_.set) r &= *scope_.set;
        return r;
      }
    }
    return roaring::Roaring();
  }

 private:
  // The members predicates look at: all (set == nullptr), or `set`, also listed in `ids`.
  struct Scope {
    const roaring::Roaring* set = nullptr;
    const uint32_t* ids = nullptr;
    size_t count = 0;
  };
  // Restores the candidates on every way out of a node, errors included.
  struct ScopeGuard {
    Evaluator* e;
    Scope saved;
    ~ScopeGuard() { e->scope_ = saved; }
  };

  // How much work a node costs per candidate: 0 bitmap lookups and saved segments (evaluated
  // over all members once either way), 1 plain column scans, 2 walks of member order logs.
  static int Cost(const SegmentNode& node) {
    using K = SegmentNode::Kind;
    if (node.kind == K::kSegment) return 0;
    if (node.kind != K::kPredicate) {
      int cost = 0;
      for (const auto& c : node.children) cost = std::max(cost, Cost(c));
      return cost;
    }
    const SegmentPredicate& p = node.predicate;
    switch (p.feature) {
      case F::kCategory:
      case F::kSku:
      case F::kBranch:
        return p.window_days ? 2 : 0;
      case F::kTag:
        return 0;
      case F::kOrders:
      case F::kSpendMinor:
      case F::kAovMinor:
        return p.window_days ? 2 : 1;
      case F::kWeekday:
      case F::kDayOfMonth:
        return 2;
      default:
        return 1;
    }
  }

  // Children cheapest first (document order among equals), each evaluated only over the
  // members matching all before it.
  Result<roaring::Roaring> And(const SegmentNode& node, const std::string* ref_path) {
    std::vector<const SegmentNode*> order;
    for (const auto& c : node.children) order.push_back(&c);
    std::stable_sort(order.begin(), order.end(), [](const SegmentNode* a, const SegmentNode* b) {
      return Cost(*a) < Cost(*b);
    });
    ScopeGuard guard{this, scope_};
    roaring::Roaring acc;
    std::vector<uint32_t> ids;
    for (size_t k = 0; k < order.size(); ++k) {
      // Nothing left to match; with no members at all, go on so every reference is checked.
      if (k > 0 && acc.isEmpty() && n_ != 0) break;
      RG_ASSIGN_OR_RETURN(roaring::Roaring next, Eval(*order[k], ref_path));
      acc = std::move(next);  // a subset of the candidates, so already the intersection
      if (k + 1 < order.size()) {
        ids.resize(acc.cardinality());
        if (!ids.empty()) acc.toUint32Array(ids.data());
        scope_ = Scope{&acc, ids.data(), ids.size()};
      }
    }
    return acc;
  }

  // The complement's universe: the candidates.
  roaring::Roaring Universe() const { return scope_.set ? *scope_.set : All(); }

  roaring::Roaring All() const {
    roaring::Roaring all;
    if (n_) all.addRange(0, n_);
    return all;
  }

  Result<roaring::Roaring> Reference(const SegmentNode& node, const std::string* ref_path) {
    // Errors inside a referenced definition are reported at the reference in the root tree.
    std::string field = (ref_path ? *ref_path : node.path) + ".segment";
    Id id = node.segment_id;
    if (std::find(stack_.begin(), stack_.end(), id) != stack_.end()) {
      std::string chain;
      auto from = std::find(stack_.begin(), stack_.end(), id);
      for (auto it = from; it != stack_.end(); ++it) chain += IdToString(*it) + " -> ";
      chain += IdToString(id);
      return At(field, fmt::format("segment {} refers to itself ({})", IdToString(id), chain));
    }
    if (auto it = memo_.find(id); it != memo_.end()) return it->second;
    if (!resolve_) return At(field, fmt::format("no segment {}", IdToString(id)));
    auto def = resolve_(id);
    if (!def) {
      if (def.error().code == Code::kNotFound)
        return At(field, fmt::format("no segment {}", IdToString(id)));
      return std::unexpected(def.error());
    }
    std::shared_ptr<const SegmentNode> held = *def;
    // Over all members, so the memo answers every later reference whatever its candidates.
    ScopeGuard guard{this, scope_};
    scope_ = Scope{};
    stack_.push_back(id);
    auto r = Eval(*held, ref_path ? ref_path : &node.path);
    stack_.pop_back();
    if (!r) return r;
    memo_.emplace(id, *r);
    return r;
  }

  // Collects the candidates i with keep(i) into a bitmap; no allocation per member, and no
  // branch on keep's answer (every index is written, the cursor advances by the answer).
  template <class Keep>
  roaring::Roaring Filter(Keep keep) {
    uint32_t* out = scratch_.data();
    size_t k = 0;
    if (scope_.set) {
      const uint32_t* ids = scope_.ids;
      for (size_t j = 0, n = scope_.count; j < n; ++j) {
        uint32_t i = ids[j];
        out[k] = i;
        k += keep(i) ? 1 : 0;
      }
      stats_.members_tested += scope_.count;
    } else {
      for (uint32_t i = 0; i < n_; ++i) {
        out[k] = i;
        k += keep(i) ? 1 : 0;
      }
      stats_.members_tested += n_;
    }
    roaring::Roaring r;
    if (k) r.addMany(k, out);
    return r;
  }

  // A numeric comparison of value(i) for members with has(i), the operator dispatched once.
  template <class T, class Has, class Value>
  roaring::Roaring Compare(Op op, T lo, T hi, Has has, Value value) {
    switch (op) {
      case Op::kEq:
        return Filter([&](uint32_t i) { return has(i) && value(i) == lo; });
      case Op::kNe:
        return Filter([&](uint32_t i) { return has(i) && value(i) != lo; });
      case Op::kGt:
        return Filter([&](uint32_t i) { return has(i) && value(i) > lo; });
      case Op::kGe:
        return Filter([&](uint32_t i) { return has(i) && value(i) >= lo; });
      case Op::kLt:
        return Filter([&](uint32_t i) { return has(i) && value(i) < lo; });
      case Op::kLe:
        return Filter([&](uint32_t i) { return has(i) && value(i) <= lo; });
      case Op::kBetween:
        return Filter([&](uint32_t i) {
          if (!has(i)) return false;
          auto v = value(i);
          return v >= lo && v <= hi;
        });
      default:
        return roaring::Roaring();
    }
  }

  template <class Has, class Value>
  roaring::Roaring CompareInt(const SegmentPredicate& p, Has has, Value value) {
    return Compare<int64_t>(p.op, p.ilo, p.ihi, has, value);
  }

  roaring::Roaring CompareScore(const SegmentPredicate& p, const std::vector<float>& col) {
    if (col.size() != n_) return roaring::Roaring();
    return Compare<double>(
        p.op, p.lo, p.hi, [&](uint32_t i) { return !std::isnan(col[i]); },
        [&](uint32_t i) { return static_cast<double>(col[i]); });
  }

  // The first index of member i's order log inside the window (the log is oldest first).
  // Every walk of a member's order log starts here (counted in stats_.order_logs_read).
  size_t WindowStart(uint32_t i, const std::optional<int>& window_days) {
    ++stats_.order_logs_read;
    const auto log = f_.Orders(i);
    if (!window_days) return 0;
    int64_t cutoff = now_s_ - int64_t{*window_days} * 86'400;
    auto it = std::lower_bound(log.begin(), log.end(), cutoff,
                               [](const OrderFact& o, int64_t t) { return int64_t{o.at_s} < t; });
    return static_cast<size_t>(it - log.begin());
  }

  Result<roaring::Roaring> Predicate(const SegmentPredicate& p) {
    auto always = [](uint32_t) { return true; };
    switch (p.feature) {
      case F::kOrders:
        if (!p.window_days)
          return CompareInt(p, always, [&](uint32_t i) { return int64_t{f_.orders[i]}; });
        return CompareInt(p, always, [&](uint32_t i) {
          int64_t count = 0;
          const auto log = f_.Orders(i);
          for (size_t k = WindowStart(i, p.window_days); k < log.size(); ++k)
            count += f_.NetMinor(log[k]) > 0;
          return count;
        });
      case F::kSpendMinor:
        if (!p.window_days)
          return CompareInt(p, always, [&](uint32_t i) { return f_.spend_minor[i]; });
        return CompareInt(p, always, [&](uint32_t i) {
          int64_t sum = 0;
          const auto log = f_.Orders(i);
          for (size_t k = WindowStart(i, p.window_days); k < log.size(); ++k)
            sum += f_.NetMinor(log[k]);
          return sum;
        });
      case F::kAovMinor:
        if (!p.window_days)
          return CompareInt(
              p, [&](uint32_t i) { return f_.orders[i] > 0; },
              [&](uint32_t i) { return f_.spend_minor[i] / f_.orders[i]; });
        return WindowedAov(p);
      case F::kDaysSinceLastOrder:
        return CompareInt(
            p, [&](uint32_t i) { return f_.last_order_at[i] != 0; },
            [&](uint32_t i) { return (now_ - f_.last_order_at[i]) / kMicrosPerDay; });
      case F::kDaysSinceFirstOrder:
        return CompareInt(
            p, [&](uint32_t i) { return f_.first_order_at[i] != 0; },
            [&](uint32_t i) { return (now_ - f_.first_order_at[i]) / kMicrosPerDay; });
      case F::kDaysSinceJoined:
        return CompareInt(p, always,
                          [&](uint32_t i) { return (now_ - f_.joined_at[i]) / kMicrosPerDay; });
      case F::kPoints:
        return CompareInt(p, always, [&](uint32_t i) { return f_.points[i]; });
      case F::kWalletMinor:
        return CompareInt(p, always, [&](uint32_t i) { return f_.wallet_minor[i]; });
      case F::kTierRank:
        return CompareInt(p, always, [&](uint32_t i) { return int64_t{f_.tier_rank[i]}; });
      case F::kPAlive:
        return CompareScore(p, f_.p_alive);
      case F::kExpectedPurchases90d:
        return CompareScore(p, f_.expected_purchases_90d);
      case F::kExpectedValueMinor:
        return CompareScore(p, f_.expected_value_minor);
      case F::kCategory:
      case F::kSku:
      case F::kBranch:
        return Bought(p);
      case F::kTag:
        return Tags(p);
      case F::kRegion:
        return StringColumn(p, f_.regions, f_.region);
      case F::kCity:
        return StringColumn(p, f_.cities, f_.city);
      case F::kGender:
        return StringColumn(p, f_.genders, f_.gender);
      case F::kLanguage:
        return StringColumn(p, f_.languages, f_.language);
      case F::kTier: {
        std::vector<Id> ids;
        for (const auto& s : p.strings) ids.push_back(*ParseId(s));
        roaring::Roaring in = Filter([&](uint32_t i) {
          return f_.tier_id[i] != 0 &&
                 std::find(ids.begin(), ids.end(), f_.tier_id[i]) != ids.end();
        });
        return p.op == Op::kNotIn ? Universe() - in : in;
      }
      case F::kRfmGroup: {
        bool wanted[256] = {};
        for (const auto& s : p.strings)
          if (auto g = ParseRfmGroup(s)) wanted[static_cast<uint8_t>(*g)] = true;
        roaring::Roaring in;
        if (f_.rfm_group.size() == n_)
          in = Filter([&](uint32_t i) { return wanted[f_.rfm_group[i]]; });
        return p.op == Op::kNotIn ? Universe() - in : in;
      }
      case F::kConsentSms:
      case F::kConsentEmail:
      case F::kConsentLine: {
        uint8_t bit = p.feature == F::kConsentSms ? 1 : p.feature == F::kConsentEmail ? 2 : 4;
        bool want = p.flag;
        return Filter([&](uint32_t i) { return ((f_.consent[i] & bit) != 0) == want; });
      }
      case F::kBirthday:
        return Birthday(p);
      case F::kWeekday:
      case F::kDayOfMonth:
        return OrderDays(p);
    }
    return roaring::Roaring();
  }

  roaring::Roaring WindowedAov(const SegmentPredicate& p) {
    // Per member: (orders, spend) in the window, then the comparison on spend / orders.
    auto totals = [&](uint32_t i, int64_t* orders, int64_t* spend) {
      const auto log = f_.Orders(i);
      for (size_t k = WindowStart(i, p.window_days); k < log.size(); ++k) {
        const int64_t net = f_.NetMinor(log[k]);
        *orders += net > 0;
        *spend += net;
      }
    };
    int64_t last_orders = 0, last_spend = 0;
    uint32_t last = UINT32_MAX;
    auto load = [&](uint32_t i) {
      if (i != last) {
        last = i;
        last_orders = last_spend = 0;
        totals(i, &last_orders, &last_spend);
      }
    };
    return CompareInt(
        p,
        [&](uint32_t i) {
          load(i);
          return last_orders > 0;
        },
        [&](uint32_t i) {
          load(i);
          return last_spend / last_orders;
        });
  }

  // category / sku / branch: in (any of), all (all of), none (none of), ever or in the window.
  roaring::Roaring Bought(const SegmentPredicate& p) {
    const Dictionary& dict = p.feature == F::kCategory ? f_.categories
                             : p.feature == F::kSku    ? f_.skus
                                                       : f_.branches;
    const std::vector<roaring::Roaring>& sets = p.feature == F::kCategory ? f_.category_members
                                                : p.feature == F::kSku    ? f_.sku_members
                                                                          : f_.branch_members;
    std::vector<uint32_t> codes;  // known values only: an unknown value was never bought
    bool unknown = false;
    for (const auto& s : p.strings) {
      auto c = dict.Find(s);
      if (c && *c != 0) {
        if (std::find(codes.begin(), codes.end(), *c) == codes.end()) codes.push_back(*c);
      } else {
        unknown = true;
      }
    }
    if (p.op == Op::kAll && unknown) return roaring::Roaring();
    roaring::Roaring result;
    if (!p.window_days) {
      if (p.op == Op::kAll) {
        for (size_t k = 0; k < codes.size(); ++k) {
          roaring::Roaring s = codes[k] < sets.size() ? sets[codes[k]] : roaring::Roaring();
          if (k == 0)
            result = std::move(s);
          else
            result &= s;
        }
      } else {
        for (uint32_t c : codes)
          if (c < sets.size()) result |= sets[c];
      }
    } else {
      // Scan each member's orders in the window.
      uint32_t tag = p.feature == F::kSku ? MerchantFeatures::kSkuCodeBit : 0;
      for (uint32_t& c : codes) c |= tag;
      bool branch = p.feature == F::kBranch;
      std::vector<uint8_t> seen(codes.size());
      if (!codes.empty())
        result = Filter([&](uint32_t i) {
          const auto log = f_.Orders(i);
          size_t start = WindowStart(i, p.window_days);
          if (start == log.size()) return false;
          size_t found = 0;
          std::fill(seen.begin(), seen.end(), 0);
          auto see = [&](uint32_t code) {
            for (size_t k = 0; k < codes.size(); ++k)
              if (codes[k] == code && !seen[k]) {
                seen[k] = 1;
                ++found;
              }
          };
          for (size_t o = start; o < log.size(); ++o) {
            const OrderFact& fact = log[o];
            if (branch) {
              see(f_.Branch(fact));
            } else {
              for (uint32_t code : f_.Items(fact)) see(code);
            }
            if (p.op != Op::kAll ? found > 0 : found == codes.size()) break;
          }
          return p.op == Op::kAll ? found == codes.size() : found > 0;
        });
    }
    if (p.op == Op::kNone) return Universe() - result;
    return result;
  }

  roaring::Roaring Tags(const SegmentPredicate& p) {
    std::vector<uint32_t> codes;
    bool unknown = false;
    for (const auto& s : p.strings) {
      auto c = f_.tags.Find(s);
      if (c && *c != 0 && *c < f_.tag_members.size())
        codes.push_back(*c);
      else
        unknown = true;
    }
    roaring::Roaring r;
    if (p.op == Op::kAll) {
      if (unknown || codes.empty()) return r;
      r = f_.tag_members[codes[0]];
      for (size_t k = 1; k < codes.size(); ++k) r &= f_.tag_members[codes[k]];
      return r;
    }
    for (uint32_t c : codes) r |= f_.tag_members[c];
    return p.op == Op::kNone ? Universe() - r : r;
  }

  roaring::Roaring StringColumn(const SegmentPredicate& p, const Dictionary& dict,
                                const std::vector<uint32_t>& col) {
    std::vector<uint32_t> codes;
    for (const auto& s : p.strings) {
      auto c = dict.Find(s);
      if (c && *c != 0) codes.push_back(*c);
    }
    roaring::Roaring in;
    if (codes.size() == 1) {
      uint32_t c = codes[0];
      in = Filter([&](uint32_t i) { return col[i] == c; });
    } else if (!codes.empty()) {
      in = Filter(
          [&](uint32_t i) { return std::find(codes.begin(), codes.end(), col[i]) != codes.end(); });
    }
    return p.op == Op::kNotIn ? Universe() - in : in;
  }

  Result<roaring::Roaring> Birthday(const SegmentPredicate& p) {
    bool hit[13][32] = {};
    if (p.op == Op::kInNextDays) {
      RG_ASSIGN_OR_RETURN(std::vector<int> keys,
                          BirthdayKeysWithin(now_, f_.timezone, static_cast<int>(p.ilo)));
      for (int k : keys) hit[k / 100][k % 100] = true;
    } else {
      for (int m : p.ints)
        for (int d = 1; d <= 31; ++d) hit[m][d] = true;
    }
    return Filter([&](uint32_t i) {
      int m = f_.birth_month[i], d = f_.birth_day[i];
      return m >= 1 && m <= 12 && d >= 1 && d <= 31 && hit[m][d];
    });
  }

  // weekday / day_of_month: bought on any of the given local days (in the window, if any).
  Result<roaring::Roaring> OrderDays(const SegmentPredicate& p) {
    if (!zone_) {
      RG_ASSIGN_OR_RETURN(ZoneOffsets z, ZoneOffsets::For(f_.timezone, 0, now_s_ + 400 * 86'400));
      zone_ = std::move(z);
    }
    bool wanted[32] = {};
    for (int v : p.ints) wanted[v] = true;
    bool weekday = p.feature == F::kWeekday;
    const ZoneOffsets& zone = *zone_;
    size_t hint = zone.starts().size() - 1;  // most orders are recent
    return Filter([&](uint32_t i) {
      const auto log = f_.Orders(i);
      for (size_t k = WindowStart(i, p.window_days); k < log.size(); ++k) {
        const int64_t at_s = log[k].at_s;
        int64_t local = at_s + zone.OffsetAt(at_s, &hint);
        int64_t day = FloorDiv(local, 86'400);
        int v = weekday ? static_cast<int>(((day % 7 + 7 + 3) % 7) + 1) : CivilFromDays(day).day;
        if (wanted[v]) return true;
      }
      return false;
    });
  }

  const MerchantFeatures& f_;
  Micros now_;
  int64_t now_s_;
  uint32_t n_;
  const SegmentResolver& resolve_;
  std::vector<uint32_t> scratch_;  // n_ slots: Filter's output
  Scope scope_;
  SegmentEvalStats stats_;
  std::vector<Id> stack_;
  std::map<Id, roaring::Roaring> memo_;
  std::optional<ZoneOffsets> zone_;
};

}  // namespace

std::string_view OpName(SegmentOp op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kBetween:
      return "between";
    case Op::kIn:
      return "in";
    case Op::kAll:
      return "all";
    case Op::kNone:
      return "none";
    case Op::kNotIn:
      return "not_in";
    case Op::kInNextDays:
      return "in_next_days";
    case Op::kMonthIn:
      return "month_in";
  }
  return "?";
}

const std::vector<FeatureInfo>& SegmentFeatures() {
  using T = FeatureType;
  static const std::vector<FeatureInfo> kFeatures = {
      {F::kOrders, "orders", T::kNumber, true, kNumberOps},
      {F::kSpendMinor, "spend_minor", T::kNumber, true, kNumberOps},
      {F::kAovMinor, "aov_minor", T::kNumber, true, kNumberOps},
      {F::kDaysSinceLastOrder, "days_since_last_order", T::kNumber, false, kNumberOps},
      {F::kDaysSinceFirstOrder, "days_since_first_order", T::kNumber, false, kNumberOps},
      {F::kDaysSinceJoined, "days_since_joined", T::kNumber, false, kNumberOps},
      {F::kPoints, "points", T::kNumber, false, kNumberOps},
      {F::kWalletMinor, "wallet_minor", T::kNumber, false, kNumberOps},
      {F::kTierRank, "tier_rank", T::kNumber, false, kNumberOps},
      {F::kPAlive, "p_alive", T::kScore, false, kNumberOps},
      {F::kExpectedPurchases90d, "expected_purchases_90d", T::kScore, false, kNumberOps},
      {F::kExpectedValueMinor, "expected_value_minor", T::kScore, false, kNumberOps},
      {F::kCategory, "category", T::kSet, true, kSetOps},
      {F::kSku, "sku", T::kSet, true, kSetOps},
      {F::kBranch, "branch", T::kSet, true, kSetOps},
      {F::kRegion, "region", T::kString, false, kStringOps},
      {F::kCity, "city", T::kString, false, kStringOps},
      {F::kGender, "gender", T::kString, false, kStringOps},
      {F::kLanguage, "language", T::kString, false, kStringOps},
      {F::kTier, "tier", T::kString, false, kStringOps},
      {F::kRfmGroup, "rfm_group", T::kString, false, kStringOps},
      {F::kTag, "tag", T::kTag, false, kSetOps},
      {F::kConsentSms, "consent_sms", T::kBool, false, {Op::kEq}},
      {F::kConsentEmail, "consent_email", T::kBool, false, {Op::kEq}},
      {F::kConsentLine, "consent_line", T::kBool, false, {Op::kEq}},
      {F::kBirthday, "birthday", T::kBirthday, false, {Op::kInNextDays, Op::kMonthIn}},
      {F::kWeekday, "weekday", T::kDayList, true, {Op::kIn}},
      {F::kDayOfMonth, "day_of_month", T::kDayList, true, {Op::kIn}},
  };
  return kFeatures;
}

const FeatureInfo& InfoOf(SegmentFeature f) {
  for (const auto& info : SegmentFeatures())
    if (info.feature == f) return info;
  return SegmentFeatures().front();
}

Result<SegmentNode> ParseSegmentDefinition(const nlohmann::json& definition,
                                           std::string_view root) {
  Parser parser;
  return parser.Node(definition, std::string(root), 1);
}

std::vector<Id> SegmentRefs(const SegmentNode& node) {
  std::vector<Id> out;
  CollectRefs(node, &out);
  return out;
}

bool DependsOnTime(const SegmentNode& node) {
  if (node.kind == SegmentNode::Kind::kPredicate) {
    const auto& p = node.predicate;
    return p.window_days.has_value() || p.feature == F::kDaysSinceLastOrder ||
           p.feature == F::kDaysSinceFirstOrder || p.feature == F::kDaysSinceJoined ||
           p.feature == F::kBirthday;
  }
  for (const auto& c : node.children)
    if (DependsOnTime(c)) return true;
  return false;
}

Result<roaring::Roaring> EvaluateSegment(const SegmentNode& node, const MerchantFeatures& features,
                                         Micros now, const SegmentResolver& resolve,
                                         SegmentEvalStats* stats) {
  Evaluator e(features, now, resolve);
  auto r = e.Eval(node, nullptr);
  if (stats) *stats = e.stats();
  return r;
}

Result<ZoneOffsets> ZoneOffsets::For(std::string_view timezone, int64_t from_s, int64_t to_s) {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(std::string(timezone));
  } catch (const std::exception&) {
    return InvalidField("timezone", fmt::format("unknown time zone '{}'", timezone));
  }
  using namespace std::chrono;
  ZoneOffsets z;
  sys_seconds t{seconds{from_s}};
  sys_seconds end{seconds{to_s}};
  for (int guard = 0; guard < 100'000; ++guard) {
    date::sys_info info = zone->get_info(t);
    int64_t begin = z.starts_.empty() ? std::numeric_limits<int64_t>::min()
                                      : info.begin.time_since_epoch().count();
    int64_t offset = info.offset.count();
    if (z.offsets_.empty() || z.offsets_.back() != offset) {
      z.starts_.push_back(begin);
      z.offsets_.push_back(offset);
    }
    if (info.end > end || info.end <= t) break;
    t = info.end;
  }
  return z;
}

int64_t ZoneOffsets::OffsetAt(int64_t utc_s, size_t* hint) const {
  size_t k = *hint;
  if (k < starts_.size() && utc_s >= starts_[k] &&
      (k + 1 == starts_.size() || utc_s < starts_[k + 1]))
    return offsets_[k];
  auto it = std::upper_bound(starts_.begin(), starts_.end(), utc_s);
  if (it == starts_.begin()) return offsets_.empty() ? 0 : offsets_.front();
  *hint = static_cast<size_t>(it - starts_.begin()) - 1;
  return offsets_[*hint];
}

int64_t ZoneOffsets::OffsetAt(int64_t utc_s) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), utc_s);
  if (it == starts_.begin()) return offsets_.empty() ? 0 : offsets_.front();
  return offsets_[static_cast<size_t>(it - starts_.begin()) - 1];
}

Result<std::vector<int>> BirthdayKeysWithin(Micros now, std::string_view timezone, int days) {
  RG_ASSIGN_OR_RETURN(LocalTime today, ToLocal(now, timezone));
  int64_t first = DaysFromCivil(today.year, today.month, today.day);
  std::vector<int> keys;
  for (int k = 0; k <= days; ++k) {
    Date d = CivilFromDays(first + k);
    keys.push_back(d.month * 100 + d.day);
    if (d.month == 2 && d.day == 28 && !IsLeapYear(d.year)) keys.push_back(229);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace regulars::insight
