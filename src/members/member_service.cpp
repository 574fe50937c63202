#include "members/member_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "base/crypto.h"
#include "base/phone.h"
#include "base/text.h"
#include "events/event_repo.h"
#include "members/member_repo.h"

namespace regulars::members {
namespace {

using accounts::Actor;
using nlohmann::json;

Result<Member> Require(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_ASSIGN_OR_RETURN(auto m, LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  return std::move(*m);
}

Status RequireManager(const Actor& a, std::string_view what) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, fmt::format("only an owner or manager may {}", what));
  return {};
}

// Short, unambiguous (no 0/O/1/I) codes for referral and member cards.
Status Emit(store::Tx& tx, const Actor& actor, std::string type, Id member_id, json data) {
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {std::move(type), member_id, actor.Label(), data.dump()}));
  return {};
}

// Records consent decisions that differ from the member's current ones.
Status ApplyConsent(store::Tx& tx, const Actor& actor, Member& m, const MemberInput& in) {
  for (const auto& [ch, granted] : in.consent) {
    auto& cur = m.consent[static_cast<size_t>(ch)];
    if (cur && cur->granted == granted) continue;
    if (in.branch_id && !actor.MayUseBranch(*in.branch_id))
      return Fail(Code::kPermissionDenied, "branch_id: you may not act for this branch",
                  "branch_id");
    cur = Consent{granted, actor.now, in.consent_source, in.branch_id, actor.staff_id};
    json data = {{"channel", ChannelName(ch)}, {"granted", granted}, {"source", in.consent_source}};
    if (in.branch_id) data["branch_id"] = IdToString(*in.branch_id);
    if (actor.staff_id) data["staff_id"] = IdToString(*actor.staff_id);
    RG_TRY(Emit(tx, actor, "consent_changed", m.id, data));
  }
  return {};
}

Status CheckBranch(store::Tx& tx, const Actor& actor, std::optional<Id> branch_id) {
  if (!branch_id) return {};
  RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT 1 FROM branches WHERE merchant_id = ? AND id = ?",
                                          {actor.merchant_id, *branch_id}));
  if (rows.empty()) return InvalidField("branch_id", "branch not found");
  return {};
}

Result<std::optional<std::string>> ParseCursor(const std::optional<std::string>& cursor) {
  if (!cursor || cursor->empty()) return std::optional<std::string>{};
  if (!ParseId(*cursor)) return InvalidField("cursor", "is not a cursor this list gave out");
  return cursor;
}

}  // namespace

Result<Member> CreateMember(store::Tx& tx, const Actor& actor, const MerchantContext& mc,
                            const MemberInput& input) {
  if (!input.phone) return InvalidField("phone", "is required");
  RG_ASSIGN_OR_RETURN(CleanInput clean, CleanMemberInput(input, mc.region, actor.now));
  RG_TRY(CheckBranch(tx, actor, input.branch_id));
  RG_ASSIGN_OR_RETURN(auto existing, FindByPhone(tx, actor.merchant_id, *clean.phone));
  if (existing)
    return Fail(MakeError(Code::kAlreadyExists,
                          "phone: a member with this phone number already exists", "phone")
                    .WithDetail("member_id", IdToString(*existing)));
  Member m;
  m.merchant_id = actor.merchant_id;
  m.id = NewId();
  m.created_at = m.updated_at = actor.now;
  m.home_branch_id = input.branch_id;
  ApplyPatch(m, clean);
  RG_TRY(ApplyConsent(tx, actor, m, input));
  for (int attempt = 0;; ++attempt) {
    m.referral_code = NewMemberCode();
    RG_ASSIGN_OR_RETURN(auto taken, FindByCode(tx, actor.merchant_id, m.referral_code));
    if (!taken) break;
    if (attempt > 5) return Fail(Code::kInternal, "could not find a free referral code");
  }
  RG_TRY(InsertMember(tx, m));
  json data = {{"source", input.consent_source}};
  if (m.home_branch_id) data["branch_id"] = IdToString(*m.home_branch_id);
  RG_TRY(Emit(tx, actor, "member_created", m.id, data));
  return m;
}

