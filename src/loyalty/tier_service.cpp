#include "loyalty/tier_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "base/zone.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "loyalty/loyalty_service.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Rows;

Status RequireManager(const Actor& a) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may configure tiers");
  return {};
}

Tier TierFromRow(const store::Row& r) {
  return Tier{r.Int(0), static_cast<int>(r.Int(1)), r.Str(2), r.Int(3), r.Int(4), r.Str(5)};
}

Result<MemberTierState> LoadState(store::Tx& tx, Id merchant_id, Id member_id, bool lock) {
  std::string sql = lock ? "UPDATE member_tiers SET level = level WHERE merchant_id = ? AND "
                           "member_id = ? RETURNING level, since, grace_until, override_level, "
                           "override_until"
                         : "SELECT level, since, grace_until, override_level, override_until FROM "
                           "member_tiers WHERE merchant_id = ? AND member_id = ?";
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, {merchant_id, member_id}));
  MemberTierState s;
  if (rows.empty()) return s;
  s.level = static_cast<int>(rows[0].Int(0));
  s.since = rows[0].Int(1);
  s.grace_until = rows[0].OptInt(2);
  if (auto o = rows[0].OptInt(3)) s.override_level = static_cast<int>(*o);
  s.override_until = rows[0].OptInt(4);
  return s;
}

Status SaveState(store::Tx& tx, Id merchant_id, Id member_id, const MemberTierState& s,
                 Micros now) {
  RG_TRY(
      tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since, grace_until, "
              "override_level, override_until, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (merchant_id, member_id) DO UPDATE SET level = excluded.level, "
              "since = excluded.since, grace_until = excluded.grace_until, override_level = "
              "excluded.override_level, override_until = excluded.override_until, reviewed_at "
              "= excluded.reviewed_at",
              {merchant_id, member_id, int64_t{s.level}, s.since, Opt(s.grace_until),
               Opt(s.override_level), Opt(s.override_until), now}));
  return {};
}

Status Record(store::Tx& tx, Id merchant_id, Id member_id, int from, int to,
              const std::string& reason, std::optional<Id> staff, Micros now,
              const std::string& actor) {
  if (from == to) return {};
  RG_TRY(tx.Exec(
      "INSERT INTO tier_history (merchant_id, id, member_id, from_level, to_level, "
      "reason, staff_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {merchant_id, NewId(), member_id, int64_t{from}, int64_t{to}, reason, Opt(staff), now}));
  json data = {{"from_level", from}, {"to_level", to}, {"reason", reason}};
  RG_TRY(
      events::AppendEvent(tx, merchant_id, now, {"tier_changed", member_id, actor, data.dump()}));
  return {};
}

// The qualifying metric for one member within the program's window.
Result<std::pair<int64_t, Micros>> MetricValue(store::Tx& tx, Id merchant_id, const TierProgram& p,
                                               Id member_id, Micros now) {
  Micros year_start = 0;
  if (p.window == TierWindow::kCalendarYear) {
    RG_ASSIGN_OR_RETURN(MerchantSettings ms, LoadMerchantSettings(tx, merchant_id));
    RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(now, ms.timezone));
    RG_ASSIGN_OR_RETURN(year_start, FromLocal(lt.year, 1, 1, 0, 0, 0, ms.timezone));
  }
  Micros from = WindowStart(p, now, year_start);
  Rows rows;
  if (p.metric == TierMetric::kSpend) {
    RG_ASSIGN_OR_RETURN(rows, tx.Query("SELECT COALESCE(SUM(total_minor - refunded_minor), 0) FROM "
                                       "orders WHERE merchant_id = ? AND member_id = ? AND "
                                       "occurred_at >= ? AND occurred_at <= ?",
                                       {merchant_id, member_id, from, now}));
  } else {
    RG_ASSIGN_OR_RETURN(rows,
                        tx.Query("SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE "
                                 "merchant_id = ? AND member_id = ? AND point_type_id = ? "
                                 "AND kind = 'earn' AND created_at >= ? AND created_at <= ?",
                                 {merchant_id, member_id, p.point_type_id.value_or(0), from, now}));
  }
  return std::pair{rows[0].Int(0), from};
}

}  // namespace

