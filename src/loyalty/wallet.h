#pragma once

// The prepaid wallet (儲值): value types and pure decisions. No I/O.
//
// A wallet holds two kinds of value, kept apart for the books:
//   paid  — money the member handed over (a liability: the merchant owes goods for it);
//   bonus — value a bonus scheme gave away on a top-up (a promotion cost).
// Every change is one append-only entry carrying the signed change of each part and the balance
// after it; neither part may ever go below zero.
//
// The rules, decided here and nowhere else:
//   Bonus (ChooseBonus): schemes never stack. Among the active schemes in force whose pay_minor
//     is at most the top-up, the one giving the largest bonus wins (ties: the larger pay_minor,
//     then the older scheme). A scheme gives bonus_minor once, or — with `repeats` — once per
//     full pay_minor in the top-up (pay 1,000 get 100, repeating: 2,500 gets 200).
//   Charge split (SplitCharge): proportional to the balance, so the paid:bonus mix of the wallet
//     stays the same as it is spent and the last charge empties both parts together. Rounding
//     favours paid: paid part = ceil(amount * paid / total), bonus part = the rest.
//   Refund (SplitRefund): a refund gives back to the parts the charge took from, in the charge's
//     proportion, rounding cumulatively in favour of paid (like the charge), so refunding a
//     charge in full, in any number of pieces, returns exactly what it took. A charge can never
//     be refunded beyond what it took minus what was already refunded.
//   Adjustment (ApplyWalletAdjustment): signed changes to either part by an owner or manager, with
//   a
//     reason; never below zero.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::loyalty {

// The largest amount one request may move, in minor units (10^12: far above any real top-up,
// far below where sums could overflow).
inline constexpr int64_t kMaxWalletAmountMinor = 1'000'000'000'000;

// kMerge moves a whole wallet from a merged-away member to the survivor (two entries).
enum class WalletEntryKind { kTopUp, kCharge, kRefund, kAdjust, kMerge };
// "top_up", "charge", "refund", "adjust", "merge".
std::string_view WalletEntryKindName(WalletEntryKind kind);
std::optional<WalletEntryKind> ParseWalletEntryKind(std::string_view name);

struct WalletBalance {
  int64_t paid_minor = 0;
  int64_t bonus_minor = 0;
  int64_t total_minor() const { return paid_minor + bonus_minor; }
  friend bool operator==(const WalletBalance&, const WalletBalance&) = default;
};

// How an amount divides between paid and bonus value (both non-negative).
struct WalletSplit {
  int64_t paid_minor = 0;
  int64_t bonus_minor = 0;
  int64_t total_minor() const { return paid_minor + bonus_minor; }
  friend bool operator==(const WalletSplit&, const WalletSplit&) = default;
};

// One ledger entry. paid_minor / bonus_minor are signed changes.
struct WalletEntry {
  Id merchant_id = 0;
  Id id = 0;
  Id member_id = 0;
  int64_t seq = 0;  // 1, 2, 3, ... per member
  WalletEntryKind kind = WalletEntryKind::kTopUp;
  int64_t paid_minor = 0;
  int64_t bonus_minor = 0;
  int64_t paid_after = 0;
  int64_t bonus_after = 0;
  std::string currency;
  std::optional<Id> scheme_id;                // top-ups with a bonus
  std::optional<std::string> order_id;        // charges (and their refunds)
  std::optional<Id> related_entry_id;         // refunds: the charge; merges: the other entry
  std::optional<std::string> payment_method;  // top-ups
  std::optional<std::string> reason;          // note or adjustment reason
  std::optional<Id> branch_id;
  std::optional<Id> staff_id;
  std::string actor;
  Micros created_at = 0;
  // Charges only, filled when listed: how much of it was refunded so far (positive).
  int64_t refunded_minor = 0;

  int64_t amount_minor() const { return paid_minor + bonus_minor; }
  WalletBalance after() const { return {paid_after, bonus_after}; }
};

