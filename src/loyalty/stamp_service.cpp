#include "loyalty/stamp_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "base/text.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Rows;

constexpr std::string_view kCardCols =
    "c.id, c.name, c.point_type_id, p.code, c.stamps_needed, c.per, c.skus, c.categories, "
    "c.reward_name, c.restart, c.active";

std::vector<std::string> List(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

StampCard CardFromRow(const store::Row& r) {
  StampCard c;
  c.id = r.Int(0);
  c.name = r.Str(1);
  c.point_type_id = r.Int(2);
  c.point_type = r.Str(3);
  c.stamps_needed = static_cast<int>(r.Int(4));
  c.per = r.Str(5) == "item" ? StampPer::kItem : StampPer::kVisit;
  c.skus = List(r.Str(6));
  c.categories = List(r.Str(7));
  c.reward_name = r.Str(8);
  c.restart = r.Bool(9);
  c.active = r.Bool(10);
  return c;
}

Result<StampCard> LoadCard(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM stamp_cards c JOIN point_types "
                                           "p ON p.merchant_id = c.merchant_id AND p.id "
                                           "= c.point_type_id WHERE c.merchant_id = ? "
                                           "AND c.id = ?",
                                           kCardCols),
                               {merchant_id, id}));
  if (rows.empty()) return Fail(Code::kNotFound, "stamp card not found");
  return CardFromRow(rows[0]);
}

Status Apply(store::Tx& tx, const Actor& actor, StampCard& c, const StampCardInput& in) {
  auto text = [](const std::optional<std::string>& v, const char* field,
                 std::string& out) -> Status {
    if (!v) return {};
    if (v->empty() || v->size() > 200 || !IsValidUtf8(*v))
      return InvalidField(field, "must be 1 to 200 bytes of text");
    out = *v;
    return {};
  };
  RG_TRY(text(in.name, "name", c.name));
  RG_TRY(text(in.reward_name, "reward_name", c.reward_name));
  if (in.point_type) {
    RG_ASSIGN_OR_RETURN(PointType p, FindPointType(tx, actor, *in.point_type, "point_type"));
    c.point_type_id = p.id;
    c.point_type = p.code;
  }
  if (in.stamps_needed) {
    if (*in.stamps_needed < 1 || *in.stamps_needed > 100)
      return InvalidField("stamps_needed", "must be 1 to 100");
    c.stamps_needed = *in.stamps_needed;
  }
  if (in.per) c.per = *in.per;
  if (in.skus) c.skus = *in.skus;
  if (in.categories) c.categories = *in.categories;
  if (in.restart) c.restart = *in.restart;
  if (in.active) c.active = *in.active;
  return {};
}

