#include "loyalty/referral_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "base/text.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "loyalty/coupon_service.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Row;
using store::Rows;
using store::Value;

constexpr int64_t kMaxRewardPoints = 1'000'000'000;

constexpr std::string_view kReferralCols =
    "id, referrer_id, newcomer_id, code, device_id, status, order_id, created_at, rewarded_at";

Referral ReferralFromRow(const Row& r) {
  return Referral{r.Int(0), r.Int(1),    r.Int(2), r.Str(3),   r.OptStr(4),
                  r.Str(5), r.OptInt(6), r.Int(7), r.OptInt(8)};
}

Status RequireManager(const Actor& a, std::string_view what) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, fmt::format("only an owner or manager may {}", what));
  return {};
}

Status Emit(store::Tx& tx, const Actor& actor, std::string type, Id member_id, const json& data) {
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {std::move(type), member_id, actor.Label(), data.dump()}));
  return {};
}

Result<ReferralProgram> LoadProgram(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query("SELECT active, referrer_point_type_id, referrer_points, referrer_template_id, "
               "newcomer_point_type_id, newcomer_points, newcomer_template_id, min_spend_minor, "
               "limit_per_referrer, updated_at FROM referral_programs WHERE merchant_id = ?",
               {merchant_id}));
  ReferralProgram p;
  if (rows.empty()) return p;
  const Row& r = rows[0];
  p.configured = true;
  p.active = r.Bool(0);
  p.referrer = {r.OptInt(1), "", r.Int(2), r.OptInt(3)};
  p.newcomer = {r.OptInt(4), "", r.Int(5), r.OptInt(6)};
  p.min_spend_minor = r.Int(7);
  if (auto l = r.OptInt(8)) p.limit_per_referrer = static_cast<int>(*l);
  p.updated_at = r.Int(9);
  RG_ASSIGN_OR_RETURN(Rows codes, tx.Query("SELECT id, code FROM point_types WHERE merchant_id = ?",
                                           {merchant_id}));
  for (const auto& c : codes) {
    if (p.referrer.point_type_id == c.Int(0)) p.referrer.point_type = c.Str(1);
    if (p.newcomer.point_type_id == c.Int(0)) p.newcomer.point_type = c.Str(1);
  }
  return p;
}

Result<ReferralReward> CheckReward(store::Tx& tx, const Actor& actor,
                                   const std::optional<ReferralRewardInput>& in,
                                   const std::string& field) {
  ReferralReward out;
  if (!in) return out;
  if (in->coupon_template_id && (in->point_type || in->points))
    return InvalidField(field, "give point_type and points, or coupon_template_id, not both");
  if (in->coupon_template_id) {
    RG_ASSIGN_OR_RETURN(Rows t, tx.Query("SELECT active FROM coupon_templates WHERE merchant_id = "
                                         "? AND id = ?",
                                         {actor.merchant_id, *in->coupon_template_id}));
    if (t.empty()) return InvalidField(field + ".coupon_template_id", "coupon template not found");
    out.coupon_template_id = in->coupon_template_id;
    return out;
  }
  if (!in->point_type) return InvalidField(field + ".point_type", "is required");
  if (!in->points || *in->points < 1 || *in->points > kMaxRewardPoints)
    return InvalidField(field + ".points", fmt::format("must be 1 to {}", kMaxRewardPoints));
  RG_ASSIGN_OR_RETURN(PointType pt,
                      FindPointType(tx, actor, *in->point_type, field + ".point_type"));
  out.point_type_id = pt.id;
  out.point_type = pt.code;
  out.points = *in->points;
  return out;
}

// Phones and e-mail addresses a member is known by (own fields and merged-in identities).
struct Contacts {
  std::set<std::string> phones, emails;
};
Result<Contacts> ContactsOf(store::Tx& tx, Id merchant_id, const members::Member& m) {
  Contacts c;
  if (m.phone) c.phones.insert(*m.phone);
  if (m.email) c.emails.insert(*m.email);
  RG_ASSIGN_OR_RETURN(auto ids, members::ListIdentities(tx, merchant_id, m.id));
  for (const auto& i : ids) {
    if (i.kind == "phone") c.phones.insert(i.value);
    if (i.kind == "email") c.emails.insert(i.value);
  }
  return c;
}

