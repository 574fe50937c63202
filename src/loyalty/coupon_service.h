#pragma once

// Coupon use cases: templates, issuing (to one member, in bulk, and by themselves: welcome
// offers, birthday coupons, spend-threshold gifts, referral rewards), listing and redemption.
// Each runs inside the caller's transaction and filters by actor.merchant_id: another
// merchant's template or coupon is not_found.
//
// Redeemed once: redemption is `UPDATE coupons SET redeemed_at = ? ... WHERE ... AND
// redeemed_at IS NULL` and the row count decides. On PostgreSQL at READ COMMITTED a second
// redeemer waits for the first one's row lock, re-checks the condition after it commits and
// changes nothing; on SQLite the single writer serialises them. The loser is told when the
// coupon was redeemed.
//
// Issued once: automatic issues carry a source_key ("welcome", "birthday:2026",
// "order:<id>", "referral:<id>") unique per (template, member), inserted with ON CONFLICT DO
// NOTHING, so running a hook or the birthday job twice issues nothing new.
//
// Events: coupon_issued (one per coupon issued to one member, automatic or by hand, with the
// code), coupons_issued (one per bulk issue, with batch_id and count), coupon_redeemed.

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "loyalty/coupon.h"
#include "loyalty/order_service.h"
#include "members/member.h"
#include "store/db.h"

