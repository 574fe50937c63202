#pragma once

// May this message be sent now? A pure decision over facts the caller gathered (consent,
// suppression, the member's recent sends) and the merchant's messaging settings.
//
// Rules, in this order:
//   1. A suppression for the recipient: hard bounce suppresses every message; unsubscribed and
//      complaint suppress marketing only. An unsubscribe no longer counts once the member has
//      granted consent for the medium again after it (consent_changed_at > suppressed_at).
//   2. Marketing only: the member's marketing consent for the medium must be granted (no
//      decision recorded = not granted). Transactional messages need no marketing consent.
//   3. Marketing only: quiet hours in the merchant's zone defer to the end of the quiet period
//      (the next allowed local instant, resolved through DST gaps by FromLocal); never dropped.
//   4. Marketing only: frequency caps per member and medium over a rolling window (a day = 24 h,
//      a week = 7 × 24 h) counting messages already sent; at the cap, defer until the oldest
//      counted send leaves the window, or skip, as the merchant chose for that cap.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

enum class Purpose { kMarketing, kTransactional };
std::string_view PurposeName(Purpose p);  // "marketing", "transactional"
std::optional<Purpose> ParsePurpose(std::string_view s);

enum class SuppressionReason { kBounced, kUnsubscribed, kComplaint };
std::string_view SuppressionReasonName(SuppressionReason r);  // "bounced", ...
std::optional<SuppressionReason> ParseSuppressionReason(std::string_view s);

struct QuietHours {
  int start_minute = 21 * 60;  // local minute of day the quiet period starts (inclusive)
  int end_minute = 9 * 60;     // local minute of day it ends (exclusive); may be < start
};

enum class CapAction { kDefer, kSkip };
struct FrequencyCap {
  Medium medium = Medium::kSms;
  Micros period = kMicrosPerDay;  // kMicrosPerDay or 7 * kMicrosPerDay
  int max = 1;                    // at most this many sent messages per period
  CapAction action = CapAction::kDefer;
};

struct PolicySettings {
  std::string timezone = "Asia/Taipei";
  std::optional<QuietHours> quiet_hours;
  std::vector<FrequencyCap> caps;
};

// Parses the "policy" part of messaging_settings:
//   {"quiet_hours": {"start": "21:00", "end": "09:00"} | null,
//    "caps": [{"medium": "sms", "period": "day"|"week", "max": 2, "action": "defer"|"skip"}]}
// with `timezone` from the merchant. invalid_argument naming the field ("caps[1].period").
Result<PolicySettings> ParsePolicySettings(const nlohmann::json& j, std::string timezone);
nlohmann::json PolicySettingsToJson(const PolicySettings& s);

struct PolicyFacts {
  Purpose purpose = Purpose::kTransactional;
  Medium medium = Medium::kEmail;
  std::optional<bool> consent;                   // marketing consent for the medium
  Micros consent_changed_at = 0;                 // when `consent` was last set
  std::optional<SuppressionReason> suppression;  // for the recipient address
  Micros suppressed_at = 0;                      // when `suppression` was recorded
  std::vector<Micros> sent_at;                   // the member's sends on this medium, any order
};

struct Decision {
  enum class Kind { kSend, kDefer, kSkip, kSuppress } kind = Kind::kSend;
  Micros until = 0;    // kDefer: the earliest instant to try again
  std::string reason;  // kDefer/kSkip/kSuppress: "quiet_hours", "frequency_cap", "no_consent",
                       // "bounced", "unsubscribed", "complaint"
  friend bool operator==(const Decision&, const Decision&) = default;
};

// invalid_argument naming "timezone" for an unknown zone.
Result<Decision> Decide(const PolicySettings& s, const PolicyFacts& f, Micros now);

}  // namespace regulars::messaging