Result<TierProgram> GetTierProgram(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT metric, point_type_id, window_kind, window_days, "
                                          "grace_days FROM tier_programs WHERE merchant_id = ?",
                                          {merchant_id}));
  TierProgram p;
  if (rows.empty()) return p;
  p.metric = rows[0].Str(0) == "points" ? TierMetric::kPoints : TierMetric::kSpend;
  p.point_type_id = rows[0].OptInt(1);
  p.window =
      rows[0].Str(2) == "calendar_year" ? TierWindow::kCalendarYear : TierWindow::kRollingDays;
  p.window_days = static_cast<int>(rows[0].Int(3));
  p.grace_days = static_cast<int>(rows[0].Int(4));
  return p;
}

Result<TierProgram> SetTierProgram(store::Tx& tx, const Actor& actor, TierProgram p) {
  RG_TRY(RequireManager(actor));
  if (p.window_days < 1 || p.window_days > 3650)
    return InvalidField("window_days", "must be 1 to 3650");
  if (p.grace_days < 0 || p.grace_days > 3650)
    return InvalidField("grace_days", "must be 0 to 3650");
  if (p.metric == TierMetric::kPoints && !p.point_type_id)
    return InvalidField("point_type", "is required when the metric is points");
  RG_TRY(tx.Exec(
      "INSERT INTO tier_programs (merchant_id, metric, point_type_id, window_kind, "
      "window_days, grace_days, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
      "(merchant_id) DO UPDATE SET metric = excluded.metric, point_type_id = "
      "excluded.point_type_id, window_kind = excluded.window_kind, window_days = "
      "excluded.window_days, grace_days = excluded.grace_days, updated_at = "
      "excluded.updated_at",
      {actor.merchant_id, std::string(p.metric == TierMetric::kPoints ? "points" : "spend"),
       Opt(p.point_type_id),
       std::string(p.window == TierWindow::kCalendarYear ? "calendar_year" : "rolling_days"),
       int64_t{p.window_days}, int64_t{p.grace_days}, actor.now}));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  return p;
}

Result<std::vector<Tier>> ListTiers(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT id, level, name, threshold, earn_multiplier_milli, "
                               "benefits FROM tiers WHERE merchant_id = ? ORDER BY level",
                               {merchant_id}));
  std::vector<Tier> out;
  for (const auto& r : rows) out.push_back(TierFromRow(r));
  return out;
}

namespace {

Status ApplyTier(Tier& t, const TierInput& in) {
  if (in.level) t.level = *in.level;
  if (in.name) {
    if (in.name->empty() || in.name->size() > 100 || !IsValidUtf8(*in.name))
      return InvalidField("name", "must be 1 to 100 bytes of text");
    t.name = *in.name;
  }
  if (in.threshold) t.threshold = *in.threshold;
  if (in.earn_multiplier_milli) t.earn_multiplier_milli = *in.earn_multiplier_milli;
  if (in.benefits_json) t.benefits_json = *in.benefits_json;
  return {};
}

}  // namespace

Result<Tier> CreateTier(store::Tx& tx, const Actor& actor, TierInput in) {
  RG_TRY(RequireManager(actor));
  if (!in.level) return InvalidField("level", "is required");
  if (!in.name) return InvalidField("name", "is required");
  if (!in.threshold) return InvalidField("threshold", "is required");
  Tier t;
  t.id = NewId();
  RG_TRY(ApplyTier(t, in));
  RG_ASSIGN_OR_RETURN(auto all, ListTiers(tx, actor.merchant_id));
  all.push_back(t);
  RG_TRY(ValidateTiers(all));
  RG_TRY(
      tx.Exec("INSERT INTO tiers (merchant_id, id, level, name, threshold, earn_multiplier_milli, "
              "benefits, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              {actor.merchant_id, t.id, int64_t{t.level}, t.name, t.threshold,
               t.earn_multiplier_milli, t.benefits_json, actor.now, actor.now}));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  // A merchant event: tiers are ranked by level, so a new level below others shifts the rank
  // of every member above it (the insight store re-ranks on it).
  json data = {{"tier_id", IdToString(t.id)}, {"level", t.level}, {"name", t.name}};
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"tier_created", std::nullopt, actor.Label(), data.dump()}));
  return t;
}

