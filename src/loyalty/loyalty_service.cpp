#include "loyalty/loyalty_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "base/text.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Rows;

Status RequireManager(const Actor& a, std::string_view what) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, fmt::format("only an owner or manager may {}", what));
  return {};
}

Status Emit(store::Tx& tx, const Actor& actor, std::string type, std::optional<Id> member,
            json data) {
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {std::move(type), member, actor.Label(), data.dump()}));
  return {};
}

Status RequireMember(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  if (m->merged_into)
    return Fail(MakeError(Code::kFailedPrecondition, "member was merged into another member")
                    .WithDetail("member_id", IdToString(*m->merged_into)));
  return {};
}

constexpr std::string_view kPointTypeCols =
    "merchant_id, id, code, name, expiry_kind, expiry_n, value_minor_per_1000, refund_shortfall, "
    "active, created_at, updated_at";

PointType PointTypeFromRow(const store::Row& r) {
  PointType p;
  p.merchant_id = r.Int(0);
  p.id = r.Int(1);
  p.code = r.Str(2);
  p.name = r.Str(3);
  p.expiry.kind = ParseExpiryKind(r.Str(4)).value_or(ExpiryKind::kNever);
  p.expiry.n = static_cast<int>(r.Int(5));
  p.value_minor_per_1000 = r.Int(6);
  p.shortfall = r.Str(7) == "debt" ? Shortfall::kDebt : Shortfall::kNegative;
  p.active = r.Bool(8);
  p.created_at = r.Int(9);
  p.updated_at = r.Int(10);
  return p;
}

Result<PointType> LoadPointType(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM point_types WHERE "
                                                      "merchant_id = ? AND id = ?",
                                                      kPointTypeCols),
                                          {merchant_id, id}));
  if (rows.empty()) return Fail(Code::kNotFound, "point type not found");
  return PointTypeFromRow(rows[0]);
}

Status ApplyPointType(PointType& p, const PointTypeInput& in) {
  if (in.code) {
    const std::string& c = *in.code;
    bool ok = !c.empty() && c.size() <= 40;
    for (char ch : c) ok &= (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    if (!ok) return InvalidField("code", "must be 1 to 40 of a-z, 0-9 and _");
    p.code = c;
  }
  if (in.name) {
    if (in.name->empty() || in.name->size() > 200 || !IsValidUtf8(*in.name))
      return InvalidField("name", "must be 1 to 200 bytes of text");
    p.name = *in.name;
  }
  if (in.expiry) {
    RG_TRY(ValidateExpiry(*in.expiry));
    p.expiry = *in.expiry;
  }
  if (in.value_minor_per_1000) {
    if (*in.value_minor_per_1000 < 0)
      return InvalidField("value_minor_per_1000", "must not be negative");
    p.value_minor_per_1000 = *in.value_minor_per_1000;
  }
  if (in.shortfall) p.shortfall = *in.shortfall;
  if (in.active) p.active = *in.active;
  return {};
}

Status SavePointType(store::Tx& tx, const PointType& p, bool insert) {
  std::vector<store::Value> v = {p.code,
                                 p.name,
                                 std::string(ExpiryKindName(p.expiry.kind)),
                                 int64_t{p.expiry.n},
                                 p.value_minor_per_1000,
                                 std::string(p.shortfall == Shortfall::kDebt ? "debt" : "negative"),
                                 int64_t{p.active ? 1 : 0},
                                 p.updated_at,
                                 p.merchant_id,
                                 p.id};
  Result<int64_t> r;
  if (insert) {
    v.push_back(p.created_at);
    r = tx.Exec(
        "INSERT INTO point_types (code, name, expiry_kind, expiry_n, value_minor_per_1000, "
        "refund_shortfall, active, updated_at, merchant_id, id, created_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        v);
  } else {
    r = tx.Exec(
        "UPDATE point_types SET code = ?, name = ?, expiry_kind = ?, expiry_n = ?, "
        "value_minor_per_1000 = ?, refund_shortfall = ?, active = ?, updated_at = ? "
        "WHERE merchant_id = ? AND id = ?",
        v);
  }
  if (!r && r.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, "code: another point type already uses this code", "code");
  RG_TRY(r);
  return BumpConfigVersion(tx, p.merchant_id);
}

}  // namespace

Result<MerchantSettings> LoadMerchantSettings(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT timezone, region, currency, register_on_order "
                                          "FROM merchants WHERE merchant_id = ?",
                                          {merchant_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
  return MerchantSettings{rows[0].Str(0), rows[0].Str(1), rows[0].Str(2), rows[0].Bool(3)};
}

// Point types ---------------------------------------------------------------------------------

Result<PointType> CreatePointType(store::Tx& tx, const Actor& actor, PointTypeInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  if (!in.code) return InvalidField("code", "is required");
  if (!in.name) return InvalidField("name", "is required");
  PointType p;
  p.merchant_id = actor.merchant_id;
  p.id = NewId();
  p.created_at = p.updated_at = actor.now;
  RG_TRY(ApplyPointType(p, in));
  RG_TRY(SavePointType(tx, p, true));
  return p;
}

Result<PointType> UpdatePointType(store::Tx& tx, const Actor& actor, Id id, PointTypeInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  RG_ASSIGN_OR_RETURN(PointType p, LoadPointType(tx, actor.merchant_id, id));
  if (in.code && *in.code != p.code) return InvalidField("code", "cannot be changed");
  RG_TRY(ApplyPointType(p, in));
  p.updated_at = actor.now;
  RG_TRY(SavePointType(tx, p, false));
  return p;
}

Result<std::vector<PointType>> ListPointTypes(store::Tx& tx, const Actor& actor) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM point_types WHERE "
                                                      "merchant_id = ? ORDER BY id",
                                                      kPointTypeCols),
                                          {actor.merchant_id}));
  std::vector<PointType> out;
  for (const auto& r : rows) out.push_back(PointTypeFromRow(r));
  return out;
}

