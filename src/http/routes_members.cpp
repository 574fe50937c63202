// Members: create, find (search, or a saved segment's members), change, merge, erase, export,
// timeline.

#include "http/render.h"
#include "http/router.h"
#include "insight/segment_service.h"
#include "loyalty/coupon_service.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier_service.h"
#include "loyalty/wallet_service.h"
#include "members/member_service.h"
#include "messaging/member_timeline.h"
#include "messaging/outbox.h"

namespace regulars::http {
namespace {

using members::MemberInput;

members::MerchantContext Mc(const Request& r) { return {r.merchant.region}; }

// Reads a member body (POST or PATCH) into a MemberInput.
Result<MemberInput> MemberFields(const json& body, bool create) {
  RG_ASSIGN_OR_RETURN(
      Fields f, Fields::Of(body, {"phone", "name", "email", "birthday", "gender", "region", "city",
                                  "tags", "attributes", "notes", "language", "consent",
                                  "consent_source", "branch_id"}));
  MemberInput in;
  RG_ASSIGN_OR_RETURN(in.phone, f.String("phone"));
  if (create && !in.phone) return InvalidField("phone", "is required");
  RG_ASSIGN_OR_RETURN(in.name, f.NullableString("name"));
  RG_ASSIGN_OR_RETURN(in.email, f.NullableString("email"));
  RG_ASSIGN_OR_RETURN(in.birthday, f.NullableString("birthday"));
  RG_ASSIGN_OR_RETURN(in.gender, f.NullableString("gender"));
  RG_ASSIGN_OR_RETURN(in.region, f.NullableString("region"));
  RG_ASSIGN_OR_RETURN(in.city, f.NullableString("city"));
  RG_ASSIGN_OR_RETURN(in.notes, f.NullableString("notes"));
  RG_ASSIGN_OR_RETURN(in.language, f.NullableString("language"));
  RG_ASSIGN_OR_RETURN(in.tags, f.StringList("tags"));
  RG_ASSIGN_OR_RETURN(auto attributes, f.Object("attributes"));
  if (attributes) in.attributes_json = attributes->dump();
  RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
  RG_ASSIGN_OR_RETURN(auto source, f.String("consent_source"));
  if (source) {
    static constexpr std::string_view kSources[] = {"counter", "console", "api",  "import",
                                                    "member",  "web",     "paper"};
    bool ok = false;
    for (auto s : kSources) ok |= (s == *source);
    if (!ok)
      return InvalidField("consent_source",
                          "must be counter, console, api, import, member, web or paper");
    in.consent_source = *source;
  }
  RG_ASSIGN_OR_RETURN(auto consent, f.Object("consent"));
  if (consent) {
    RG_ASSIGN_OR_RETURN(Fields c, Fields::Of(*consent, {"sms", "email", "line"}, "consent."));
    for (members::Channel ch : members::kChannels) {
      RG_ASSIGN_OR_RETURN(auto v, c.Bool(members::ChannelName(ch)));
      if (v) in.consent[ch] = *v;
    }
  }
  return in;
}

// The console registers at the counter; integrations default to "api".
void DefaultSource(const Request& r, MemberInput& in) {
  if (!r.body.contains("consent_source")) in.consent_source = r.session ? "console" : "api";
}

// A timeline entry as the API shows it: an outbox row's step (seq 0, no event;
// messaging/member_timeline.h) has seq null.
json TimelineEntryJson(const events::Event& e) {
  json j = ToJson(e);
  if (e.seq == 0 && (e.type == "message_queued" || e.type == "message_sent")) j["seq"] = nullptr;
  return j;
}

}  // namespace

void RegisterMemberRoutes(Router& router) {
  insight::FeatureStore* features = router.app().features;
  router.Read("GET", "/api/v1/members",
              "Search members (q: phone, last digits, name, e-mail), or list a saved segment's "
              "current members (segment_id)",
              [features](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                if (auto segment = r.Query("segment_id")) {
                  if (r.Query("q") || r.Query("phone"))
                    return InvalidField("segment_id", "cannot be combined with q or phone");
                  auto id = ParseId(*segment);
                  if (!id) return InvalidField("segment_id", "is not a segment id");
                  RG_ASSIGN_OR_RETURN(
                      auto page,
                      insight::SegmentMembersPage(tx, features, r.actor, *id, r.Cursor(), limit));
                  json data = json::array();
                  for (const auto& m : page.items) data.push_back(ToJson(m));
                  return Reply{200, PageJson(data, page.next_cursor)};
                }
                std::string q = r.Query("q").value_or("");
                if (auto phone = r.Query("phone")) q = *phone;
                RG_ASSIGN_OR_RETURN(
                    auto page, members::SearchMembers(tx, r.actor, Mc(r), q, r.Cursor(), limit));
                json data = json::array();
                for (const auto& m : page.items) data.push_back(ToJson(m));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write("POST", "/api/v1/members", "Register a member",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(MemberInput in, MemberFields(r.body, true));
                 DefaultSource(r, in);
                 RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, r.actor, Mc(r), in));
                 RG_TRY(loyalty::OnMemberJoined(tx, r.actor, m.id));
                 return Reply{201, ToJson(m)};
               });
  router.Read("POST", "/api/v1/members/lookup", "Find one member by phone or card code",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"phone", "code"}));
                RG_ASSIGN_OR_RETURN(auto phone, f.String("phone"));
                RG_ASSIGN_OR_RETURN(auto code, f.String("code"));
                if (phone) {
                  RG_ASSIGN_OR_RETURN(auto m, members::LookupByPhone(tx, r.actor, Mc(r), *phone));
                  return Reply{200, ToJson(m)};
                }
                if (code) {
                  RG_ASSIGN_OR_RETURN(auto m, members::LookupByCode(tx, r.actor, *code));
                  return Reply{200, ToJson(m)};
                }
                return InvalidField("phone", "give phone or code");
              });
  router.Read("GET", "/api/v1/members/{id}", "One member",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(auto m, members::GetMember(tx, r.actor, id));
                return Reply{200, ToJson(m)};
              });
  router.Write("PATCH", "/api/v1/members/{id}", "Change a member's profile or consent",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(MemberInput in, MemberFields(r.body, false));
                 DefaultSource(r, in);
                 RG_ASSIGN_OR_RETURN(auto m, members::UpdateMember(tx, r.actor, Mc(r), id, in));
                 return Reply{200, ToJson(m)};
               });
  router.Write("DELETE", "/api/v1/members/{id}",
               "Erase a member's personal data; amounts are kept for the books",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(auto m, members::EraseMember(tx, r.actor, id));
                 return Reply{200, ToJson(m)};
               });
  router.Write("POST", "/api/v1/members/{id}/merge", "Merge another member into this one",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"from_member_id"}));
                 RG_ASSIGN_OR_RETURN(auto from, f.IdValue("from_member_id"));
                 if (!from) return InvalidField("from_member_id", "is required");
                 RG_ASSIGN_OR_RETURN(auto m, members::MergeMembers(tx, r.actor, id, *from));
                 RG_TRY(loyalty::MergeBalances(tx, r.actor, id, *from));
                 RG_TRY(loyalty::MergeWallets(tx, r.actor, {r.merchant.currency}, id, *from));
                 RG_TRY(loyalty::MergeCoupons(tx, r.actor, id, *from));
                 // The outbox rows are the merged member's queued steps: on the survivor's
                 // timeline too (messaging/member_timeline.h).
                 RG_TRY(messaging::MoveMemberMessages(tx, r.actor.merchant_id, *from, id));
                 return Reply{200, ToJson(m)};
               });
  router.Read(
      "GET", "/api/v1/members/{id}/export",
      "Everything held about a member: profile, identities, history, points, orders, wallet",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
        RG_ASSIGN_OR_RETURN(auto x, members::ExportMember(tx, r.actor, id));
        json identities = json::array();
        for (const auto& i : x.identities)
          identities.push_back(
              {{"kind", i.kind}, {"value", i.value}, {"created_at", FormatRfc3339(i.created_at)}});
        json evs = json::array();
        for (const auto& e : x.events) evs.push_back(ToJson(e));
        // The member's messages: each outbox row's queued and sent steps as its timeline's
        // entries (no event records them; messaging/member_timeline.h), newest first.
        RG_ASSIGN_OR_RETURN(auto queued, messaging::MemberQueuedEntries(tx, r.actor.merchant_id, id,
                                                                        std::nullopt, 100'000));
        json messages = json::array();
        for (const auto& q : queued)
          messages.push_back(
              TimelineEntryJson(messaging::QueuedTimelineEntry(r.actor.merchant_id, id, q)));
        json body = {{"member", ToJson(x.member)},
                     {"identities", identities},
                     {"events", evs},
                     {"messages", messages},
                     {"merchant", ToJson(r.merchant)},
                     {"exported_at", FormatRfc3339(r.actor.now)}};
        // Loyalty: balances, every ledger entry, orders, tier, stamp rewards, the wallet.
        RG_ASSIGN_OR_RETURN(auto balances, loyalty::MemberBalances(tx, r.actor, id));
        json points = json::array();
        for (const auto& b : balances)
          points.push_back({{"point_type", b.type.code}, {"balance", b.balance}, {"debt", b.debt}});
        body["points"] = points;
        RG_ASSIGN_OR_RETURN(auto entries,
                            loyalty::LoadEntries(tx, r.actor.merchant_id, id, 0, 100'000));
        json ledger = json::array();
        for (const auto& e : entries)
          ledger.push_back({{"id", IdToString(e.id)},
                            {"kind", e.kind},
                            {"point_type_id", IdToString(e.point_type_id)},
                            {"amount", e.amount},
                            {"balance_after", e.balance_after},
                            {"reason", e.reason},
                            {"created_at", FormatRfc3339(e.created_at)}});
        body["ledger"] = ledger;
        RG_ASSIGN_OR_RETURN(auto orders,
                            loyalty::ListOrders(tx, r.actor, id, std::nullopt, 10'000));
        json order_list = json::array();
        for (const auto& o : orders.items)
          order_list.push_back({{"id", IdToString(o.id)},
                                {"external_id", o.external_id},
                                {"occurred_at", FormatRfc3339(o.occurred_at)},
                                {"total_minor", o.total_minor},
                                {"refunded_minor", o.refunded_minor},
                                {"items", o.items.size()}});
        body["orders"] = order_list;
        RG_ASSIGN_OR_RETURN(auto tier, loyalty::MemberTier(tx, r.actor, id));
        body["tier"] = tier.tier ? json{{"level", tier.tier->level}, {"name", tier.tier->name}}
                                 : json(nullptr);
        RG_ASSIGN_OR_RETURN(auto stamps, loyalty::MemberStampRewards(tx, r.actor, id));
        json stamp_rewards = json::array();
        for (const auto& w : stamps)
          stamp_rewards.push_back({{"card", w.card_name},
                                   {"reward", w.reward_name},
                                   {"status", w.status},
                                   {"created_at", FormatRfc3339(w.created_at)}});
        body["stamp_rewards"] = stamp_rewards;
        RG_ASSIGN_OR_RETURN(auto wallet, loyalty::GetWallet(tx, r.actor, id, std::nullopt, 500));
        json wallet_entries = json::array();
        for (const auto& e : wallet.entries)
          wallet_entries.push_back({{"id", IdToString(e.id)},
                                    {"kind", loyalty::WalletEntryKindName(e.kind)},
                                    {"paid_minor", e.paid_minor},
                                    {"bonus_minor", e.bonus_minor},
                                    {"paid_after", e.paid_after},
                                    {"bonus_after", e.bonus_after},
                                    {"created_at", FormatRfc3339(e.created_at)}});
        body["wallet"] = {{"paid_minor", wallet.balance.paid_minor},
                          {"bonus_minor", wallet.balance.bonus_minor},
                          {"currency", r.merchant.currency},
                          {"entries", wallet_entries}};
        return Reply{200, body};
      });
  router.Read("GET", "/api/v1/members/{id}/timeline", "A member's history, newest first",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                // Events merged with the outbox rows' queued/sent steps; order and
                // cursor: messaging/member_timeline.h.
                RG_ASSIGN_OR_RETURN(auto page,
                                    messaging::MemberTimeline(tx, r.actor, id, r.Cursor(), limit));
                json data = json::array();
                for (const auto& e : page.items) data.push_back(TimelineEntryJson(e));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
}

}  // namespace regulars::http
