// Stamp cards on both databases: stamps per item or visit, automatic rewards when a card fills,
// restart or one-time cards, rewards used once; the ledger audit holds throughout.

#include "loyalty/stamp_service.h"

#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "events/event_repo.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {
namespace {

class StampTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      merchant_ = m.id;
      RG_TRY(CreatePointType(tx, A(), {"tea_stamps", "Tea stamps", {}, {}, {}, {}}));
      StampCardInput card;
      card.name = "Tea card";
      card.point_type = "tea_stamps";
      card.stamps_needed = 3;
      card.per = StampPer::kItem;
      card.categories = std::vector<std::string>{"tea"};
      card.reward_name = "Free tea";
      RG_ASSIGN_OR_RETURN(auto c, CreateStampCard(tx, A(), card));
      card_ = c.id;
      members::MemberInput mi;
      mi.phone = "0912345678";
      RG_ASSIGN_OR_RETURN(auto member, members::CreateMember(tx, A(), {"TW"}, mi));
      member_ = member.id;
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  void TearDown() override {
    if (!db_) return;
    std::vector<std::string> problems;
    ASSERT_TRUE(db().Read([&](store::Tx& tx) { return CheckLedger(tx, &problems); }));
    for (const auto& p : problems) ADD_FAILURE() << p;
  }
  accounts::Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }
  Id merchant_ = 0, card_ = 0, member_ = 0;
};

TEST(Stamps, PerItemAndPerVisitWithFilters) {
  StampCard card;
  card.per = StampPer::kItem;
  card.categories = {"tea"};
  std::vector<OrderItemInput> items = {{"T1", "Tea", "tea", 4, 100},
                                       {"C1", "Cake", "cake", 2, 100}};
  EXPECT_EQ(StampsForOrder(card, items), 4);
  card.per = StampPer::kVisit;
  EXPECT_EQ(StampsForOrder(card, items), 1);
  card.categories = {"coffee"};
  EXPECT_EQ(StampsForOrder(card, items), 0);
}

TEST_P(StampTest, OrdersFillCardsWhichRestartAndRewardsAreUsedOnce) {
  OrderInput o;
  o.external_id = "1";
  o.member_id = member_;
  o.total_minor = 1000;
  o.items = {{"T1", "Tea", std::string("tea"), 7, 100},
             {"C1", "Cake", std::string("cake"), 1, 300}};
  auto r = db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), o); });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->effects.size(), 1u);
  EXPECT_EQ(r->effects[0].points, 7);
  EXPECT_EQ(r->effects[0].balance_after, 1);  // two cards filled, one stamp carried over
  auto rewards =
      db().ReadValue([&](store::Tx& tx) { return MemberStampRewards(tx, A(), member_); });
  ASSERT_EQ(rewards->size(), 2u);
  EXPECT_EQ((*rewards)[0].status, "available");
  auto used =
      db().WriteValue([&](store::Tx& tx) { return UseStampReward(tx, A(), (*rewards)[0].id); });
  EXPECT_EQ(used->status, "used");
  EXPECT_TRUE(used->used_at.has_value());
  auto again =
      db().WriteValue([&](store::Tx& tx) { return UseStampReward(tx, A(), (*rewards)[0].id); });
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(again.error().message.rfind("this reward was already used at ", 0), 0u);
  // A stamp by hand at the counter completes the next card.
  auto added =
      db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 2); });
  EXPECT_EQ(added->rewards.size(), 1u);
  EXPECT_EQ(added->stamps_after, 0);
}

TEST_P(StampTest, OneTimeCardsCompleteOnce) {
  StampCardInput off;
  off.restart = false;
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return UpdateStampCard(tx, A(), card_, off); }));
  auto first =
      db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 5); });
  EXPECT_EQ(first->rewards.size(), 1u);
  auto more = db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 5); });
  EXPECT_EQ(more->stamps_added, 0);
  auto bad = db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, 12345, 1); });
  EXPECT_EQ(bad.error().message, "card_id: stamp card not found");
}

// Stamps by hand at the counter are on the member's timeline: one stamps_added event in the
// same transaction (card, stamps, balance after), before the stamp_card_completed of a card they
// fill; an order's stamps add none (they are part of its order_created), nor does a stamp that
// changed nothing (a one-time card already completed).
TEST_P(StampTest, StampsByHandAppendAnEventBeforeTheCardCompletes) {
  auto events = [&] {
    auto e = db().ReadValue(
        [&](store::Tx& tx) { return events::MemberEvents(tx, merchant_, member_, 0, 50); });
    EXPECT_TRUE(e.has_value()) << e.error().ToString();
    std::vector<events::Event> oldest_first(e->rbegin(), e->rend());
    return oldest_first;
  };
  size_t base = events().size();  // member_created
  OrderInput o;
  o.external_id = "s1";
  o.member_id = member_;
  o.total_minor = 100;
  o.items = {{"T1", "Tea", std::string("tea"), 1, 100}};
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return CreateOrder(tx, A(), o); }));
  auto after_order = events();
  ASSERT_EQ(after_order.size(), base + 1);
  EXPECT_EQ(after_order.back().type, "order_created");

  auto one = db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 1); });
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  auto after_one = events();
  ASSERT_EQ(after_one.size(), base + 2);
  EXPECT_EQ(after_one.back().type, "stamps_added");
  EXPECT_EQ(after_one.back().member_id, std::optional<Id>(member_));
  EXPECT_EQ(nlohmann::json::parse(after_one.back().data),
            (nlohmann::json{{"card", "Tea card"},
                            {"card_id", IdToString(card_)},
                            {"point_type", "tea_stamps"},
                            {"stamps", 1},
                            {"stamps_after", 2},
                            {"stamps_needed", 3}}));

  // Two more fill the card (4 of 3): the stamps come first, then the completed card.
  auto two = db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 2); });
  ASSERT_TRUE(two.has_value()) << two.error().ToString();
  EXPECT_EQ(two->stamps_after, 1);
  auto after_two = events();
  ASSERT_EQ(after_two.size(), base + 4);
  EXPECT_EQ(after_two[base + 2].type, "stamps_added");
  EXPECT_EQ(nlohmann::json::parse(after_two[base + 2].data)["stamps_after"], 4);
  EXPECT_EQ(after_two[base + 3].type, "stamp_card_completed");
  EXPECT_EQ(after_two[base + 3].seq, after_two[base + 2].seq + 1);

  StampCardInput off;
  off.restart = false;
  ASSERT_TRUE(db().WriteValue([&](store::Tx& tx) { return UpdateStampCard(tx, A(), card_, off); }));
  auto none = db().WriteValue([&](store::Tx& tx) { return AddStamps(tx, A(), member_, card_, 1); });
  ASSERT_TRUE(none.has_value()) << none.error().ToString();
  EXPECT_EQ(none->stamps_added, 0);
  EXPECT_EQ(events().size(), base + 4);
}

RG_INSTANTIATE_BACKENDS(StampTest);

}  // namespace
}  // namespace regulars::loyalty
