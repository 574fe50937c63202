#pragma once

// Members: the people a merchant keeps. Value types and pure validation; no I/O, no JSON.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"

namespace regulars::members {

enum class Channel { kSms = 0, kEmail = 1, kLine = 2 };
inline constexpr std::array<Channel, 3> kChannels = {Channel::kSms, Channel::kEmail,
                                                     Channel::kLine};
std::string_view ChannelName(Channel c);
std::optional<Channel> ParseChannel(std::string_view s);

// Marketing consent on one channel, and how it was obtained.
struct Consent {
  bool granted = false;
  Micros changed_at = 0;
  std::string source;  // "counter", "console", "api", "import", "member", "sms_stop", ...
  std::optional<Id> branch_id;
  std::optional<Id> staff_id;
};

struct Member {
  Id merchant_id = 0;
  Id id = 0;
  std::optional<std::string> phone;  // E.164
  std::optional<std::string> name;
  std::optional<std::string> email;   // lower-cased
  std::optional<Date> birthday;       // year 0 when unknown
  std::optional<std::string> gender;  // female, male, other
  std::optional<std::string> region;
  std::optional<std::string> city;
  std::vector<std::string> tags;
  std::string attributes_json = "{}";  // a JSON object, opaque to the domain
  std::optional<std::string> notes;
  std::optional<std::string> language;            // zh-TW, zh-CN, en
  std::array<std::optional<Consent>, 3> consent;  // by Channel
  std::string referral_code;
  std::optional<Id> home_branch_id;
  std::optional<Id> merged_into;
  std::optional<Micros> erased_at;
  Micros created_at = 0;
  Micros updated_at = 0;
};

// A create or a partial update. For optional-of-optional fields the outer level says "present
// in the request", the inner nullopt means "clear it".
struct MemberInput {
  std::optional<std::string> phone;
  std::optional<std::optional<std::string>> name, email, birthday, gender, region, city, notes,
      language;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> attributes_json;  // already checked to be a JSON object
  std::map<Channel, bool> consent;
  std::string consent_source = "api";
  std::optional<Id> branch_id;  // where it happened (home branch on create, consent records)
};

// The normalised form of a MemberInput: phone in E.164, e-mail lower-cased, birthday parsed,
// tags trimmed and de-duplicated. invalid_argument names the field ("phone", "tags[2]").
struct CleanInput {
  std::optional<std::string> phone;
  std::optional<std::optional<std::string>> name, email, gender, region, city, notes, language;
  std::optional<std::optional<Date>> birthday;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> attributes_json;
};
Result<CleanInput> CleanMemberInput(const MemberInput& in, std::string_view phone_region,
                                    Micros now);

// Fields in which `patch` changes `m` (names as in the API), and `m` with the patch applied.
std::vector<std::string> ApplyPatch(Member& m, const CleanInput& patch);

// Phone digits reversed ("+886912345678" -> "876543219688"): an index on this column answers
// "numbers ending in 5678" with a range scan.
std::string ReversedDigits(std::string_view phone);

// The merge rule: fields the survivor lacks are taken from the other member; tags are united;
// per channel the most recent consent decision wins.
void MergeInto(Member& survivor, const Member& other);

// Blanks every personal field; keeps ids, dates and the referral code (for the books).
void ErasePersonalData(Member& m, Micros now);

}  // namespace regulars::members