Result<PointType> FindPointType(store::Tx& tx, const Actor& actor, const std::string& code_or_id,
                                std::string_view field) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM point_types WHERE "
                                           "merchant_id = ? AND (code = ? OR id = ?)",
                                           kPointTypeCols),
                               {actor.merchant_id, code_or_id, ParseId(code_or_id).value_or(-1)}));
  if (rows.empty())
    return InvalidField(std::string(field), fmt::format("no point type '{}'", code_or_id));
  return PointTypeFromRow(rows[0]);
}

// Earning rules -------------------------------------------------------------------------------

namespace {

constexpr std::string_view kRuleCols =
    "r.id, r.version, r.point_type_id, r.name, r.definition, r.active, r.valid_from, p.code";

Result<StoredRule> RuleFromRow(const store::Row& row) {
  StoredRule s;
  s.rule.id = row.Int(0);
  s.rule.version = static_cast<int>(row.Int(1));
  s.rule.point_type_id = row.Int(2);
  s.rule.name = row.Str(3);
  RG_TRY(ParseRuleDefinition(row.Str(4), s.rule));
  s.active = row.Bool(5);
  s.valid_from = row.Int(6);
  s.point_type_code = row.Str(7);
  return s;
}

Status InsertRuleVersion(store::Tx& tx, const Actor& actor, const StoredRule& s) {
  RG_TRY(tx.Exec(
      "INSERT INTO earning_rules (merchant_id, id, version, valid_from, valid_to, "
      "point_type_id, name, definition, active, created_at) VALUES (?, ?, ?, ?, NULL, "
      "?, ?, ?, ?, ?)",
      {actor.merchant_id, s.rule.id, int64_t{s.rule.version}, s.valid_from, s.rule.point_type_id,
       s.rule.name, RuleDefinitionJson(s.rule), int64_t{s.active ? 1 : 0}, actor.now}));
  return BumpConfigVersion(tx, actor.merchant_id);
}

Status ApplyRule(store::Tx& tx, const Actor& actor, StoredRule& s, const RuleInput& in) {
  if (in.point_type) {
    RG_ASSIGN_OR_RETURN(PointType p, FindPointType(tx, actor, *in.point_type, "point_type"));
    s.rule.point_type_id = p.id;
    s.point_type_code = p.code;
  }
  if (in.name) {
    if (in.name->empty() || in.name->size() > 200 || !IsValidUtf8(*in.name))
      return InvalidField("name", "must be 1 to 200 bytes of text");
    s.rule.name = *in.name;
  }
  if (in.definition_json) RG_TRY(ParseRuleDefinition(*in.definition_json, s.rule));
  if (in.active) s.active = *in.active;
  return {};
}

}  // namespace