bool Intersects(const std::set<std::string>& a, const std::set<std::string>& b) {
  for (const auto& x : a)
    if (b.contains(x)) return true;
  return false;
}

// The member who now holds `id`'s account (following merges), or nullopt when erased or gone.
Result<std::optional<Id>> Survivor(store::Tx& tx, Id merchant_id, Id id) {
  for (int hop = 0; hop < 8; ++hop) {
    RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, merchant_id, id));
    if (!m || m->erased_at) return std::optional<Id>{};
    if (!m->merged_into) return std::optional<Id>(m->id);
    id = *m->merged_into;
  }
  return std::optional<Id>{};
}

// Gives one side its reward; returns what it got, for the event.
Result<json> Grant(store::Tx& tx, const Actor& actor, const ReferralReward& reward, Id member_id,
                   const Referral& ref, const Order& order, std::string_view side) {
  if (reward.coupon_template_id) {
    RG_ASSIGN_OR_RETURN(Rows rows,
                        tx.Query("SELECT id FROM coupon_templates WHERE merchant_id = ? AND id = "
                                 "? AND active = 1",
                                 {actor.merchant_id, *reward.coupon_template_id}));
    if (rows.empty()) return json(nullptr);
    RG_ASSIGN_OR_RETURN(CouponTemplate t, GetCouponTemplate(tx, actor, *reward.coupon_template_id));
    RG_ASSIGN_OR_RETURN(auto c, IssueAutomaticCoupon(tx, actor, t, member_id, "referral",
                                                     "referral:" + IdToString(ref.id)));
    if (!c) return json(nullptr);
    return json{
        {"coupon_id", IdToString(c->id)}, {"code", c->code}, {"template_id", IdToString(t.id)}};
  }
  if (reward.point_type_id && reward.points > 0) {
    auto pt = FindPointType(tx, actor, IdToString(*reward.point_type_id), "point_type");
    if (!pt) {
      if (pt.error().code == Code::kInvalidArgument) return json(nullptr);  // gone
      return std::unexpected(pt.error());
    }
    if (!pt->active) return json(nullptr);
    RG_ASSIGN_OR_RETURN(MerchantSettings ms, LoadMerchantSettings(tx, actor.merchant_id));
    RG_ASSIGN_OR_RETURN(auto expiry, LotExpiry(pt->expiry, actor.now, ms.timezone));
    EntryInput e{member_id,
                 pt->id,
                 "earn",
                 reward.points,
                 fmt::format("referral reward ({})", side),
                 "referral",
                 ref.id,
                 order.branch_id,
                 actor.staff_id,
                 actor.now};
    RG_ASSIGN_OR_RETURN(Entry entry, Credit(tx, actor.merchant_id, e, expiry));
    return json{{"point_type", pt->code},
                {"points", reward.points},
                {"balance_after", entry.balance_after}};
  }
  return json(nullptr);
}

}  // namespace

// Program ------------------------------------------------------------------------------------