namespace regulars::loyalty {

// The most coupons one bulk issue may create.
inline constexpr int kMaxBulkCoupons = 50'000;

// Templates. Everyone may list them; owners and managers create and change them. There is no
// delete: `active: false` retires a template (its coupons stay redeemable). A change to the
// discount applies to coupons not yet redeemed; validity windows are fixed at issue.
Result<CouponTemplate> CreateCouponTemplate(store::Tx& tx, const accounts::Actor& actor,
                                            const CouponTemplateInput& in);
Result<CouponTemplate> UpdateCouponTemplate(store::Tx& tx, const accounts::Actor& actor, Id id,
                                            const CouponTemplateInput& in);
Result<std::vector<CouponTemplate>> ListCouponTemplates(store::Tx& tx,
                                                        const accounts::Actor& actor);
Result<CouponTemplate> GetCouponTemplate(store::Tx& tx, const accounts::Actor& actor, Id id);

// A coupon with its template (for rendering and for the discount).
struct CouponView {
  Coupon coupon;
  CouponTemplate tmpl;
};

// Issues one coupon of an active template to one member (owner or manager). An unknown
// template is invalid_argument naming template_id; a merged-away or erased member is
// failed_precondition; a template whose validity is over is failed_precondition.
Result<CouponView> IssueCoupon(store::Tx& tx, const accounts::Actor& actor, Id template_id,
                               Id member_id);

struct BulkIssueInput {
  Id template_id = 0;
  // Either a list of members (duplicates count once) ...
  std::optional<std::vector<Id>> member_ids;
  // ... or every member who may be marketed to: not erased, not merged, with consent granted
  // on `channel` (any channel when unset).
  bool consented = false;
  std::optional<members::Channel> channel;
};
struct BulkIssueResult {
  Id batch_id = 0;
  int64_t issued = 0;
};
// Issues one coupon per member, at most kMaxBulkCoupons per call (more is invalid_argument
// naming member_ids, or failed_precondition for an audience that large). Owner or manager. A
// member id that is unknown, merged or erased is invalid_argument naming member_ids[i], and
// nothing is issued. One coupons_issued event.
Result<BulkIssueResult> IssueCouponsBulk(store::Tx& tx, const accounts::Actor& actor,
                                         const BulkIssueInput& in);

struct CouponFilter {
  std::optional<Id> member_id;
  std::optional<Id> template_id;
  std::optional<Id> batch_id;
  std::optional<CouponState> state;  // as of actor.now
};
// Newest first; `cursor` is opaque.
Result<Page<CouponView>> ListCoupons(store::Tx& tx, const accounts::Actor& actor,
                                     const CouponFilter& filter, std::optional<std::string> cursor,
                                     int limit);
// By code (any case, surrounding blanks ignored), or not_found.
Result<CouponView> GetCoupon(store::Tx& tx, const accounts::Actor& actor, std::string_view code);

struct RedeemCouponInput {
  // When given, the coupon must belong to this member (or to one merged into it).
  std::optional<Id> member_id;
  // The order's total before the discount; required when the template has a minimum spend.
  std::optional<int64_t> order_total_minor;
  // The shop's reference for the order (Regulars order id or POS number).
  std::optional<std::string> order_ref;
  std::optional<Id> branch_id;
};
// Redeems a coupon once, at actor.now (any role). Errors, most specific first: not_found;
// invalid_argument for bad input; failed_precondition "coupon already redeemed at <time>",
// "coupon was voided at <time>: <reason>",
// "coupon is not valid until <time>", "coupon expired at <time>", "order_total_minor: the
// minimum spend is N", "member_id: the coupon belongs to another member". Answers with the
// redeemed coupon and its discount_minor.
Result<CouponView> RedeemCoupon(store::Tx& tx, const accounts::Actor& actor, std::string_view code,
                                const RedeemCouponInput& in);

// Hooks, each inside the caller's transaction. They never fail for business reasons (a
// template whose window is over is skipped); only database errors come back.
//
// Welcome offer: one coupon of every active `welcome` template. Call right after a member is
// created (by the members route, by an order that registers a member, by imports).
Status OnMemberJoined(store::Tx& tx, const accounts::Actor& actor, Id member_id);
// The same with the merchant's active welcome templates given (from the configuration cache).
Status OnMemberJoined(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                      const std::vector<CouponTemplate>& welcome_templates);
// Spend-threshold gifts (滿額贈): one coupon of every active `spend` template whose threshold
// the order's total reaches. Call from AfterOrderCreated.
Status OnOrderForCoupons(store::Tx& tx, const accounts::Actor& actor, const OrderResult& result);

// What a refund took back: coupons voided, and those kept because they were already used.
struct VoidedCoupons {
  std::vector<Coupon> voided;
  std::vector<Coupon> kept_redeemed;
};
// Voids every not-yet-redeemed coupon issued with `source_key` ("order:<id>", "referral:<id>"),
// appending a coupon_voided event for each; redeemed ones are kept and listed. Idempotent.
Result<VoidedCoupons> VoidCouponsBySource(store::Tx& tx, const accounts::Actor& actor,
                                          const std::string& source_key, const std::string& reason);
// Refund hook (AfterOrderRefunded): when the order's net total (total - refunded) falls below
// the threshold of a spend gift it earned, the gift is voided unless it was already used.
// A voided coupon is refused at redemption ("coupon was voided at <time>: <reason>").
Result<VoidedCoupons> OnOrderRefundedForCoupons(store::Tx& tx, const accounts::Actor& actor,
                                                const Order& order);

// The daily birthday job for every merchant: each active `birthday` template issues one coupon
// to each member whose birthday (in the merchant's time zone) is within birthday_days_before
// local days from `now`, once per member per birthday year (source_key "birthday:<year>"), so
// it is idempotent and catches up on days it missed. 29 February birthdays count as 28
// February in other years. Issues at most `max_per_merchant` per merchant per run. Returns the
// number issued.
Result<int64_t> IssueBirthdayCoupons(store::Tx& tx, Micros now, int max_per_merchant = 10'000);

// Issues one coupon of `t` to `member_id` unless one with `source_key` exists already (then
// nullopt). For other loyalty services (referral rewards). `t` must be this merchant's.
Result<std::optional<Coupon>> IssueAutomaticCoupon(store::Tx& tx, const accounts::Actor& actor,
                                                   const CouponTemplate& t, Id member_id,
                                                   const std::string& source,
                                                   const std::string& source_key);

// Moves `from`'s coupons to `into` after members::MergeMembers; an automatic coupon that
// `into` already has (same template and source_key) stays with `from` (still redeemable by
// its code).
Status MergeCoupons(store::Tx& tx, const accounts::Actor& actor, Id into, Id from);

}  // namespace regulars::loyalty