Status Save(store::Tx& tx, const Actor& actor, const StampCard& c, bool insert) {
  std::vector<store::Value> v = {c.name,
                                 c.point_type_id,
                                 int64_t{c.stamps_needed},
                                 std::string(c.per == StampPer::kItem ? "item" : "visit"),
                                 json(c.skus).dump(),
                                 json(c.categories).dump(),
                                 c.reward_name,
                                 int64_t{c.restart ? 1 : 0},
                                 int64_t{c.active ? 1 : 0},
                                 actor.now,
                                 actor.merchant_id,
                                 c.id};
  if (insert) {
    v.push_back(actor.now);
    RG_TRY(
        tx.Exec("INSERT INTO stamp_cards (name, point_type_id, stamps_needed, per, skus, "
                "categories, reward_name, restart, active, updated_at, merchant_id, id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                v));
  } else {
    RG_TRY(
        tx.Exec("UPDATE stamp_cards SET name = ?, point_type_id = ?, stamps_needed = ?, per = ?, "
                "skus = ?, categories = ?, reward_name = ?, restart = ?, active = ?, updated_at "
                "= ? WHERE merchant_id = ? AND id = ?",
                v));
  }
  return BumpConfigVersion(tx, actor.merchant_id);
}

StampReward RewardFromRow(const store::Row& r) {
  StampReward w;
  w.id = r.Int(0);
  w.member_id = r.Int(1);
  w.card_id = r.Int(2);
  w.card_name = r.Str(3);
  w.reward_name = r.Str(4);
  w.order_id = r.OptInt(5);
  w.status = r.Str(6);
  w.created_at = r.Int(7);
  w.used_at = r.OptInt(8);
  return w;
}

constexpr std::string_view kRewardCols =
    "w.id, w.member_id, w.card_id, c.name, c.reward_name, w.order_id, w.status, w.created_at, "
    "w.used_at";

// Credits stamps, then completes the card as many times as they allow.
Result<StampResult> Stamp(store::Tx& tx, const Actor& actor, Id member_id, const StampCard& card,
                          int64_t stamps, std::optional<Id> order_id) {
  StampResult out;
  if (stamps <= 0) return out;
  if (!card.restart) {
    RG_ASSIGN_OR_RETURN(Rows done, tx.Query("SELECT 1 FROM stamp_rewards WHERE merchant_id = ? AND "
                                            "member_id = ? AND card_id = ? LIMIT 1",
                                            {actor.merchant_id, member_id, card.id}));
    if (!done.empty()) return out;  // a one-time card, already completed
  }
  RG_ASSIGN_OR_RETURN(MerchantSettings ms, LoadMerchantSettings(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(auto types, ListPointTypes(tx, actor));
  std::optional<Micros> expiry;
  for (const auto& t : types)
    if (t.id == card.point_type_id) {
      RG_ASSIGN_OR_RETURN(expiry, LotExpiry(t.expiry, actor.now, ms.timezone));
    }
  EntryInput in{member_id,
                card.point_type_id,
                "earn",
                stamps,
                "stamps: " + card.name,
                order_id ? "order" : "staff",
                order_id ? order_id : actor.staff_id,
                std::nullopt,
                actor.staff_id,
                actor.now};
  RG_ASSIGN_OR_RETURN(Entry e, Credit(tx, actor.merchant_id, in, expiry));
  out.stamps_added = stamps;
  out.stamps_after = e.balance_after;
  if (!order_id) {
    // Stamps given by hand at the counter are on the member's timeline (an order's stamps are
    // part of its order_created); a card they fill follows as stamp_card_completed.
    json added = {{"card", card.name},
                  {"card_id", IdToString(card.id)},
                  {"point_type", card.point_type},
                  {"stamps", stamps},
                  {"stamps_after", e.balance_after},
                  {"stamps_needed", card.stamps_needed}};
    if (actor.staff_id) added["staff_id"] = IdToString(*actor.staff_id);
    RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                               {"stamps_added", member_id, actor.Label(), added.dump()}));
  }
  while (out.stamps_after >= card.stamps_needed) {
    Id reward_id = NewId();
    EntryInput full{member_id,
                    card.point_type_id,
                    "redeem",
                    card.stamps_needed,
                    "card full: " + card.reward_name,
                    "stamp_reward",
                    reward_id,
                    std::nullopt,
                    actor.staff_id,
                    actor.now};
    RG_ASSIGN_OR_RETURN(Entry taken, Debit(tx, actor.merchant_id, full, false));
    out.stamps_after = taken.balance_after;
    RG_TRY(
        tx.Exec("INSERT INTO stamp_rewards (merchant_id, id, member_id, card_id, order_id, "
                "status, created_at) VALUES (?, ?, ?, ?, ?, 'available', ?)",
                {actor.merchant_id, reward_id, member_id, card.id, Opt(order_id), actor.now}));
    out.rewards.push_back({reward_id, member_id, card.id, card.name, card.reward_name, order_id,
                           "available", actor.now, std::nullopt});
    json data = {{"card", card.name},
                 {"reward", card.reward_name},
                 {"stamp_reward_id", IdToString(reward_id)}};
    RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                               {"stamp_card_completed", member_id, actor.Label(), data.dump()}));
    if (!card.restart) break;
  }
  return out;
}

}  // namespace

int64_t StampsForOrder(const StampCard& card, const std::vector<OrderItemInput>& items) {
  bool filtered = !card.skus.empty() || !card.categories.empty();
  auto matches = [&](const OrderItemInput& i) {
    if (!card.skus.empty() &&
        std::find(card.skus.begin(), card.skus.end(), i.sku) == card.skus.end())
      return false;
    if (!card.categories.empty() &&
        (!i.category || std::find(card.categories.begin(), card.categories.end(), *i.category) ==
                            card.categories.end()))
      return false;
    return true;
  };
  if (card.per == StampPer::kVisit) {
    if (!filtered) return 1;
    return std::any_of(items.begin(), items.end(), matches) ? 1 : 0;
  }
  int64_t units = 0;
  for (const auto& i : items)
    if (matches(i)) units += i.quantity;
  return units;
}