Result<Member> GetMember(store::Tx& tx, const Actor& actor, Id member_id) {
  return Require(tx, actor, member_id);
}

Result<Member> UpdateMember(store::Tx& tx, const Actor& actor, const MerchantContext& mc,
                            Id member_id, const MemberInput& input) {
  RG_ASSIGN_OR_RETURN(Member m, Require(tx, actor, member_id));
  if (m.erased_at) return Fail(Code::kFailedPrecondition, "member was erased");
  if (m.merged_into)
    return Fail(MakeError(Code::kFailedPrecondition, "member was merged into another member")
                    .WithDetail("member_id", IdToString(*m.merged_into)));
  RG_ASSIGN_OR_RETURN(CleanInput clean, CleanMemberInput(input, mc.region, actor.now));
  RG_TRY(CheckBranch(tx, actor, input.branch_id));
  if (clean.phone && clean.phone != m.phone) {
    RG_ASSIGN_OR_RETURN(auto owner, FindByPhone(tx, actor.merchant_id, *clean.phone));
    if (owner && *owner != m.id)
      return Fail(MakeError(Code::kAlreadyExists,
                            "phone: a member with this phone number already exists", "phone")
                      .WithDetail("member_id", IdToString(*owner)));
  }
  std::vector<std::string> changed = ApplyPatch(m, clean);
  RG_TRY(ApplyConsent(tx, actor, m, input));
  if (!changed.empty()) {
    m.updated_at = actor.now;
    RG_TRY(Emit(tx, actor, "member_updated", m.id, {{"fields", changed}}));
  }
  RG_TRY(SaveMember(tx, m));
  return m;
}

Result<Member> LookupByPhone(store::Tx& tx, const Actor& actor, const MerchantContext& mc,
                             std::string_view phone) {
  RG_ASSIGN_OR_RETURN(Phone p, NormalizePhone(phone, mc.region, "phone"));
  RG_ASSIGN_OR_RETURN(auto id, FindByPhone(tx, actor.merchant_id, p.e164));
  if (!id) return Fail(Code::kNotFound, "no member with this phone number");
  RG_ASSIGN_OR_RETURN(Member m, Require(tx, actor, *id));
  if (m.merged_into) return Require(tx, actor, *m.merged_into);
  return m;
}

