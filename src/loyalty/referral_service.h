#pragma once

// Referrals (推薦好友): every member has a referral code (members.referral_code). A newcomer who
// joins with someone's code is recorded right after joining (RecordReferral); their first
// qualifying purchase (an order of at least the program's min_spend_minor) rewards both sides,
// once — the referral's status moves pending -> rewarded with a conditional UPDATE, so two
// orders racing (or an order replayed) cannot reward twice. Each side's reward is points of a
// point type, or a coupon of a template, or nothing.
//
// Guards, checked when the referral is recorded:
//   self-referral: the newcomer's own code, or a referrer with the same phone number (including
//     phones merged into the referrer), the same e-mail address, or the same device (a device
//     the referrer was seen on: member_devices, filled by RecordMemberDevice and by earlier
//     referrals);
//   one referral per newcomer, and per device (device_id is the newcomer's own phone or browser,
//     not a shared counter tablet);
//   the newcomer must not have bought anything yet, and must have joined within
//     kReferralJoinWindow;
//   a limit per referrer: referrals recorded per referrer, counted with a conditional UPDATE on
//     referral_counts so concurrent newcomers cannot exceed it.
//
// Events: referral_recorded, referral_rewarded (with what each side got).

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "loyalty/order_service.h"
#include "store/db.h"

namespace regulars::loyalty {

// How long after joining a newcomer may still be recorded as referred.
inline constexpr Micros kReferralJoinWindow = 7 * kMicrosPerDay;

// One side's reward: points of a point type, or one coupon of a template, or nothing.
struct ReferralReward {
  std::optional<Id> point_type_id;
  std::string point_type;  // code, filled when read
  int64_t points = 0;
  std::optional<Id> coupon_template_id;
  bool empty() const { return !point_type_id && !coupon_template_id; }
};

struct ReferralProgram {
  bool configured = false;  // false: never set; the rest are defaults
  bool active = false;
  ReferralReward referrer, newcomer;
  int64_t min_spend_minor = 0;
  std::optional<int> limit_per_referrer;  // none: unlimited
  Micros updated_at = 0;
};

struct ReferralRewardInput {
  std::optional<std::string> point_type;  // code or id
  std::optional<int64_t> points;
  std::optional<Id> coupon_template_id;
};
// Replaces the whole program (absent rewards mean "nothing for that side").
struct ReferralProgramInput {
  bool active = true;
  std::optional<ReferralRewardInput> referrer_reward, newcomer_reward;
  int64_t min_spend_minor = 0;
  std::optional<int> limit_per_referrer;
};

// Owner or manager. invalid_argument names the field ("referrer_reward.points").
Result<ReferralProgram> SetReferralProgram(store::Tx& tx, const accounts::Actor& actor,
                                           const ReferralProgramInput& in);
Result<ReferralProgram> GetReferralProgram(store::Tx& tx, const accounts::Actor& actor);

struct Referral {
  Id id = 0;
  Id referrer_id = 0;
  Id newcomer_id = 0;
  std::string code;
  std::optional<std::string> device_id;
  std::string status;  // pending, rewarded, reversed (its order was refunded; final)
  std::optional<Id> order_id;
  Micros created_at = 0;
  std::optional<Micros> rewarded_at;
};

struct ReferralInput {
  Id newcomer_id = 0;
  std::string referral_code;
  std::optional<std::string> device_id;
};

// Records that `newcomer_id` joined with `referral_code` (any role). Errors:
//   not_found for an unknown newcomer ("member not found", field member_id);
//   invalid_argument "referral_code: no member has this referral code";
//   failed_precondition "there is no active referral program";
//   failed_precondition "referral_code: self-referral is not allowed (<why>)" where why is
//     "the member's own code", "same phone number as the referrer", "same e-mail address as
//     the referrer" or "same device as the referrer";
//   failed_precondition "device_id: this device was already used for a referral";
//   already_exists "member_id: the member was already referred" (details referral_id);
//   failed_precondition "member_id: the member has already made a purchase" /
//     "member_id: the member joined too long ago to be referred";
//   failed_precondition "referral_code: the referrer has reached the limit of N referrals".
Result<Referral> RecordReferral(store::Tx& tx, const accounts::Actor& actor,
                                const ReferralInput& in);

// Referrals a member made or came from (member_id), or all of the merchant's, newest first.
Result<Page<Referral>> ListReferrals(store::Tx& tx, const accounts::Actor& actor,
                                     std::optional<Id> member_id, std::optional<std::string> cursor,
                                     int limit);

// Remembers that a member uses a device (for the self-referral guard). Idempotent.
Status RecordMemberDevice(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                          const std::string& device_id);

// Hook for AfterOrderCreated: when the order's member is a pending newcomer and the order
// qualifies, rewards both sides exactly once. Never fails for business reasons (a reward whose
// point type or template is gone or inactive is skipped); only database errors come back.
Status OnOrderForReferrals(store::Tx& tx, const accounts::Actor& actor, const OrderResult& result);

// Hook for AfterOrderRefunded: when the order that rewarded a referral is refunded below the
// program's min_spend_minor (or in full), both sides' rewards are taken back once — points
// reversed (spent points become a negative balance or debt), unused coupons voided, used ones
// kept — and the referral becomes 'reversed' for good: a later purchase rewards nothing, so a
// buy-and-refund cycle cannot farm rewards. Event referral_reversed.
Status OnOrderRefundedForReferrals(store::Tx& tx, const accounts::Actor& actor, const Order& order);

}  // namespace regulars::loyalty