Result<Tier> UpdateTier(store::Tx& tx, const Actor& actor, Id id, TierInput in) {
  RG_TRY(RequireManager(actor));
  RG_ASSIGN_OR_RETURN(auto all, ListTiers(tx, actor.merchant_id));
  auto it = std::find_if(all.begin(), all.end(), [&](const Tier& t) { return t.id == id; });
  if (it == all.end()) return Fail(Code::kNotFound, "tier not found");
  if (in.level && *in.level != it->level) return InvalidField("level", "cannot be changed");
  RG_TRY(ApplyTier(*it, in));
  RG_TRY(ValidateTiers(all));
  RG_TRY(
      tx.Exec("UPDATE tiers SET name = ?, threshold = ?, earn_multiplier_milli = ?, benefits = ?, "
              "updated_at = ? WHERE merchant_id = ? AND id = ?",
              {it->name, it->threshold, it->earn_multiplier_milli, it->benefits_json, actor.now,
               actor.merchant_id, id}));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  return *it;
}

Result<MemberTierView> MemberTier(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  RG_ASSIGN_OR_RETURN(TierProgram p, GetTierProgram(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, actor.merchant_id));
  MemberTierView v;
  RG_ASSIGN_OR_RETURN(v.state, LoadState(tx, actor.merchant_id, member_id, false));
  RG_ASSIGN_OR_RETURN(auto metric, MetricValue(tx, actor.merchant_id, p, member_id, actor.now));
  v.value = metric.first;
  v.window_start = metric.second;
  v.qualified_level = QualifiedLevel(tiers, v.value);
  int effective = EffectiveLevel(v.state, actor.now);
  for (const Tier& t : tiers) {
    if (t.level == effective) v.tier = t;
    if (t.level > effective && (!v.next || t.level < v.next->level)) v.next = t;
  }
  if (v.next) v.to_next = std::max<int64_t>(0, v.next->threshold - v.value);
  return v;
}

Status RequalifyMember(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, actor.merchant_id));
  if (tiers.empty()) return {};
  RG_ASSIGN_OR_RETURN(TierProgram p, GetTierProgram(tx, actor.merchant_id));
  return RequalifyMember(tx, actor, member_id, tiers, p);
}

Status RequalifyMember(store::Tx& tx, const Actor& actor, Id member_id,
                       const std::vector<Tier>& tiers, const TierProgram& p) {
  if (tiers.empty()) return {};
  RG_ASSIGN_OR_RETURN(auto metric, MetricValue(tx, actor.merchant_id, p, member_id, actor.now));
  RG_TRY(
      tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since) VALUES (?, ?, 0, ?) "
              "ON CONFLICT (merchant_id, member_id) DO NOTHING",
              {actor.merchant_id, member_id, actor.now}));
  RG_ASSIGN_OR_RETURN(MemberTierState s, LoadState(tx, actor.merchant_id, member_id, true));
  TierDecision d = OnQualification(s, QualifiedLevel(tiers, metric.first), actor.now);
  if (!d.changed) return {};
  RG_TRY(SaveState(tx, actor.merchant_id, member_id, d.next, actor.now));
  return Record(tx, actor.merchant_id, member_id, s.level, d.next.level, d.reason, actor.staff_id,
                actor.now, actor.Label());
}

Result<MemberTierView> OverrideTier(store::Tx& tx, const Actor& actor, Id member_id, int level,
                                    std::optional<Micros> until) {
  RG_TRY(RequireManager(actor));
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, actor.merchant_id));
  if (level != 0 &&
      std::none_of(tiers.begin(), tiers.end(), [&](const Tier& t) { return t.level == level; }))
    return InvalidField("level", fmt::format("no tier has level {}", level));
  if (until && *until <= actor.now) return InvalidField("until", "must be in the future");
  RG_TRY(
      tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since) VALUES (?, ?, 0, ?) "
              "ON CONFLICT (merchant_id, member_id) DO NOTHING",
              {actor.merchant_id, member_id, actor.now}));
  RG_ASSIGN_OR_RETURN(MemberTierState s, LoadState(tx, actor.merchant_id, member_id, true));
  int before = EffectiveLevel(s, actor.now);
  MemberTierState next = s;
  if (level == 0 && !until) {
    next.override_level.reset();
    next.override_until.reset();
  } else {
    next.override_level = level;
    next.override_until = until;
  }
  RG_TRY(SaveState(tx, actor.merchant_id, member_id, next, actor.now));
  RG_TRY(Record(tx, actor.merchant_id, member_id, before, EffectiveLevel(next, actor.now),
                "override", actor.staff_id, actor.now, actor.Label()));
  return MemberTier(tx, actor, member_id);
}