Result<StoredRule> CreateRule(store::Tx& tx, const Actor& actor, RuleInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  if (!in.point_type) return InvalidField("point_type", "is required");
  if (!in.name) return InvalidField("name", "is required");
  if (!in.definition_json) return InvalidField("definition", "is required");
  StoredRule s;
  s.rule.id = NewId();
  s.rule.version = 1;
  s.valid_from = actor.now;
  RG_TRY(ApplyRule(tx, actor, s, in));
  RG_TRY(InsertRuleVersion(tx, actor, s));
  return s;
}

Result<StoredRule> UpdateRule(store::Tx& tx, const Actor& actor, Id id, RuleInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM earning_rules r JOIN point_types p ON "
                                           "p.merchant_id = r.merchant_id AND p.id = "
                                           "r.point_type_id WHERE r.merchant_id = ? AND r.id = ? "
                                           "AND r.valid_to IS NULL",
                                           kRuleCols),
                               {actor.merchant_id, id}));
  if (rows.empty()) return Fail(Code::kNotFound, "earning rule not found");
  RG_ASSIGN_OR_RETURN(StoredRule s, RuleFromRow(rows[0]));
  RG_TRY(ApplyRule(tx, actor, s, in));
  RG_TRY(
      tx.Exec("UPDATE earning_rules SET valid_to = ? WHERE merchant_id = ? AND id = ? AND "
              "version = ?",
              {actor.now, actor.merchant_id, id, int64_t{s.rule.version}}));
  s.rule.version += 1;
  s.valid_from = actor.now;
  RG_TRY(InsertRuleVersion(tx, actor, s));
  return s;
}

Result<std::vector<StoredRule>> ListRules(store::Tx& tx, const Actor& actor) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM earning_rules r JOIN point_types p ON "
                                           "p.merchant_id = r.merchant_id AND p.id = "
                                           "r.point_type_id WHERE r.merchant_id = ? AND "
                                           "r.valid_to IS NULL ORDER BY r.id",
                                           kRuleCols),
                               {actor.merchant_id}));
  std::vector<StoredRule> out;
  for (const auto& r : rows) {
    RG_ASSIGN_OR_RETURN(StoredRule s, RuleFromRow(r));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<EarningRule>> RulesInForce(store::Tx& tx, Id merchant_id, Micros at) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM earning_rules r JOIN point_types p ON p.merchant_id = "
                           "r.merchant_id AND p.id = r.point_type_id WHERE r.merchant_id = ? AND "
                           "r.valid_from <= ? AND (r.valid_to IS NULL OR r.valid_to > ?) AND "
                           "r.active = 1 AND p.active = 1 ORDER BY r.id",
                           kRuleCols),
               {merchant_id, at, at}));
  std::vector<EarningRule> out;
  for (const auto& r : rows) {
    RG_ASSIGN_OR_RETURN(StoredRule s, RuleFromRow(r));
    out.push_back(std::move(s.rule));
  }
  return out;
}

Result<std::vector<RuleVersion>> ActiveRuleVersions(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {}, r.valid_to FROM earning_rules r JOIN point_types p ON "
                           "p.merchant_id = r.merchant_id AND p.id = r.point_type_id WHERE "
                           "r.merchant_id = ? AND r.active = 1 AND p.active = 1 ORDER BY r.id, "
                           "r.version",
                           kRuleCols),
               {merchant_id}));
  std::vector<RuleVersion> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    RG_ASSIGN_OR_RETURN(StoredRule s, RuleFromRow(r));
    out.push_back({std::move(s.rule), s.valid_from, r.OptInt(8)});
  }
  return out;
}

std::vector<EarningRule> RulesAt(const std::vector<RuleVersion>& versions, Micros at) {
  std::vector<EarningRule> out;
  for (const RuleVersion& v : versions)
    if (v.valid_from <= at && (!v.valid_to || *v.valid_to > at)) out.push_back(v.rule);
  return out;
}

// Rewards -------------------------------------------------------------------------------------

namespace {

constexpr std::string_view kRewardCols =
    "id, name, point_type_id, points, stock, per_member_limit, active, created_at";

Reward RewardFromRow(const store::Row& r) {
  return Reward{r.Int(0),    r.Str(1),    r.Int(2),  r.Int(3),
                r.OptInt(4), r.OptInt(5), r.Bool(6), r.Int(7)};
}

Result<Reward> LoadReward(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM rewards WHERE merchant_id = "
                                                      "? AND id = ?",
                                                      kRewardCols),
                                          {merchant_id, id}));
  if (rows.empty()) return Fail(Code::kNotFound, "reward not found");
  return RewardFromRow(rows[0]);
}

