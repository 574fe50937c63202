#pragma once

// SQL for the members tables (members, member_identities, member_consents), written once for
// both databases. Every function filters by merchant_id.

#include <optional>
#include <string>
#include <vector>

#include "members/member.h"
#include "store/db.h"

namespace regulars::members {

Result<std::optional<Member>> LoadMember(store::Tx& tx, Id merchant_id, Id member_id);
// Many members by id, in no particular order; ids that do not exist are left out.
Result<std::vector<Member>> LoadMembers(store::Tx& tx, Id merchant_id, const std::vector<Id>& ids);
// Inserts; a taken phone or referral code is already_exists.
Status InsertMember(store::Tx& tx, const Member& m);
// Writes every column and the consents.
Status SaveMember(store::Tx& tx, const Member& m);

// The member a phone belongs to: its own phone, or one merged into it.
Result<std::optional<Id>> FindByPhone(store::Tx& tx, Id merchant_id, const std::string& e164);
// The member with a card code or referral code.
Result<std::optional<Id>> FindByCode(store::Tx& tx, Id merchant_id, const std::string& code);

struct Identity {
  std::string kind;  // "phone", "email", "external", "card"
  std::string value;
  Micros created_at = 0;
};
Status AddIdentity(store::Tx& tx, Id merchant_id, Id member_id, const Identity& identity);
Result<std::vector<Identity>> ListIdentities(store::Tx& tx, Id merchant_id, Id member_id);
Status MoveIdentities(store::Tx& tx, Id merchant_id, Id from_member, Id to_member);
Status DeleteIdentities(store::Tx& tx, Id merchant_id, Id member_id);

enum class SearchKind { kAll, kPhoneExact, kPhoneSuffix, kEmailPrefix, kNameContains };
struct SearchQuery {
  SearchKind kind = SearchKind::kAll;
  std::string term;          // already folded / normalised for its kind
  std::optional<Id> before;  // cursor: ids below this one (newest first)
  int limit = 50;
};
// Member ids matching, newest first; one more than `limit` when there is a next page.
Result<std::vector<Id>> SearchMemberIds(store::Tx& tx, Id merchant_id, const SearchQuery& q);

// Bulk variants for imports: the same columns (search columns included) as InsertMember and
// AddIdentity, written with multi-row INSERTs of a few fixed shapes. Members must carry no
// consents (imports record none) and a referral code each; a taken phone or code is
// already_exists for the whole call.
Status InsertMembers(store::Tx& tx, const std::vector<Member>& members);
struct NewIdentity {
  Id member_id = 0;
  Identity identity;
};
Status AddIdentities(store::Tx& tx, Id merchant_id, const std::vector<NewIdentity>& identities);
// A fresh random referral / card code: 8 characters without 0/O/1/I. The one scheme for every
// member, whether created one by one or in bulk.
std::string NewMemberCode();
// Which of `codes` are already taken by members of the merchant.
Result<std::vector<std::string>> TakenReferralCodes(store::Tx& tx, Id merchant_id,
                                                    const std::vector<std::string>& codes);

}  // namespace regulars::members
