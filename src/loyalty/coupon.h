#pragma once

// Coupons (優惠券): value types and pure decisions. No I/O.
//
// A coupon template says what a coupon is worth and when it may be used; a coupon is one
// issued copy of a template: a unique code, the member it was given to, and its own validity
// window (fixed at issue), redeemed at most once.
//
// The rules, decided here and nowhere else:
//   Discount (CouponDiscount): amount off, or percent off the order total rounded half up to
//     the minor unit, or a free item worth item_value_minor; then capped by max_discount_minor
//     and never more than the order total.
//   Validity (CouponValidity): from the later of the issue time and the template's valid_from,
//     until the earlier of issue + valid_days and the template's valid_to (none: no end).
//   Redemption (CheckRedeemable): refused when redeemed already (saying when), before
//     valid_from, at or after valid_until, or below the minimum spend (saying the minimum).
//   Birthdays (BirthdayYearToIssue): a birthday coupon is issued `days_before` local days
//     before the birthday, or on any later day up to the birthday itself when the daily job
//     missed a day. 29 February birthdays fall on 28 February in other years.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::loyalty {

// The longest a coupon may stay valid after issue, and the furthest ahead a birthday coupon
// may be issued.
inline constexpr int kMaxCouponValidDays = 3650;
inline constexpr int kMaxBirthdayDaysBefore = 60;
// The largest amount a template may name, in minor units (same bound as the wallet).
inline constexpr int64_t kMaxCouponAmountMinor = 1'000'000'000'000;

enum class CouponKind { kAmountOff, kPercentOff, kFreeItem };
// "amount_off", "percent_off", "free_item".
std::string_view CouponKindName(CouponKind k);
std::optional<CouponKind> ParseCouponKind(std::string_view s);

// When coupons of a template are issued by themselves (besides by hand or in bulk).
enum class IssueOn {
  kManual,    // only by staff or the API
  kWelcome,   // once to every new member, on joining
  kBirthday,  // once a year, birthday_days_before local days before the birthday
  kSpend,     // once per order whose total reaches spend_threshold_minor (滿額贈)
};
// "manual", "welcome", "birthday", "spend".
std::string_view IssueOnName(IssueOn i);
std::optional<IssueOn> ParseIssueOn(std::string_view s);

struct CouponTemplate {
  Id merchant_id = 0;
  Id id = 0;
  std::string name;
  CouponKind kind = CouponKind::kAmountOff;
  std::optional<int64_t> amount_off_minor;  // kAmountOff
  std::optional<int> percent_off;           // kPercentOff: 1..100
  std::optional<std::string> free_item;     // kFreeItem: what the member gets
  std::optional<int64_t> item_value_minor;  // kFreeItem: what it is worth (0 when unset)
  std::optional<int64_t> max_discount_minor;
  int64_t min_spend_minor = 0;
  std::optional<Micros> valid_from;  // inclusive
  std::optional<Micros> valid_to;    // exclusive
  std::optional<int> valid_days;     // after issue
  IssueOn issue_on = IssueOn::kManual;
  std::optional<int> birthday_days_before;       // kBirthday: 0..60
  std::optional<int64_t> spend_threshold_minor;  // kSpend
  bool active = true;
  Micros created_at = 0;
  Micros updated_at = 0;
};

// A create or a partial update. For optional-of-optional fields the outer level says "present",
// the inner nullopt means "clear it".
struct CouponTemplateInput {
  std::optional<std::string> name;
  std::optional<CouponKind> kind;
  std::optional<std::optional<int64_t>> amount_off_minor, item_value_minor, max_discount_minor,
      spend_threshold_minor;
  std::optional<std::optional<int>> percent_off, valid_days, birthday_days_before;
  std::optional<std::optional<std::string>> free_item;
  std::optional<int64_t> min_spend_minor;
  std::optional<std::optional<Micros>> valid_from, valid_to;
  std::optional<IssueOn> issue_on;
  std::optional<bool> active;
};

// Applies `in` to `t` and checks the result as a whole; invalid_argument names the field
// ("percent_off: must be 1 to 100"). Fields that do not fit the kind are cleared.
Status ApplyTemplateInput(CouponTemplate& t, const CouponTemplateInput& in);
// Checks a template's fields (what ApplyTemplateInput checks after applying).
Status ValidateTemplate(const CouponTemplate& t);

struct CouponValidityWindow {
  Micros valid_from = 0;
  std::optional<Micros> valid_until;  // exclusive; none: never expires
};
// The window of a coupon issued at `issued_at`. failed_precondition when the template's own
// window is already over ("the template's validity ended at ...").
Result<CouponValidityWindow> CouponValidity(const CouponTemplate& t, Micros issued_at);

enum class CouponState { kAvailable, kRedeemed, kExpired, kNotYetValid, kVoided };
// "available", "redeemed", "expired", "not_yet_valid", "voided".
std::string_view CouponStateName(CouponState s);
std::optional<CouponState> ParseCouponState(std::string_view s);

struct Coupon {
  Id merchant_id = 0;
  Id id = 0;
  std::string code;
  Id template_id = 0;
  Id member_id = 0;
  std::string source;  // staff, bulk, welcome, birthday, spend, referral
  std::optional<std::string> source_key;
  std::optional<Id> batch_id;
  Micros valid_from = 0;
  std::optional<Micros> valid_until;
  Micros issued_at = 0;
  std::string issued_by;  // actor label
  std::optional<Micros> redeemed_at;
  std::optional<std::string> redeemed_order_ref;
  std::optional<Id> redeemed_branch_id;
  std::optional<std::string> redeemed_by;
  std::optional<int64_t> discount_minor;
  std::optional<int64_t> order_total_minor;
  // Set when the order that earned the coupon was refunded (spend gifts, referral rewards).
  std::optional<Micros> voided_at;
  std::optional<std::string> void_reason;

  CouponState StateAt(Micros now) const;
};

// Percent of an amount, rounded half up to the minor unit.
int64_t PercentOf(int64_t amount_minor, int percent);

// What the coupon takes off an order of `order_total_minor` (unknown: the undiscounted face
// value, e.g. for a percent coupon only its cap, or 0).
int64_t CouponDiscount(const CouponTemplate& t, std::optional<int64_t> order_total_minor);

// Whether the coupon may be redeemed at `now` for an order of `order_total_minor`:
//   failed_precondition "coupon already redeemed at <time>" (details redeemed_at),
//   failed_precondition "coupon was voided at <time>: <reason>" (details voided_at),
//   failed_precondition "coupon is not valid until <time>",
//   failed_precondition "coupon expired at <time>",
//   failed_precondition "order_total_minor: the minimum spend is N" (field order_total_minor),
//   invalid_argument "order_total_minor: is required: the minimum spend is N" when unknown.
Status CheckRedeemable(const Coupon& c, const CouponTemplate& t, Micros now,
                       std::optional<int64_t> order_total_minor);

// Calendar arithmetic on local dates.
Date AddDays(const Date& d, int days);
// The birthday (month, day) in `year`: 29 February becomes 28 February when `year` is not a
// leap year.
Date BirthdayInYear(int month, int day, int year);
// The local day a birthday coupon for the birthday in `year` is due.
Date BirthdayIssueDate(int month, int day, int year, int days_before);
// The year of the birthday a coupon is due for on local day `today` — when `today` lies
// between that birthday's issue date and the birthday itself (both inclusive) — or nullopt.
std::optional<int> BirthdayYearToIssue(const Date& today, int month, int day, int days_before);

}  // namespace regulars::loyalty
