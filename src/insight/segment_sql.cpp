#include "insight/segment_sql.h"

#include <fmt/format.h>

#include <algorithm>

namespace regulars::insight {
namespace {

using Op = SegmentOp;
using F = SegmentFeature;

// The member's orders: `o` correlated with the outer `m`.
constexpr std::string_view kMemberOrders =
    "FROM orders o WHERE o.merchant_id = m.merchant_id AND o.member_id = m.id";
constexpr std::string_view kCounted = " AND o.total_minor - o.refunded_minor > 0";

class Compiler {
 public:
  explicit Compiler(const SegmentSqlContext& ctx)
      : ctx_(ctx), pg_(ctx.dialect == store::Dialect::kPostgres) {
    now_s_ = ctx.now >= 0 ? ctx.now / kMicrosPerSecond
                          : -((-ctx.now + kMicrosPerSecond - 1) / kMicrosPerSecond);
  }

  Result<std::string> Node(const SegmentNode& n, const std::string* ref_path) {
    using K = SegmentNode::Kind;
    switch (n.kind) {
      case K::kAnd:
      case K::kOr: {
        std::string out = "(";
        for (size_t i = 0; i < n.children.size(); ++i) {
          if (i) out += n.kind == K::kAnd ? "\n AND " : "\n OR ";
          RG_ASSIGN_OR_RETURN(std::string c, Node(n.children[i], ref_path));
          out += c;
        }
        return out + ")";
      }
      case K::kNot: {
        RG_ASSIGN_OR_RETURN(std::string c, Node(n.children[0], ref_path));
        return "(NOT " + c + ")";
      }
      case K::kSegment: {
        std::string field = (ref_path ? *ref_path : n.path) + ".segment";
        Id id = n.segment_id;
        if (std::find(stack_.begin(), stack_.end(), id) != stack_.end())
          return InvalidField(field, fmt::format("segment {} refers to itself", IdToString(id)));
        if (!ctx_.resolve) return InvalidField(field, "no segment " + IdToString(id));
        auto def = ctx_.resolve(id);
        if (!def) {
          if (def.error().code == Code::kNotFound)
            return InvalidField(field, "no segment " + IdToString(id));
          return std::unexpected(def.error());
        }
        std::shared_ptr<const SegmentNode> held = *def;
        stack_.push_back(id);
        auto r = Node(*held, ref_path ? ref_path : &n.path);
        stack_.pop_back();
        return r;
      }
      case K::kPredicate: {
        RG_ASSIGN_OR_RETURN(std::string p, Predicate(n.predicate, n.path));
        // Every predicate is exactly true or false (never NULL), so NOT means "all the others".
        return "(CASE WHEN " + p + " THEN 1 ELSE 0 END = 1)";
      }
    }
    return Fail(Code::kInternal, "unknown segment node");
  }

 private:
  std::string Param(std::string s) {
    params_.emplace_back(std::move(s));
    return "?";
  }
  std::string Params(const std::vector<std::string>& values) {
    std::string out = "(";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + Param(values[i]);
    return out + ")";
  }
  static std::string Ints(const std::vector<int>& values) {
    std::string out = "(";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
    return out + ")";
  }
  static std::string IdList(const std::vector<std::string>& ids) {
    std::string out = "(";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + ids[i];  // validated ids
    return out + ")";
  }

  std::string Window(const SegmentPredicate& p) const {
    if (!p.window_days) return "";
    int64_t cutoff_s = now_s_ - int64_t{*p.window_days} * 86'400;
    return fmt::format(" AND o.occurred_at >= {}", cutoff_s * kMicrosPerSecond);
  }

  // `expr op value` for a numeric predicate.
  static std::string Compare(const std::string& expr, const SegmentPredicate& p) {
    switch (p.op) {
      case Op::kEq:
        return fmt::format("{} = {}", expr, p.ilo);
      case Op::kNe:
        return fmt::format("{} <> {}", expr, p.ilo);
      case Op::kGt:
        return fmt::format("{} > {}", expr, p.ilo);
      case Op::kGe:
        return fmt::format("{} >= {}", expr, p.ilo);
      case Op::kLt:
        return fmt::format("{} < {}", expr, p.ilo);
      case Op::kLe:
        return fmt::format("{} <= {}", expr, p.ilo);
      case Op::kBetween:
        return fmt::format("{} BETWEEN {} AND {}", expr, p.ilo, p.ihi);
      default:
        return "1 = 0";
    }
  }

  std::string OrderCount(const SegmentPredicate& p) const {
    return fmt::format("(SELECT COUNT(*) {}{}{})", kMemberOrders, kCounted, Window(p));
  }
  std::string OrderSpend(const SegmentPredicate& p) const {
    // A refund never takes an order's net below zero (feature_store.h).
    return fmt::format(
        "(SELECT CAST(COALESCE(SUM(CASE WHEN o.total_minor > o.refunded_minor THEN o.total_minor "
        "- o.refunded_minor ELSE 0 END), 0) AS BIGINT) {}{})",
        kMemberOrders, Window(p));
  }
  std::string OrderTime(const char* agg) const {
    return fmt::format("(SELECT {}(o.occurred_at) {}{})", agg, kMemberOrders, kCounted);
  }
  std::string DaysSince(const std::string& micros) const {
    return fmt::format("(({} - {}) / {})", ctx_.now, micros, kMicrosPerDay);
  }