Result<std::vector<TierChange>> TierHistory(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT id, from_level, to_level, reason, created_at FROM "
                               "tier_history WHERE merchant_id = ? AND member_id = ? "
                               "ORDER BY created_at DESC, id DESC LIMIT 200",
                               {actor.merchant_id, member_id}));
  std::vector<TierChange> out;
  for (const auto& r : rows)
    out.push_back(
        {r.Int(0), static_cast<int>(r.Int(1)), static_cast<int>(r.Int(2)), r.Str(3), r.Int(4)});
  return out;
}

Result<int> ReviewTiers(store::Tx& tx, Id merchant_id, Micros now) {
  RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, merchant_id));
  if (tiers.empty()) return 0;
  RG_ASSIGN_OR_RETURN(TierProgram p, GetTierProgram(tx, merchant_id));
  RG_ASSIGN_OR_RETURN(Rows held,
                      tx.Query("SELECT member_id FROM member_tiers WHERE merchant_id = ? "
                               "AND (level > 0 OR override_until IS NOT NULL)",
                               {merchant_id}));
  int changed = 0;
  for (const auto& row : held) {
    Id member_id = row.Int(0);
    RG_ASSIGN_OR_RETURN(MemberTierState s, LoadState(tx, merchant_id, member_id, true));
    MemberTierState base = s;
    // An override that lapsed since the last review still counts as the level held, so its end
    // shows in the history.
    int before = s.override_level ? *s.override_level : s.level;
    if (s.override_until && now >= *s.override_until) {  // an override that ended
      base.override_level.reset();
      base.override_until.reset();
    }
    RG_ASSIGN_OR_RETURN(auto metric, MetricValue(tx, merchant_id, p, member_id, now));
    TierDecision d = OnReview(base, QualifiedLevel(tiers, metric.first), now, p.grace_days);
    if (!d.changed && base.override_until == s.override_until) continue;
    RG_TRY(SaveState(tx, merchant_id, member_id, d.next, now));
    int after = EffectiveLevel(d.next, now);
    RG_TRY(Record(tx, merchant_id, member_id, before, after,
                  d.reason.empty() ? "override_ended" : d.reason, std::nullopt, now, "system"));
    changed += before != after;
  }
  return changed;
}

Result<std::optional<Tier>> CurrentTier(store::Tx& tx, Id merchant_id, Id member_id, Micros now) {
  RG_ASSIGN_OR_RETURN(MemberTierState s, LoadState(tx, merchant_id, member_id, false));
  int level = EffectiveLevel(s, now);
  if (level == 0) return std::optional<Tier>{};
  RG_ASSIGN_OR_RETURN(auto tiers, ListTiers(tx, merchant_id));
  for (const Tier& t : tiers)
    if (t.level == level) return std::optional<Tier>(t);
  return std::optional<Tier>{};
}

Result<std::optional<Tier>> CurrentTier(store::Tx& tx, Id merchant_id, Id member_id, Micros now,
                                        const std::vector<Tier>& tiers) {
  // Without tiers no level can match one (what the other form finds after reading the state).
  if (tiers.empty()) return std::optional<Tier>{};
  RG_ASSIGN_OR_RETURN(MemberTierState s, LoadState(tx, merchant_id, member_id, false));
  int level = EffectiveLevel(s, now);
  for (const Tier& t : tiers)
    if (level != 0 && t.level == level) return std::optional<Tier>(t);
  return std::optional<Tier>{};
}

}  // namespace regulars::loyalty
