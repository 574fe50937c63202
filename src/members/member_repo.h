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

}  // namespace regulars::members