  // The member's tier rank: the position (1 = lowest) of the effective level among the
  // merchant's tiers, 0 when the level has no tier.
  std::string TierRank() const {
    std::string level = TierLevel();
    return fmt::format(
        "(SELECT COUNT(*) FROM tiers x WHERE x.merchant_id = m.merchant_id AND x.level <= {0} AND "
        "EXISTS (SELECT 1 FROM tiers y WHERE y.merchant_id = m.merchant_id AND y.level = {0}))",
        level);
  }

  // The member's effective tier level now: an override until it ends, else the kept level.
  std::string TierLevel() const {
    return fmt::format(
        "COALESCE((SELECT CASE WHEN t.override_level IS NOT NULL AND (t.override_until IS NULL "
        "OR t.override_until > {}) THEN t.override_level ELSE t.level END FROM member_tiers t "
        "WHERE t.merchant_id = m.merchant_id AND t.member_id = m.id), 0)",
        ctx_.now);
  }

  // Local wall-clock seconds of o.occurred_at in the merchant's zone.
  Result<std::string> LocalSeconds() {
    RG_ASSIGN_OR_RETURN(ZoneOffsets z, ZoneOffsets::For(ctx_.timezone, 0, now_s_ + 400 * 86'400));
    std::string s = "(o.occurred_at / 1000000)";
    const auto& starts = z.starts();
    const auto& offsets = z.offsets();
    if (offsets.size() == 1) return fmt::format("({} + {})", s, offsets[0]);
    std::string out = "(" + s + " + CASE";
    for (size_t k = 0; k + 1 < offsets.size(); ++k)
      out += fmt::format(" WHEN {} < {} THEN {}", s, starts[k + 1], offsets[k]);
    out += fmt::format(" ELSE {} END)", offsets.back());
    return out;
  }

  std::string TagExists(const std::string& in_list) const {
    if (pg_)
      return "EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST(m.tags AS jsonb)) AS j(v) "
             "WHERE j.v IN " +
             in_list + ")";
    return "EXISTS (SELECT 1 FROM json_each(m.tags) AS j WHERE j.value IN " + in_list + ")";
  }

  // An order of the member (any, refunded or not) in the window matching `cond` on o / i.
  std::string BoughtExists(const SegmentPredicate& p, const std::string& cond, bool items) const {
    if (items)
      return fmt::format(
          "EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.merchant_id = o.merchant_id "
          "AND i.order_id = o.id WHERE o.merchant_id = m.merchant_id AND o.member_id = m.id{} "
          "AND {})",
          Window(p), cond);
    return fmt::format("EXISTS (SELECT 1 {}{} AND {})", kMemberOrders, Window(p), cond);
  }

  Result<std::string> Predicate(const SegmentPredicate& p, const std::string& path) {
    switch (p.feature) {
      case F::kOrders:
        return Compare(OrderCount(p), p);
      case F::kSpendMinor:
        return Compare(OrderSpend(p), p);
      case F::kAovMinor:
        return fmt::format("({} > 0 AND {})", OrderCount(p),
                           Compare(fmt::format("({} / {})", OrderSpend(p), OrderCount(p)), p));
      case F::kDaysSinceLastOrder:
        return fmt::format("({} IS NOT NULL AND {})", OrderTime("MAX"),
                           Compare(DaysSince(OrderTime("MAX")), p));
      case F::kDaysSinceFirstOrder:
        return fmt::format("({} IS NOT NULL AND {})", OrderTime("MIN"),
                           Compare(DaysSince(OrderTime("MIN")), p));
      case F::kDaysSinceJoined:
        return Compare(DaysSince("m.created_at"), p);
      case F::kPoints:
        return Compare(
            "(SELECT CAST(COALESCE(SUM(b.balance), 0) AS BIGINT) FROM point_balances b WHERE "
            "b.merchant_id = m.merchant_id AND b.member_id = m.id AND b.point_type_id NOT IN "
            "(SELECT s.point_type_id FROM stamp_cards s WHERE s.merchant_id = m.merchant_id))",
            p);
      case F::kWalletMinor:
        return Compare(
            "COALESCE((SELECT w.paid_minor + w.bonus_minor FROM wallet_balances w WHERE "
            "w.merchant_id = m.merchant_id AND w.member_id = m.id), 0)",
            p);
      case F::kTierRank:
        return Compare(TierRank(), p);
      case F::kTier: {
        std::string in = fmt::format(
            "COALESCE((SELECT x.id FROM tiers x WHERE x.merchant_id = m.merchant_id AND x.level "
            "= {}), 0) IN {}",
            TierLevel(), IdList(p.strings));
        return p.op == Op::kNotIn ? "NOT (" + in + ")" : in;
      }
      case F::kPAlive:
      case F::kExpectedPurchases90d:
      case F::kExpectedValueMinor:
      case F::kRfmGroup:
        return InvalidField(path + ".feature",
                            fmt::format("feature \"{}\" is computed in memory and has no SQL form",
                                        InfoOf(p.feature).name));
      case F::kCategory:
      case F::kSku:
      case F::kBranch: {
        auto one = [&](const std::vector<std::string>& values) {
          if (p.feature == F::kBranch)
            return BoughtExists(p, "o.branch_id IN " + IdList(values), false);
          const char* col = p.feature == F::kCategory ? "i.category" : "i.sku";
          return BoughtExists(p, std::string(col) + " IN " + Params(values), true);
        };
        if (p.op == Op::kAll) {
          std::string out = "(";
          for (size_t k = 0; k < p.strings.size(); ++k)
            out += (k ? " AND " : "") + one({p.strings[k]});
          return out + ")";
        }
        std::string any = one(p.strings);
        return p.op == Op::kNone ? "NOT " + any : any;
      }
      case F::kTag: {
        if (p.op == Op::kAll) {
          std::string out = "(";
          for (size_t k = 0; k < p.strings.size(); ++k)
            out += (k ? " AND " : "") + TagExists(Params({p.strings[k]}));
          return out + ")";
        }
        std::string any = TagExists(Params(p.strings));
        return p.op == Op::kNone ? "NOT " + any : any;
      }
      case F::kRegion:
      case F::kCity:
      case F::kGender:
      case F::kLanguage: {
        const char* col = p.feature == F::kRegion   ? "m.region"
                          : p.feature == F::kCity   ? "m.city"
                          : p.feature == F::kGender ? "m.gender"
                                                    : "m.language";
        std::string in = fmt::format("COALESCE({}, '') IN {}", col, Params(p.strings));
        return p.op == Op::kNotIn ? "NOT (" + in + ")" : in;
      }
      case F::kConsentSms:
      case F::kConsentEmail:
      case F::kConsentLine: {
        const char* channel = p.feature == F::kConsentSms     ? "sms"
                              : p.feature == F::kConsentEmail ? "email"
                                                              : "line";
        std::string granted = fmt::format(
            "EXISTS (SELECT 1 FROM member_consents c WHERE c.merchant_id = m.merchant_id AND "
            "c.member_id = m.id AND c.channel = '{}' AND c.granted <> 0)",
            channel);
        return p.flag ? granted : "NOT " + granted;
      }
      case F::kBirthday: {
        if (p.op == Op::kMonthIn)
          return fmt::format("(m.birth_day BETWEEN 1 AND 31 AND m.birth_month IN {})",
                             Ints(p.ints));
        RG_ASSIGN_OR_RETURN(std::vector<int> keys,
                            BirthdayKeysWithin(ctx_.now, ctx_.timezone, static_cast<int>(p.ilo)));
        return fmt::format(
            "(m.birth_month BETWEEN 1 AND 12 AND m.birth_day BETWEEN 1 AND 31 AND "
            "m.birth_month * 100 + m.birth_day IN {})",
            Ints(keys));
      }
      case F::kWeekday:
      case F::kDayOfMonth: {
        RG_ASSIGN_OR_RETURN(std::string local, LocalSeconds());
        std::string value;
        if (p.feature == F::kWeekday)
          value = fmt::format("((({} / 86400) + 3) % 7 + 1)", local);
        else if (pg_)
          value = fmt::format(
              "CAST(EXTRACT(DAY FROM to_timestamp({}) AT TIME ZONE 'UTC') AS INTEGER)", local);
        else
          value = fmt::format("CAST(strftime('%d', {}, 'unixepoch') AS INTEGER)", local);
        return BoughtExists(p, value + " IN " + Ints(p.ints), false);
      }
    }
    return Fail(Code::kInternal, "unknown segment feature");
  }

  const SegmentSqlContext& ctx_;
  bool pg_;
  int64_t now_s_ = 0;
  std::vector<Id> stack_;

 public:
  std::vector<store::Value> params_;
};

}  // namespace

Result<SegmentSql> CompileSegmentSql(const SegmentNode& node, const SegmentSqlContext& ctx) {
  Compiler c(ctx);
  RG_ASSIGN_OR_RETURN(std::string cond, c.Node(node, nullptr));
  SegmentSql out;
  out.sql = fmt::format(
      "SELECT m.id FROM members m\nWHERE m.merchant_id = {} AND m.merged_into IS NULL AND "
      "m.erased_at IS NULL\n AND {}\nORDER BY m.id",
      ctx.merchant_id, cond);
  out.params = std::move(c.params_);
  return out;
}

}  // namespace regulars::insight