Status ApplyReward(store::Tx& tx, const Actor& actor, Reward& w, const RewardInput& in) {
  if (in.name) {
    if (in.name->empty() || in.name->size() > 200 || !IsValidUtf8(*in.name))
      return InvalidField("name", "must be 1 to 200 bytes of text");
    w.name = *in.name;
  }
  if (in.point_type) {
    RG_ASSIGN_OR_RETURN(PointType p, FindPointType(tx, actor, *in.point_type, "point_type"));
    w.point_type_id = p.id;
  }
  if (in.points) {
    if (*in.points <= 0) return InvalidField("points", "must be a positive integer");
    w.points = *in.points;
  }
  if (in.stock) {
    if (*in.stock && **in.stock < 0) return InvalidField("stock", "must not be negative");
    w.stock = *in.stock;
  }
  if (in.per_member_limit) {
    if (*in.per_member_limit && **in.per_member_limit <= 0)
      return InvalidField("per_member_limit", "must be a positive integer");
    w.per_member_limit = *in.per_member_limit;
  }
  if (in.active) w.active = *in.active;
  return {};
}

}  // namespace

Result<Reward> CreateReward(store::Tx& tx, const Actor& actor, RewardInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  if (!in.name) return InvalidField("name", "is required");
  if (!in.point_type) return InvalidField("point_type", "is required");
  if (!in.points) return InvalidField("points", "is required");
  Reward w;
  w.id = NewId();
  w.created_at = actor.now;
  RG_TRY(ApplyReward(tx, actor, w, in));
  RG_TRY(
      tx.Exec("INSERT INTO rewards (merchant_id, id, name, point_type_id, points, stock, "
              "per_member_limit, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
              "?, ?, ?)",
              {actor.merchant_id, w.id, w.name, w.point_type_id, w.points, Opt(w.stock),
               Opt(w.per_member_limit), int64_t{w.active ? 1 : 0}, actor.now, actor.now}));
  return w;
}

Result<Reward> UpdateReward(store::Tx& tx, const Actor& actor, Id id, RewardInput in) {
  RG_TRY(RequireManager(actor, "configure the loyalty program"));
  RG_ASSIGN_OR_RETURN(Reward w, LoadReward(tx, actor.merchant_id, id));
  RG_TRY(ApplyReward(tx, actor, w, in));
  RG_TRY(
      tx.Exec("UPDATE rewards SET name = ?, point_type_id = ?, points = ?, stock = ?, "
              "per_member_limit = ?, active = ?, updated_at = ? WHERE merchant_id = ? AND id = ?",
              {w.name, w.point_type_id, w.points, Opt(w.stock), Opt(w.per_member_limit),
               int64_t{w.active ? 1 : 0}, actor.now, actor.merchant_id, id}));
  return w;
}

Result<std::vector<Reward>> ListRewards(store::Tx& tx, const Actor& actor) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM rewards WHERE merchant_id = "
                                                      "? ORDER BY id",
                                                      kRewardCols),
                                          {actor.merchant_id}));
  std::vector<Reward> out;
  for (const auto& r : rows) out.push_back(RewardFromRow(r));
  return out;
}

// Balances and ledger -------------------------------------------------------------------------

Result<std::vector<PointBalance>> MemberBalances(store::Tx& tx, const Actor& actor, Id member_id,
                                                 Micros soon) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  RG_ASSIGN_OR_RETURN(auto types, ListPointTypes(tx, actor));
  RG_ASSIGN_OR_RETURN(auto balances, LoadBalances(tx, actor.merchant_id, member_id));
  std::vector<PointBalance> out;
  for (const PointType& t : types) {
    PointBalance pb;
    pb.type = t;
    for (const Balance& b : balances)
      if (b.point_type_id == t.id) {
        pb.balance = b.balance;
        pb.debt = b.debt;
        pb.earned_total = b.earned_total;
      }
    RG_ASSIGN_OR_RETURN(auto lots, OpenLots(tx, actor.merchant_id, member_id, t.id));
    for (const Lot& l : lots)
      if (l.expires_at && *l.expires_at <= actor.now + soon) pb.expiring_soon.push_back(l);
    if (!t.active && pb.balance == 0) continue;
    out.push_back(std::move(pb));
  }
  return out;
}