Result<StampCard> CreateStampCard(store::Tx& tx, const Actor& actor, StampCardInput in) {
  if (!actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may configure stamp cards");
  if (!in.name) return InvalidField("name", "is required");
  if (!in.point_type) return InvalidField("point_type", "is required");
  if (!in.stamps_needed) return InvalidField("stamps_needed", "is required");
  if (!in.reward_name) return InvalidField("reward_name", "is required");
  StampCard c;
  c.id = NewId();
  RG_TRY(Apply(tx, actor, c, in));
  RG_TRY(Save(tx, actor, c, true));
  return c;
}

Result<StampCard> UpdateStampCard(store::Tx& tx, const Actor& actor, Id id, StampCardInput in) {
  if (!actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may configure stamp cards");
  RG_ASSIGN_OR_RETURN(StampCard c, LoadCard(tx, actor.merchant_id, id));
  RG_TRY(Apply(tx, actor, c, in));
  RG_TRY(Save(tx, actor, c, false));
  return c;
}

Result<std::vector<StampCard>> ListStampCards(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM stamp_cards c JOIN point_types "
                                           "p ON p.merchant_id = c.merchant_id AND p.id "
                                           "= c.point_type_id WHERE c.merchant_id = ? "
                                           "ORDER BY c.id",
                                           kCardCols),
                               {merchant_id}));
  std::vector<StampCard> out;
  for (const auto& r : rows) out.push_back(CardFromRow(r));
  return out;
}

Result<StampResult> AddStamps(store::Tx& tx, const Actor& actor, Id member_id, Id card_id,
                              int64_t stamps) {
  if (stamps < 1 || stamps > 100) return InvalidField("stamps", "must be 1 to 100");
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  if (m->merged_into || m->erased_at)
    return Fail(Code::kFailedPrecondition, "the member was merged or erased");
  auto card = LoadCard(tx, actor.merchant_id, card_id);
  if (!card) return InvalidField("card_id", "stamp card not found");
  if (!card->active)
    return Fail(Code::kFailedPrecondition, "card_id: the card is not active", "card_id");
  return Stamp(tx, actor, member_id, *card, stamps, std::nullopt);
}

Status StampOrder(store::Tx& tx, const Actor& actor, OrderResult& result,
                  const std::vector<OrderItemInput>& items) {
  if (!result.order.member_id) return {};
  std::vector<StampCard> read;
  if (!result.config) {
    RG_ASSIGN_OR_RETURN(read, ListStampCards(tx, actor.merchant_id));
  }
  const std::vector<StampCard>& cards = result.config ? result.config->stamp_cards : read;
  for (const StampCard& c : cards) {
    if (!c.active) continue;
    int64_t n = StampsForOrder(c, items);
    if (n <= 0) continue;
    RG_ASSIGN_OR_RETURN(StampResult r,
                        Stamp(tx, actor, *result.order.member_id, c, n, result.order.id));
    result.effects.push_back({c.point_type_id, c.point_type, r.stamps_added, r.stamps_after});
  }
  return {};
}

Result<std::vector<StampReward>> MemberStampRewards(store::Tx& tx, const Actor& actor,
                                                    Id member_id) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM stamp_rewards w JOIN "
                                                      "stamp_cards c ON c.merchant_id = "
                                                      "w.merchant_id AND c.id = w.card_id WHERE "
                                                      "w.merchant_id = ? AND w.member_id = ? ORDER "
                                                      "BY w.id DESC LIMIT 200",
                                                      kRewardCols),
                                          {actor.merchant_id, member_id}));
  std::vector<StampReward> out;
  for (const auto& r : rows) out.push_back(RewardFromRow(r));
  return out;
}

Result<StampReward> UseStampReward(store::Tx& tx, const Actor& actor, Id reward_id) {
  RG_ASSIGN_OR_RETURN(int64_t n,
                      tx.Exec("UPDATE stamp_rewards SET status = 'used', used_at = ? "
                              "WHERE merchant_id = ? AND id = ? AND status = 'available'",
                              {actor.now, actor.merchant_id, reward_id}));
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM stamp_rewards w JOIN "
                                                      "stamp_cards c ON c.merchant_id = "
                                                      "w.merchant_id AND c.id = w.card_id WHERE "
                                                      "w.merchant_id = ? AND w.id = ?",
                                                      kRewardCols),
                                          {actor.merchant_id, reward_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "stamp reward not found");
  StampReward w = RewardFromRow(rows[0]);
  if (n == 0)
    return Fail(Code::kFailedPrecondition, fmt::format("this reward was already used at {}",
                                                       FormatRfc3339(w.used_at.value_or(0))));
  json data = {
      {"card", w.card_name}, {"reward", w.reward_name}, {"stamp_reward_id", IdToString(w.id)}};
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"stamp_reward_used", w.member_id, actor.Label(), data.dump()}));
  return w;
}

}  // namespace regulars::loyalty