Result<ReferralProgram> SetReferralProgram(store::Tx& tx, const Actor& actor,
                                           const ReferralProgramInput& in) {
  RG_TRY(RequireManager(actor, "configure referrals"));
  RG_ASSIGN_OR_RETURN(ReferralReward referrer,
                      CheckReward(tx, actor, in.referrer_reward, "referrer_reward"));
  RG_ASSIGN_OR_RETURN(ReferralReward newcomer,
                      CheckReward(tx, actor, in.newcomer_reward, "newcomer_reward"));
  if (in.min_spend_minor < 0 || in.min_spend_minor > kMaxCouponAmountMinor)
    return InvalidField("min_spend_minor", fmt::format("must be 0 to {}", kMaxCouponAmountMinor));
  if (in.limit_per_referrer && (*in.limit_per_referrer < 1 || *in.limit_per_referrer > 1'000'000))
    return InvalidField("limit_per_referrer", "must be 1 to 1000000, or null for no limit");
  std::vector<Value> params = {actor.merchant_id,
                               int64_t{in.active ? 1 : 0},
                               Opt(referrer.point_type_id),
                               referrer.points,
                               Opt(referrer.coupon_template_id),
                               Opt(newcomer.point_type_id),
                               newcomer.points,
                               Opt(newcomer.coupon_template_id),
                               in.min_spend_minor,
                               Opt(in.limit_per_referrer),
                               actor.now};
  RG_TRY(tx.Exec("DELETE FROM referral_programs WHERE merchant_id = ?", {actor.merchant_id}));
  RG_TRY(
      tx.Exec("INSERT INTO referral_programs (merchant_id, active, referrer_point_type_id, "
              "referrer_points, referrer_template_id, newcomer_point_type_id, newcomer_points, "
              "newcomer_template_id, min_spend_minor, limit_per_referrer, updated_at) VALUES (?, "
              "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              params));
  RG_TRY(BumpConfigVersion(tx, actor.merchant_id));
  return LoadProgram(tx, actor.merchant_id);
}

Result<ReferralProgram> GetReferralProgram(store::Tx& tx, const Actor& actor) {
  return LoadProgram(tx, actor.merchant_id);
}

// Referrals ----------------------------------------------------------------------------------

Result<Referral> RecordReferral(store::Tx& tx, const Actor& actor, const ReferralInput& in) {
  std::string code;
  for (char ch : in.referral_code)
    if (ch != ' ' && ch != '-') code.push_back((ch >= 'a' && ch <= 'z') ? ch - 'a' + 'A' : ch);
  if (code.empty() || code.size() > 32) return InvalidField("referral_code", "is required");
  if (in.device_id) {
    if (in.device_id->empty() || in.device_id->size() > 200)
      return InvalidField("device_id", "must be 1 to 200 bytes");
    if (!IsValidUtf8(*in.device_id)) return InvalidField("device_id", "is not valid UTF-8");
  }
  RG_ASSIGN_OR_RETURN(auto newcomer, members::LoadMember(tx, actor.merchant_id, in.newcomer_id));
  if (!newcomer) return Fail(Code::kNotFound, "member not found", "member_id");
  if (newcomer->merged_into || newcomer->erased_at)
    return Fail(Code::kFailedPrecondition,
                newcomer->erased_at ? "member_id: the member was erased"
                                    : "member_id: the member was merged into another member",
                "member_id");
  RG_ASSIGN_OR_RETURN(Rows already,
                      tx.Query("SELECT id FROM referrals WHERE merchant_id = ? AND newcomer_id = ?",
                               {actor.merchant_id, newcomer->id}));
  if (!already.empty())
    return Fail(
        MakeError(Code::kAlreadyExists, "member_id: the member was already referred", "member_id")
            .WithDetail("referral_id", IdToString(already[0].Int(0))));
  RG_ASSIGN_OR_RETURN(ReferralProgram program, LoadProgram(tx, actor.merchant_id));
  if (!program.active)
    return Fail(Code::kFailedPrecondition, "there is no active referral program");

  // The referrer, by referral code only (not card codes).
  RG_ASSIGN_OR_RETURN(Rows found,
                      tx.Query("SELECT id FROM members WHERE merchant_id = ? AND referral_code = ?",
                               {actor.merchant_id, code}));
  if (found.empty()) return InvalidField("referral_code", "no member has this referral code");
  RG_ASSIGN_OR_RETURN(auto referrer_id, Survivor(tx, actor.merchant_id, found[0].Int(0)));
  if (!referrer_id) return InvalidField("referral_code", "no member has this referral code");
  auto self = [](std::string_view why) {
    return Fail(Code::kFailedPrecondition,
                fmt::format("referral_code: self-referral is not allowed ({})", why),
                "referral_code");
  };
  if (*referrer_id == newcomer->id) return self("the member's own code");
  RG_ASSIGN_OR_RETURN(auto referrer, members::LoadMember(tx, actor.merchant_id, *referrer_id));
  if (!referrer) return Fail(Code::kInternal, "referrer vanished");
  RG_ASSIGN_OR_RETURN(Contacts nc, ContactsOf(tx, actor.merchant_id, *newcomer));
  RG_ASSIGN_OR_RETURN(Contacts rc, ContactsOf(tx, actor.merchant_id, *referrer));
  if (Intersects(nc.phones, rc.phones)) return self("same phone number as the referrer");
  if (Intersects(nc.emails, rc.emails)) return self("same e-mail address as the referrer");
  if (in.device_id) {
    RG_ASSIGN_OR_RETURN(Rows seen,
                        tx.Query("SELECT 1 FROM member_devices WHERE merchant_id = ? AND "
                                 "device_id = ? AND member_id = ?",
                                 {actor.merchant_id, *in.device_id, referrer->id}));
    if (!seen.empty()) return self("same device as the referrer");
    RG_ASSIGN_OR_RETURN(Rows used,
                        tx.Query("SELECT 1 FROM referrals WHERE merchant_id = ? AND device_id = ?",
                                 {actor.merchant_id, *in.device_id}));
    if (!used.empty())
      return Fail(Code::kFailedPrecondition,
                  "device_id: this device was already used for a referral", "device_id");
  }
  if (actor.now - newcomer->created_at > kReferralJoinWindow)
    return Fail(Code::kFailedPrecondition,
                "member_id: the member joined too long ago to be referred", "member_id");
  RG_ASSIGN_OR_RETURN(Rows orders,
                      tx.Query("SELECT 1 FROM orders WHERE merchant_id = ? AND member_id = ? "
                               "LIMIT 1",
                               {actor.merchant_id, newcomer->id}));
  if (!orders.empty())
    return Fail(Code::kFailedPrecondition, "member_id: the member has already made a purchase",
                "member_id");

  // Count this referral against the referrer's limit. The UPDATE row-locks the counter, so
  // concurrent newcomers of one referrer are counted one after another.
  RG_TRY(
      tx.Exec("INSERT INTO referral_counts (merchant_id, referrer_id, referred) VALUES (?, ?, 0) "
              "ON CONFLICT (merchant_id, referrer_id) DO NOTHING",
              {actor.merchant_id, referrer->id}));
  std::string bump =
      "UPDATE referral_counts SET referred = referred + 1 WHERE merchant_id = ? AND "
      "referrer_id = ?";
  std::vector<Value> params = {actor.merchant_id, referrer->id};
  if (program.limit_per_referrer) {
    bump += " AND referred < ?";
    params.push_back(int64_t{*program.limit_per_referrer});
  }
  RG_ASSIGN_OR_RETURN(int64_t counted, tx.Exec(bump, params));
  if (counted != 1)
    return Fail(Code::kFailedPrecondition,
                fmt::format("referral_code: the referrer has reached the limit of {} referrals",
                            program.limit_per_referrer.value_or(0)),
                "referral_code");

  Referral r{NewId(),   referrer->id, newcomer->id, code,        in.device_id,
             "pending", std::nullopt, actor.now,    std::nullopt};
  RG_TRY(tx.Exec(fmt::format("INSERT INTO referrals (merchant_id, {}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?)",
                             kReferralCols),
                 {actor.merchant_id, r.id, r.referrer_id, r.newcomer_id, r.code, Opt(r.device_id),
                  r.status, Opt(r.order_id), r.created_at, Opt(r.rewarded_at)}));
  if (in.device_id) RG_TRY(RecordMemberDevice(tx, actor, newcomer->id, *in.device_id));
  json data = {{"referral_id", IdToString(r.id)},
               {"referrer_id", IdToString(r.referrer_id)},
               {"newcomer_id", IdToString(r.newcomer_id)},
               {"referral_code", r.code}};
  RG_TRY(Emit(tx, actor, "referral_recorded", r.newcomer_id, data));
  return r;
}

Result<Page<Referral>> ListReferrals(store::Tx& tx, const Actor& actor, std::optional<Id> member_id,
                                     std::optional<std::string> cursor, int limit) {
  Id before = INT64_MAX;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    before = *id;
  }
  std::string sql =
      fmt::format("SELECT {} FROM referrals WHERE merchant_id = ? AND id < ?", kReferralCols);
  std::vector<Value> params = {actor.merchant_id, before};
  if (member_id) {
    sql += " AND (referrer_id = ? OR newcomer_id = ?)";
    params.push_back(*member_id);
    params.push_back(*member_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.push_back(int64_t{limit + 1});
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  Page<Referral> page;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i)
    page.items.push_back(ReferralFromRow(rows[i]));
  if (static_cast<int>(rows.size()) > limit) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

Status RecordMemberDevice(store::Tx& tx, const Actor& actor, Id member_id,
                          const std::string& device_id) {
  RG_TRY(
      tx.Exec("INSERT INTO member_devices (merchant_id, device_id, member_id, first_seen_at) "
              "VALUES (?, ?, ?, ?) ON CONFLICT (merchant_id, device_id, member_id) DO NOTHING",
              {actor.merchant_id, device_id, member_id, actor.now}));
  return {};
}

// Rewards ------------------------------------------------------------------------------------

Status OnOrderForReferrals(store::Tx& tx, const Actor& actor, const OrderResult& result) {
  const Order& order = result.order;
  if (!order.member_id) return {};
  // An inactive (or never set) program rewards nothing: no need to look for a pending referral.
  if (result.config && !result.config->referral_program_active) return {};
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM referrals WHERE merchant_id "
                                                      "= ? AND newcomer_id = ? AND status = "
                                                      "'pending'",
                                                      kReferralCols),
                                          {actor.merchant_id, *order.member_id}));
  if (rows.empty()) return {};
  Referral ref = ReferralFromRow(rows[0]);
  RG_ASSIGN_OR_RETURN(ReferralProgram program, LoadProgram(tx, actor.merchant_id));
  if (!program.active || order.total_minor < program.min_spend_minor) return {};
  // Exactly once: whoever moves the referral out of pending rewards it.
  RG_ASSIGN_OR_RETURN(int64_t won,
                      tx.Exec("UPDATE referrals SET status = 'rewarded', order_id = ?, "
                              "rewarded_at = ? WHERE merchant_id = ? AND id = ? AND status = "
                              "'pending'",
                              {order.id, actor.now, actor.merchant_id, ref.id}));
  if (won != 1) return {};
  ref.status = "rewarded";
  ref.order_id = order.id;
  ref.rewarded_at = actor.now;

  RG_ASSIGN_OR_RETURN(json newcomer_got,
                      Grant(tx, actor, program.newcomer, ref.newcomer_id, ref, order, "newcomer"));
  json referrer_got = nullptr;
  RG_ASSIGN_OR_RETURN(auto referrer, Survivor(tx, actor.merchant_id, ref.referrer_id));
  if (referrer) {
    RG_ASSIGN_OR_RETURN(referrer_got,
                        Grant(tx, actor, program.referrer, *referrer, ref, order, "referrer"));
  }
  json data = {{"referral_id", IdToString(ref.id)},
               {"order_id", IdToString(order.id)},
               {"referrer_id", IdToString(ref.referrer_id)},
               {"newcomer_id", IdToString(ref.newcomer_id)},
               {"referrer_reward", referrer_got},
               {"newcomer_reward", newcomer_got}};
  data["side"] = "newcomer";
  RG_TRY(Emit(tx, actor, "referral_rewarded", ref.newcomer_id, data));
  if (referrer) {
    data["side"] = "referrer";
    RG_TRY(Emit(tx, actor, "referral_rewarded", *referrer, data));
  }
  return {};
}