Result<Page<Entry>> MemberLedger(store::Tx& tx, const Actor& actor, Id member_id,
                                 std::optional<std::string> cursor, int limit) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  Id before = 0;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    before = *id;
  }
  RG_ASSIGN_OR_RETURN(auto entries,
                      LoadEntries(tx, actor.merchant_id, member_id, before, limit + 1));
  Page<Entry> page;
  bool more = static_cast<int>(entries.size()) > limit;
  if (more) entries.resize(limit);
  page.items = std::move(entries);
  if (more) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

Result<std::vector<Lot>> MemberLots(store::Tx& tx, const Actor& actor, Id member_id,
                                    Id point_type_id) {
  return OpenLots(tx, actor.merchant_id, member_id, point_type_id);
}

Result<Entry> Adjust(store::Tx& tx, const Actor& actor, Id member_id, const std::string& point_type,
                     int64_t points, const std::string& reason) {
  RG_TRY(RequireManager(actor, "adjust points"));
  if (points == 0) return InvalidField("points", "must not be zero");
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos || reason.size() > 500)
    return InvalidField("reason", "must be 1 to 500 bytes");
  RG_TRY(RequireMember(tx, actor, member_id));
  RG_ASSIGN_OR_RETURN(PointType t, FindPointType(tx, actor, point_type, "point_type"));
  RG_ASSIGN_OR_RETURN(MerchantSettings ms, LoadMerchantSettings(tx, actor.merchant_id));
  EntryInput in{member_id,      t.id,     "adjust",       points > 0 ? points : -points,
                reason,         "staff",  actor.staff_id, std::nullopt,
                actor.staff_id, actor.now};
  Entry e;
  if (points > 0) {
    RG_ASSIGN_OR_RETURN(auto expiry, LotExpiry(t.expiry, actor.now, ms.timezone));
    RG_ASSIGN_OR_RETURN(e, Credit(tx, actor.merchant_id, in, expiry));
  } else {
    RG_ASSIGN_OR_RETURN(e, Debit(tx, actor.merchant_id, in, false));
  }
  RG_TRY(Emit(tx, actor, "points_adjusted", member_id,
              {{"point_type", t.code},
               {"points", points},
               {"reason", reason},
               {"balance_after", e.balance_after}}));
  return e;
}

// Redemptions ---------------------------------------------------------------------------------

namespace {

constexpr std::string_view kRedemptionCols =
    "id, member_id, point_type_id, points, reward_id, order_id, status, expires_at, created_at, "
    "reserve_entry_id, branch_id";

struct RedemptionRow {
  Redemption r;
  Id reserve_entry_id = 0;
  std::optional<Id> branch_id;
};

Result<RedemptionRow> LoadRedemption(store::Tx& tx, Id merchant_id, Id id) {
  // The status UPDATE locks the row (PostgreSQL) so commit and cancel cannot race.
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("UPDATE redemptions SET updated_at = "
                                                      "updated_at WHERE merchant_id = ? AND id = "
                                                      "? RETURNING {}",
                                                      kRedemptionCols),
                                          {merchant_id, id}));
  if (rows.empty()) return Fail(Code::kNotFound, "redemption not found");
  const auto& r = rows[0];
  RedemptionRow out;
  out.r = Redemption{r.Int(0),    r.Int(1), r.Int(2), r.Int(3), r.OptInt(4),
                     r.OptInt(5), r.Str(6), r.Int(7), r.Int(8), 0};
  out.reserve_entry_id = r.Int(9);
  out.branch_id = r.OptInt(10);
  return out;
}

Result<int64_t> Release(store::Tx& tx, Id merchant_id, const RedemptionRow& row,
                        const std::string& status, Micros now, std::optional<Id> staff) {
  EntryInput in{row.r.member_id,
                row.r.point_type_id,
                "release",
                row.r.points,
                status == "expired" ? "reservation timed out" : "redemption cancelled",
                "redemption",
                row.r.id,
                row.branch_id,
                staff,
                now};
  RG_ASSIGN_OR_RETURN(Entry e, Restore(tx, merchant_id, in, row.reserve_entry_id));
  if (row.r.reward_id)
    RG_TRY(
        tx.Exec("UPDATE rewards SET stock = stock + 1 WHERE merchant_id = ? AND id = ? AND "
                "stock IS NOT NULL",
                {merchant_id, *row.r.reward_id}));
  RG_TRY(
      tx.Exec("UPDATE redemptions SET status = ?, updated_at = ? WHERE merchant_id = ? AND id = ?",
              {status, now, merchant_id, row.r.id}));
  return e.balance_after;
}

}  // namespace

