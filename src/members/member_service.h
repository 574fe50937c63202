#pragma once

// Member use cases. Each runs inside the caller's transaction and appends its domain events
// there. Every function filters by actor.merchant_id: another merchant's member is not_found.

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "events/event.h"
#include "members/member.h"
#include "members/member_repo.h"
#include "store/db.h"

namespace regulars::members {

// What a service needs to know about the merchant.
struct MerchantContext {
  std::string region = "TW";  // reads phone numbers without a country prefix
};

// Creates a member. A phone that is taken is already_exists with details {"member_id": id}.
// Consent given here is recorded with the actor, branch and input.consent_source.
Result<Member> CreateMember(store::Tx& tx, const accounts::Actor& actor, const MerchantContext& mc,
                            const MemberInput& input);

Result<Member> GetMember(store::Tx& tx, const accounts::Actor& actor, Id member_id);

// Applies a partial update; consent changes append consent_changed events.
Result<Member> UpdateMember(store::Tx& tx, const accounts::Actor& actor, const MerchantContext& mc,
                            Id member_id, const MemberInput& input);

// The member with this phone in any spelling, or not_found.
Result<Member> LookupByPhone(store::Tx& tx, const accounts::Actor& actor, const MerchantContext& mc,
                             std::string_view phone);
// The member with this card or referral code, or not_found.
Result<Member> LookupByCode(store::Tx& tx, const accounts::Actor& actor, std::string_view code);

// Finds members by full phone, its last 3+ digits, e-mail (prefix) or name (contains; Traditional
// and Simplified Chinese match each other). Empty q lists everyone, newest first.
Result<Page<Member>> SearchMembers(store::Tx& tx, const accounts::Actor& actor,
                                   const MerchantContext& mc, std::string_view q,
                                   std::optional<std::string> cursor, int limit);

// Folds `from` into `into`: identities, timeline and consents move; `from` points at `into`
// and its phone becomes an identity of `into`. Appends member_merged (other modules move
// balances in the same transaction by reading it). Owner or manager only.
Result<Member> MergeMembers(store::Tx& tx, const accounts::Actor& actor, Id into_id, Id from_id);

// Erases personal data; keeps the member row and every amount. Owner or manager only.
Result<Member> EraseMember(store::Tx& tx, const accounts::Actor& actor, Id member_id);

struct MemberExport {
  Member member;
  std::vector<Identity> identities;
  std::vector<events::Event> events;
};
Result<MemberExport> ExportMember(store::Tx& tx, const accounts::Actor& actor, Id member_id);

}  // namespace regulars::members