Status OnOrderRefundedForReferrals(store::Tx& tx, const Actor& actor, const Order& order) {
  if (!order.member_id) return {};
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM referrals WHERE merchant_id "
                                                      "= ? AND order_id = ? AND status = "
                                                      "'rewarded'",
                                                      kReferralCols),
                                          {actor.merchant_id, order.id}));
  if (rows.empty()) return {};
  Referral ref = ReferralFromRow(rows[0]);
  RG_ASSIGN_OR_RETURN(ReferralProgram program, LoadProgram(tx, actor.merchant_id));
  if (order.total_minor - order.refunded_minor >= program.min_spend_minor &&
      order.refunded_minor < order.total_minor)
    return {};
  // Exactly once: whoever moves the referral out of rewarded takes the rewards back.
  RG_ASSIGN_OR_RETURN(int64_t won,
                      tx.Exec("UPDATE referrals SET status = 'reversed', reversed_at = ? WHERE "
                              "merchant_id = ? AND id = ? AND status = 'rewarded'",
                              {actor.now, actor.merchant_id, ref.id}));
  if (won != 1) return {};

  // Points: every referral credit is reversed on whoever holds it now; what was spent already
  // becomes a negative balance or debt, as for a refunded order's points.
  RG_ASSIGN_OR_RETURN(auto entries, EntriesForSource(tx, actor.merchant_id, "referral", ref.id));
  json points = json::array();
  std::map<Id, std::string> holders;  // whose points were taken back -> their side
  for (const auto& e : entries) {
    if (e.kind != "earn" || e.amount <= 0) continue;
    RG_ASSIGN_OR_RETURN(auto holder, Survivor(tx, actor.merchant_id, e.member_id));
    if (!holder) continue;
    holders.emplace(*holder, e.member_id == ref.newcomer_id ? "newcomer" : "referrer");
    EntryInput in{*holder,
                  e.point_type_id,
                  "reverse",
                  e.amount,
                  "referral reward taken back: order " + order.external_id + " refunded",
                  "referral",
                  ref.id,
                  order.branch_id,
                  actor.staff_id,
                  actor.now};
    RG_ASSIGN_OR_RETURN(Entry entry, Debit(tx, actor.merchant_id, in, true, {e.id}));
    points.push_back({{"member_id", IdToString(*holder)},
                      {"points", -e.amount},
                      {"balance_after", entry.balance_after}});
  }
  // Coupons: voided unless already used.
  RG_ASSIGN_OR_RETURN(
      VoidedCoupons coupons,
      VoidCouponsBySource(tx, actor, "referral:" + IdToString(ref.id),
                          fmt::format("the referral's order {} was refunded", order.external_id)));
  json voided = json::array(), kept = json::array();
  for (const auto& c : coupons.voided) voided.push_back(c.code);
  for (const auto& c : coupons.kept_redeemed) kept.push_back(c.code);
  json data = {{"referral_id", IdToString(ref.id)},
               {"order_id", IdToString(order.id)},
               {"referrer_id", IdToString(ref.referrer_id)},
               {"newcomer_id", IdToString(ref.newcomer_id)},
               {"points", points},
               {"coupons_voided", voided},
               {"coupons_kept_redeemed", kept}};
  data["side"] = "newcomer";
  RG_TRY(Emit(tx, actor, "referral_reversed", ref.newcomer_id, data));
  // Every other member whose balance changed (the referrer, or whoever a rewarded member was
  // merged into) gets the event too, as for referral_rewarded: readers of the log such as the
  // insight feature store must see each balance change on that member.
  for (const auto& [holder, side] : holders) {
    if (holder == ref.newcomer_id) continue;
    data["side"] = side;
    RG_TRY(Emit(tx, actor, "referral_reversed", holder, data));
  }
  return {};
}

}  // namespace regulars::loyalty