Result<Redemption> Reserve(store::Tx& tx, const Actor& actor, const RedeemInput& in) {
  RG_TRY(RequireMember(tx, actor, in.member_id));
  if (in.branch_id && !actor.MayUseBranch(*in.branch_id))
    return Fail(Code::kPermissionDenied, "branch_id: you may not act for this branch", "branch_id");
  Redemption r;
  r.id = NewId();
  r.member_id = in.member_id;
  r.order_id = in.order_id;
  r.created_at = actor.now;
  r.expires_at = actor.now + in.hold;
  std::string reason;
  if (in.reward_id) {
    if (in.points || in.point_type)
      return InvalidField("points", "give reward_id, or point_type and points, not both");
    auto w = LoadReward(tx, actor.merchant_id, *in.reward_id);
    if (!w) return InvalidField("reward_id", "reward not found");
    if (!w->active)
      return Fail(Code::kFailedPrecondition, "reward_id: the reward is not active", "reward_id");
    r.reward_id = w->id;
    r.point_type_id = w->point_type_id;
    r.points = w->points;
    reason = "reward: " + w->name;
    if (w->per_member_limit) {
      RG_ASSIGN_OR_RETURN(Rows used, tx.Query("SELECT COUNT(*) FROM redemptions WHERE merchant_id "
                                              "= ? AND member_id = ? AND reward_id = ? AND status "
                                              "IN ('reserved', 'committed')",
                                              {actor.merchant_id, in.member_id, w->id}));
      if (used[0].Int(0) >= *w->per_member_limit)
        return Fail(Code::kFailedPrecondition,
                    fmt::format("reward_id: this member already redeemed it {} time(s), the limit",
                                *w->per_member_limit),
                    "reward_id");
    }
    if (w->stock) {
      RG_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE rewards SET stock = stock - 1 WHERE "
                                             "merchant_id = ? AND id = ? AND stock > 0",
                                             {actor.merchant_id, w->id}));
      if (n == 0) return Fail(Code::kFailedPrecondition, "reward_id: out of stock", "reward_id");
    }
  } else {
    if (!in.point_type) return InvalidField("point_type", "is required without reward_id");
    if (!in.points || *in.points <= 0) return InvalidField("points", "must be a positive integer");
    RG_ASSIGN_OR_RETURN(PointType t, FindPointType(tx, actor, *in.point_type, "point_type"));
    r.point_type_id = t.id;
    r.points = *in.points;
    reason = "points redeemed";
  }
  EntryInput e{in.member_id, r.point_type_id, "reserve",      r.points, reason, "redemption",
               r.id,         in.branch_id,    actor.staff_id, actor.now};
  RG_ASSIGN_OR_RETURN(Entry reserve, Debit(tx, actor.merchant_id, e, false));
  r.status = "reserved";
  r.balance_after = reserve.balance_after;
  RG_TRY(
      tx.Exec("INSERT INTO redemptions (merchant_id, id, member_id, point_type_id, points, "
              "reward_id, order_id, status, reserve_entry_id, expires_at, branch_id, staff_id, "
              "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?)",
              {actor.merchant_id, r.id, r.member_id, r.point_type_id, r.points, Opt(r.reward_id),
               Opt(r.order_id), reserve.id, r.expires_at, Opt(in.branch_id), Opt(actor.staff_id),
               actor.now, actor.now}));
  RG_TRY(Emit(tx, actor, "points_reserved", in.member_id,
              {{"redemption_id", IdToString(r.id)},
               {"points", r.points},
               {"balance_after", r.balance_after}}));
  if (in.commit) return CommitRedemption(tx, actor, r.id);
  return r;
}

