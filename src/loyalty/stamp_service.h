#pragma once

// Stamp cards (集點卡): "buy 10 drinks, the 11th is free". Stamps are a point type of their own,
// kept in the same ledger (so they expire by that type's policy and `regulars check` audits
// them). When a member's stamps reach a card's size, the card's stamps are taken (a redeem
// entry) and a reward waits to be used at the counter; cards that restart fill up again.

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "loyalty/order_service.h"
#include "store/db.h"

namespace regulars::loyalty {

enum class StampPer { kVisit, kItem };

struct StampCard {
  Id id = 0;
  std::string name;
  Id point_type_id = 0;
  std::string point_type;  // code
  int stamps_needed = 10;
  StampPer per = StampPer::kVisit;
  std::vector<std::string> skus, categories;
  std::string reward_name;
  bool restart = true;
  bool active = true;
};

struct StampCardInput {
  std::optional<std::string> name, point_type, reward_name;
  std::optional<int> stamps_needed;
  std::optional<StampPer> per;
  std::optional<std::vector<std::string>> skus, categories;
  std::optional<bool> restart, active;
};

// Pure: stamps an order earns on a card (0 when no line matches the card's filters).
int64_t StampsForOrder(const StampCard& card, const std::vector<OrderItemInput>& items);

Result<StampCard> CreateStampCard(store::Tx& tx, const accounts::Actor& actor, StampCardInput in);
Result<StampCard> UpdateStampCard(store::Tx& tx, const accounts::Actor& actor, Id id,
                                  StampCardInput in);
Result<std::vector<StampCard>> ListStampCards(store::Tx& tx, Id merchant_id);

struct StampReward {
  Id id = 0;
  Id member_id = 0;
  Id card_id = 0;
  std::string card_name, reward_name;
  std::optional<Id> order_id;
  std::string status;  // available, used
  Micros created_at = 0;
  std::optional<Micros> used_at;
};

struct StampResult {
  int64_t stamps_added = 0;
  int64_t stamps_after = 0;
  std::vector<StampReward> rewards;  // cards completed by this change
};

// Adds stamps by hand at the counter (any role), completing cards as they fill.
Result<StampResult> AddStamps(store::Tx& tx, const accounts::Actor& actor, Id member_id, Id card_id,
                              int64_t stamps);
// Stamps for an order, on every active card (called from the order hooks).
Status StampOrder(store::Tx& tx, const accounts::Actor& actor, OrderResult& result,
                  const std::vector<OrderItemInput>& items);

Result<std::vector<StampReward>> MemberStampRewards(store::Tx& tx, const accounts::Actor& actor,
                                                    Id member_id);
// Uses an available reward once; a second use is failed_precondition with when it was used.
Result<StampReward> UseStampReward(store::Tx& tx, const accounts::Actor& actor, Id reward_id);

}  // namespace regulars::loyalty