struct BonusScheme {
  Id merchant_id = 0;
  Id id = 0;
  std::string name;
  int64_t pay_minor = 0;
  int64_t bonus_minor = 0;
  bool repeats = false;
  std::optional<Micros> valid_from;  // inclusive
  std::optional<Micros> valid_to;    // exclusive
  bool active = true;
  Micros created_at = 0;
  Micros updated_at = 0;

  // Active and within [valid_from, valid_to) at `now`.
  bool InForceAt(Micros now) const;
};

// The bonus one scheme gives a top-up of `amount_minor` (0 when the top-up is below pay_minor).
// Ignores whether the scheme is in force.
int64_t SchemeBonus(const BonusScheme& scheme, int64_t amount_minor);

struct BonusChoice {
  std::optional<Id> scheme_id;  // none: no scheme applies
  int64_t bonus_minor = 0;
};

// The best scheme in force at `now` for a top-up (see the file comment).
BonusChoice ChooseBonus(const std::vector<BonusScheme>& schemes, int64_t amount_minor, Micros now);

// The bonus of a scheme the cashier picked: failed_precondition when it is not in force,
// invalid_argument naming amount_minor when the top-up is below its pay_minor.
Result<BonusChoice> ApplyScheme(const BonusScheme& scheme, int64_t amount_minor, Micros now);

// The parts a charge takes from a balance; failed_precondition
// "amount_minor: the wallet holds only N" when the balance is too small.
Result<WalletSplit> SplitCharge(const WalletBalance& balance, int64_t amount_minor);

// The parts a refund of a charge gives back. `charged` is what the charge took (positive parts),
// `refunded` what earlier refunds of it gave back. `amount_minor` absent: everything left.
// failed_precondition (field amount_minor, or charge_id when nothing is left) beyond that.
Result<WalletSplit> SplitRefund(const WalletSplit& charged, const WalletSplit& refunded,
                                std::optional<int64_t> amount_minor);

// The balance after signed changes; failed_precondition naming the part that would go below
// zero ("paid_minor: the wallet holds only N of paid value").
Result<WalletBalance> ApplyWalletAdjustment(const WalletBalance& balance, int64_t paid_delta,
                                            int64_t bonus_delta);

// Requests, as read from the wire. Validation names the field of every error.

struct WalletTopUpInput {
  std::optional<int64_t> amount_minor{};
  std::optional<std::string> payment_method{};  // a short token: cash, card, line_pay, ...
  std::optional<Id> scheme_id{};                // pick a scheme; absent: the best one applies
  std::optional<Id> branch_id{};
  std::optional<std::string> note{};
};
Status ValidateWalletTopUp(const WalletTopUpInput& in);

struct WalletChargeInput {
  std::optional<int64_t> amount_minor{};
  std::optional<std::string> order_id{};
  std::optional<Id> branch_id{};
  std::optional<std::string> note{};
};
Status ValidateWalletCharge(const WalletChargeInput& in);

struct WalletRefundInput {
  std::optional<Id> charge_id{};
  std::optional<int64_t> amount_minor{};  // absent: what is left of the charge
  std::optional<Id> branch_id{};
  std::optional<std::string> note{};
};
Status ValidateWalletRefund(const WalletRefundInput& in);

struct WalletAdjustInput {
  std::optional<int64_t> paid_minor{};   // signed
  std::optional<int64_t> bonus_minor{};  // signed
  std::optional<std::string> reason{};
  std::optional<Id> branch_id{};
};
Status ValidateWalletAdjust(const WalletAdjustInput& in);

// A create (every required field present) or a partial update. For the optional-of-optional
// times the outer level says "present", the inner nullopt "clear it". Times are RFC 3339.
struct BonusSchemeInput {
  std::optional<std::string> name{};
  std::optional<int64_t> pay_minor{};
  std::optional<int64_t> bonus_minor{};
  std::optional<bool> repeats{};
  std::optional<std::optional<std::string>> valid_from{}, valid_to{};
  std::optional<bool> active{};
};
// Applies a create or patch onto `scheme` and checks the result.
Status ApplySchemeInput(BonusScheme& scheme, const BonusSchemeInput& in, bool create);

}  // namespace regulars::loyalty