Result<Redemption> CommitRedemption(store::Tx& tx, const Actor& actor, Id id) {
  RG_ASSIGN_OR_RETURN(RedemptionRow row, LoadRedemption(tx, actor.merchant_id, id));
  if (row.r.status == "committed") {  // committing twice changes nothing
    RG_ASSIGN_OR_RETURN(auto b, LoadBalances(tx, actor.merchant_id, row.r.member_id));
    for (const auto& x : b)
      if (x.point_type_id == row.r.point_type_id) row.r.balance_after = x.balance;
    return row.r;
  }
  if (row.r.status != "reserved")
    return Fail(Code::kFailedPrecondition,
                fmt::format("the redemption was {}; reserve again", row.r.status));
  if (row.r.expires_at <= actor.now) {
    RG_TRY(Release(tx, actor.merchant_id, row, "expired", actor.now, actor.staff_id));
    return Fail(Code::kFailedPrecondition, "the reservation timed out; reserve again");
  }
  EntryInput in{row.r.member_id,
                row.r.point_type_id,
                "redeem",
                0,
                "redemption committed",
                "redemption",
                row.r.id,
                row.branch_id,
                actor.staff_id,
                actor.now};
  RG_ASSIGN_OR_RETURN(Entry e, Mark(tx, actor.merchant_id, in));
  RG_TRY(
      tx.Exec("UPDATE redemptions SET status = 'committed', updated_at = ? WHERE merchant_id = "
              "? AND id = ?",
              {actor.now, actor.merchant_id, id}));
  row.r.status = "committed";
  row.r.balance_after = e.balance_after;
  RG_TRY(Emit(tx, actor, "points_redeemed", row.r.member_id,
              {{"redemption_id", IdToString(id)},
               {"points", row.r.points},
               {"balance_after", e.balance_after}}));
  return row.r;
}

Result<Redemption> CancelRedemption(store::Tx& tx, const Actor& actor, Id id) {
  RG_ASSIGN_OR_RETURN(RedemptionRow row, LoadRedemption(tx, actor.merchant_id, id));
  if (row.r.status == "cancelled" || row.r.status == "expired") {  // again: nothing changes
    RG_ASSIGN_OR_RETURN(auto b, LoadBalances(tx, actor.merchant_id, row.r.member_id));
    for (const auto& x : b)
      if (x.point_type_id == row.r.point_type_id) row.r.balance_after = x.balance;
    return row.r;
  }
  if (row.r.status == "committed")
    return Fail(Code::kFailedPrecondition,
                "a committed redemption cannot be cancelled; adjust instead");
  RG_ASSIGN_OR_RETURN(row.r.balance_after,
                      Release(tx, actor.merchant_id, row, "cancelled", actor.now, actor.staff_id));
  row.r.status = "cancelled";
  RG_TRY(Emit(tx, actor, "points_released", row.r.member_id,
              {{"redemption_id", IdToString(id)},
               {"points", row.r.points},
               {"balance_after", row.r.balance_after}}));
  return row.r;
}

namespace {

// Expires a merchant's due lots (ExpireDueLots) and appends one `points_expired` event per
// (member, point type) whose balance it lowered, {point_type, points, balance_after}, in the
// same transaction, so every reader of the event log (the insight feature store, the member
// timeline) sees the lower balance. The pairs are read with ExpireDueLots' own query before it
// runs; what each lost is read back from the entries it wrote (ids after `floor`, as ids increase
// within a process, and stamped `now`), so a lot another transaction spent or expired meanwhile
// announces nothing.
Result<int64_t> ExpireDueMerchantLots(store::Tx& tx, Id merchant_id, Micros now) {
  constexpr int kMaxLots = 10000;  // ExpireDueLots' default: one sweep's share
  RG_ASSIGN_OR_RETURN(Rows due,
                      tx.Query("SELECT member_id, point_type_id FROM point_lots WHERE "
                               "merchant_id = ? AND expires_at <= ? AND remaining > 0 ORDER BY "
                               "expires_at, id LIMIT ?",
                               {merchant_id, now, int64_t{kMaxLots}}));
  if (due.empty()) return 0;
  std::set<std::pair<Id, Id>> pairs;
  for (const auto& r : due) pairs.emplace(r.Int(0), r.Int(1));
  Id floor = NewId();
  RG_ASSIGN_OR_RETURN(int64_t expired, ExpireDueLots(tx, merchant_id, now, kMaxLots));
  if (expired == 0) return 0;
  RG_ASSIGN_OR_RETURN(Rows types, tx.Query("SELECT id, code FROM point_types WHERE merchant_id = ?",
                                           {merchant_id}));
  std::map<Id, std::string> codes;
  for (const auto& t : types) codes[t.Int(0)] = t.Str(1);
  for (const auto& [member_id, point_type_id] : pairs) {
    RG_ASSIGN_OR_RETURN(Rows lost,
                        tx.Query("SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM ledger_entries "
                                 "WHERE merchant_id = ? AND member_id = ? AND point_type_id = ? "
                                 "AND id > ? AND kind = 'expire' AND created_at = ?",
                                 {merchant_id, member_id, point_type_id, floor, now}));
    if (lost[0].Int(1) == 0) continue;
    RG_ASSIGN_OR_RETURN(Rows bal, tx.Query("SELECT balance FROM point_balances WHERE merchant_id "
                                           "= ? AND member_id = ? AND point_type_id = ?",
                                           {merchant_id, member_id, point_type_id}));
    json data = {{"point_type", codes[point_type_id]},
                 {"points", -lost[0].Int(0)},
                 {"balance_after", bal.empty() ? 0 : bal[0].Int(0)}};
    RG_TRY(events::AppendEvent(tx, merchant_id, now,
                               {"points_expired", member_id, "system", data.dump()}));
  }
  return expired;
}

}  // namespace