Result<Member> LookupByCode(store::Tx& tx, const Actor& actor, std::string_view code) {
  std::string c(code);
  std::transform(c.begin(), c.end(), c.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  if (c.empty()) return InvalidField("code", "is required");
  RG_ASSIGN_OR_RETURN(auto id, FindByCode(tx, actor.merchant_id, c));
  if (!id) return Fail(Code::kNotFound, "no member with this code");
  return Require(tx, actor, *id);
}

Result<Page<Member>> SearchMembers(store::Tx& tx, const Actor& actor, const MerchantContext& mc,
                                   std::string_view q_raw, std::optional<std::string> cursor,
                                   int limit) {
  RG_ASSIGN_OR_RETURN(auto cur, ParseCursor(cursor));
  SearchQuery q;
  q.limit = limit;
  if (cur) q.before = ParseId(*cur);
  std::string q_text = FoldForSearch(q_raw);
  std::string digits;
  bool phone_like = !q_text.empty();
  for (char c : q_text) {
    if (c >= '0' && c <= '9')
      digits.push_back(c);
    else if (c != ' ' && c != '-' && c != '+' && c != '(' && c != ')')
      phone_like = false;
  }
  if (q_text.empty()) {
    q.kind = SearchKind::kAll;
  } else if (phone_like && !digits.empty()) {
    auto full = digits.size() >= 8 ? NormalizePhone(q_text, mc.region) : Result<Phone>();
    if (digits.size() >= 8 && full) {
      q.kind = SearchKind::kPhoneExact;
      q.term = full->e164;
    } else {
      if (digits.size() < 3) return InvalidField("q", "give at least 3 digits of a phone number");
      q.kind = SearchKind::kPhoneSuffix;
      q.term = ReversedDigits(digits);
    }
  } else if (q_text.find('@') != std::string::npos) {
    q.kind = SearchKind::kEmailPrefix;
    q.term = q_text;
  } else {
    q.kind = SearchKind::kNameContains;
    q.term = q_text;
  }
  RG_ASSIGN_OR_RETURN(std::vector<Id> ids, SearchMemberIds(tx, actor.merchant_id, q));
  // A merged-away phone still finds its survivor.
  if (q.kind == SearchKind::kPhoneExact && ids.empty() && !q.before) {
    RG_ASSIGN_OR_RETURN(auto id, FindByPhone(tx, actor.merchant_id, q.term));
    if (id) ids.push_back(*id);
  }
  Page<Member> page;
  bool more = static_cast<int>(ids.size()) > limit;
  if (more) ids.resize(limit);
  RG_ASSIGN_OR_RETURN(std::vector<Member> found, LoadMembers(tx, actor.merchant_id, ids));
  std::sort(found.begin(), found.end(),
            [](const Member& a, const Member& b) { return a.id > b.id; });
  page.items = std::move(found);
  if (more && !page.items.empty()) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

Result<Member> MergeMembers(store::Tx& tx, const Actor& actor, Id into_id, Id from_id) {
  RG_TRY(RequireManager(actor, "merge members"));
  if (into_id == from_id)
    return InvalidField("from_member_id", "cannot merge a member into itself");
  RG_ASSIGN_OR_RETURN(Member into, Require(tx, actor, into_id));
  auto from_r = LoadMember(tx, actor.merchant_id, from_id);
  if (!from_r) return std::unexpected(from_r.error());
  if (!*from_r) return Fail(Code::kNotFound, "from_member_id: member not found", "from_member_id");
  Member from = std::move(**from_r);
  for (const Member* m : {&into, &from}) {
    if (m->erased_at) return Fail(Code::kFailedPrecondition, "an erased member cannot be merged");
    if (m->merged_into)
      return Fail(Code::kFailedPrecondition, "a member that was merged away cannot be merged");
  }
  MergeInto(into, from);
  into.updated_at = actor.now;
  std::optional<std::string> moved_phone = from.phone;
  from.phone.reset();
  from.merged_into = into.id;
  from.updated_at = actor.now;
  RG_TRY(SaveMember(tx, from));  // frees the phone first
  RG_TRY(SaveMember(tx, into));
  RG_TRY(MoveIdentities(tx, actor.merchant_id, from.id, into.id));
  if (moved_phone)
    RG_TRY(AddIdentity(tx, actor.merchant_id, into.id, {"phone", *moved_phone, actor.now}));
  RG_TRY(events::MoveMemberEvents(tx, actor.merchant_id, from.id, into.id));
  RG_TRY(Emit(tx, actor, "member_merged", into.id, {{"from_member_id", IdToString(from.id)}}));
  return into;
}

Result<Member> EraseMember(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_TRY(RequireManager(actor, "erase a member"));
  RG_ASSIGN_OR_RETURN(Member m, Require(tx, actor, member_id));
  if (m.erased_at) return m;  // erasing twice changes nothing
  ErasePersonalData(m, actor.now);
  RG_TRY(SaveMember(tx, m));
  RG_TRY(DeleteIdentities(tx, actor.merchant_id, m.id));
  RG_TRY(Emit(tx, actor, "member_erased", m.id, json::object()));
  return m;
}

Result<MemberExport> ExportMember(store::Tx& tx, const Actor& actor, Id member_id) {
  MemberExport out;
  RG_ASSIGN_OR_RETURN(out.member, Require(tx, actor, member_id));
  RG_ASSIGN_OR_RETURN(out.identities, ListIdentities(tx, actor.merchant_id, member_id));
  RG_ASSIGN_OR_RETURN(out.events,
                      events::MemberEvents(tx, actor.merchant_id, member_id, 0, 100'000));
  return out;
}

}  // namespace regulars::members