Result<Sweep> RunExpiry(store::Tx& tx, Micros now) {
  Sweep sweep;
  RG_ASSIGN_OR_RETURN(Rows merchants, tx.Query("SELECT merchant_id FROM merchants"));
  for (const auto& m : merchants) {
    Id merchant_id = m.Int(0);
    RG_ASSIGN_OR_RETURN(Rows lapsed,
                        tx.Query("SELECT id FROM redemptions WHERE merchant_id = ? AND "
                                 "status = 'reserved' AND expires_at <= ? LIMIT 1000",
                                 {merchant_id, now}));
    for (const auto& l : lapsed) {
      RG_ASSIGN_OR_RETURN(RedemptionRow row, LoadRedemption(tx, merchant_id, l.Int(0)));
      if (row.r.status != "reserved") continue;
      RG_ASSIGN_OR_RETURN(int64_t after,
                          Release(tx, merchant_id, row, "expired", now, std::nullopt));
      json data = {{"redemption_id", IdToString(row.r.id)},
                   {"points", row.r.points},
                   {"balance_after", after},
                   {"status", "expired"}};
      RG_TRY(events::AppendEvent(tx, merchant_id, now,
                                 {"points_released", row.r.member_id, "system", data.dump()}));
      ++sweep.reservations_released;
    }
    RG_ASSIGN_OR_RETURN(int64_t expired, ExpireDueMerchantLots(tx, merchant_id, now));
    sweep.points_expired += expired;
  }
  return sweep;
}

Status MergeBalances(store::Tx& tx, const Actor& actor, Id into, Id from) {
  RG_ASSIGN_OR_RETURN(auto balances, LoadBalances(tx, actor.merchant_id, from));
  for (const Balance& b : balances) {
    int64_t lots = b.balance + b.debt;
    if (lots > 0) {
      // Take every open lot from `from`, then give each to `into` with its own expiry.
      EntryInput out{
          from, b.point_type_id, "merge",        lots,     "merged into another member", "merge",
          into, std::nullopt,    actor.staff_id, actor.now};
      RG_ASSIGN_OR_RETURN(Entry taken, Debit(tx, actor.merchant_id, out, true));
      RG_ASSIGN_OR_RETURN(Rows moved, tx.Query("SELECT m.amount, l.expires_at FROM lot_moves m "
                                               "JOIN point_lots l ON l.merchant_id = m.merchant_id "
                                               "AND l.id = m.lot_id WHERE m.merchant_id = ? AND "
                                               "m.entry_id = ? ORDER BY m.lot_id",
                                               {actor.merchant_id, taken.id}));
      for (const auto& mv : moved) {
        EntryInput in{into,
                      b.point_type_id,
                      "merge",
                      -mv.Int(0),
                      "merged from another member",
                      "merge",
                      from,
                      std::nullopt,
                      actor.staff_id,
                      actor.now};
        RG_TRY(Credit(tx, actor.merchant_id, in, mv.OptInt(1)));
      }
    }
    if (b.debt > 0) {
      // The survivor takes over the debt.
      EntryInput clear{from,
                       b.point_type_id,
                       "merge",
                       b.debt,
                       "debt moved to the surviving member",
                       "merge",
                       into,
                       std::nullopt,
                       actor.staff_id,
                       actor.now};
      RG_TRY(Credit(tx, actor.merchant_id, clear, std::nullopt));
      EntryInput owe{into,
                     b.point_type_id,
                     "merge",
                     b.debt,
                     "debt merged from another member",
                     "merge",
                     from,
                     std::nullopt,
                     actor.staff_id,
                     actor.now};
      RG_TRY(Debit(tx, actor.merchant_id, owe, true));
    }
  }
  return {};
}

}  // namespace regulars::loyalty
