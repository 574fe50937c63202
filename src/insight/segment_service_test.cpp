// Live segment membership on both databases: the first refresh writes the members and one
// segment_entered event each; a refresh with nothing changed writes nothing; a restart (a new
// feature store and refresher over the same database) re-emits nothing; a time-relative segment
// gains a member when the clock alone moves it in, once the minute has passed; deleting a
// segment removes its rows.

#include "insight/segment_service.h"

#include <gtest/gtest.h>

#include "insight/feature_store.h"
#include "store/testing.h"

namespace regulars::insight {
namespace {

using nlohmann::json;

class SegmentMembershipTest : public store::BackendTest {
 protected:
  Id merchant_ = NewId();
  Id m1_ = NewId(), m2_ = NewId(), m3_ = NewId();

  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    Micros now = clock_.Now();
    ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
                      RG_TRY(
                          tx.Exec("INSERT INTO merchants (merchant_id, name, region, currency, "
                                  "timezone, language, created_at, updated_at) VALUES (?, "
                                  "'M', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', ?, ?)",
                                  {merchant_, now, now}));
                      int days[] = {10, 20, 40};
                      Id ids[] = {m1_, m2_, m3_};
                      for (int k = 0; k < 3; ++k) {
                        Micros joined = now - days[k] * kMicrosPerDay;
                        RG_TRY(
                            tx.Exec("INSERT INTO members (merchant_id, id, tags, referral_code, "
                                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                                    {merchant_, ids[k], std::string(k == 0 ? R"(["vip"])" : "[]"),
                                     "R" + std::to_string(k), joined, joined}));
                      }
                      return {};
                    })
                    .has_value());
  }

  Id Create(const std::string& name, const std::string& definition) {
    auto s = db().WriteValue([&](store::Tx& tx) {
      return CreateSegment(tx, accounts::SystemActor(merchant_, clock_.Now()),
                           {name, json::parse(definition)});
    });
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return s ? s->id : 0;
  }
  int64_t Events(const std::string& type) {
    auto n = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM events WHERE merchant_id = ? "
                                              "AND type = ?",
                                              {merchant_, type}));
      return rows[0].Int(0);
    });
    return n.value_or(-1);
  }
  std::vector<Id> Rows(Id segment) {
    auto ids = db().ReadValue([&](store::Tx& tx) -> Result<std::vector<Id>> {
      RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT member_id FROM segment_members WHERE "
                                              "merchant_id = ? AND segment_id = ? ORDER BY "
                                              "member_id",
                                              {merchant_, segment}));
      std::vector<Id> out;
      for (const auto& r : rows) out.push_back(r.Int(0));
      return out;
    });
    return ids.value_or(std::vector<Id>{});
  }
};

TEST_P(SegmentMembershipTest, WritesChangesOnceAndSurvivesRestart) {
  Id old =
      Create("Joined a month ago", R"({"feature": "days_since_joined", "op": ">=", "value": 30})");
  Id vip = Create("VIP", R"({"feature": "tag", "op": "in", "values": ["vip"]})");
  {
    FeatureStore features(db(), clock_);
    ASSERT_TRUE(features.Build().has_value());
    SegmentMembership membership(db(), features, clock_);
    auto first = membership.Refresh();
    ASSERT_TRUE(first.has_value()) << first.error().ToString();
    EXPECT_EQ(*first, 2);
    EXPECT_EQ(Rows(old), std::vector<Id>{m3_});
    EXPECT_EQ(Rows(vip), std::vector<Id>{m1_});
    EXPECT_EQ(Events("segment_entered"), 2);
    // The store sees its own events; re-evaluating changes nothing.
    ASSERT_TRUE(features.CatchUp().has_value());
    EXPECT_EQ(membership.Refresh().value_or(-1), 0);
    EXPECT_EQ(membership.Refresh(/*force=*/true).value_or(-1), 0);
  }
  // A restart: a new store and refresher over the same database announce nothing again.
  FeatureStore features(db(), clock_);
  ASSERT_TRUE(features.Build().has_value());
  SegmentMembership membership(db(), features, clock_);
  EXPECT_EQ(membership.Refresh().value_or(-1), 0);
  EXPECT_EQ(Events("segment_entered"), 2);

  // 15 days later member 2 has been a member for 35 days: the clock alone moves it in, at the
  // first refresh a minute or more after the last evaluation.
  clock_.Advance(15 * kMicrosPerDay);
  EXPECT_EQ(membership.Refresh().value_or(-1), 1);
  EXPECT_EQ(Rows(old), (std::vector<Id>{std::min(m2_, m3_), std::max(m2_, m3_)}));
  EXPECT_EQ(Events("segment_entered"), 3);
  clock_.Advance(30 * kMicrosPerSecond);
  EXPECT_EQ(membership.Refresh().value_or(-1), 0);

  // A changed definition moves members out, with exit events.
  ASSERT_TRUE(
      db().Write([&](store::Tx& tx) -> Status {
            auto s = UpdateSegment(
                tx, accounts::SystemActor(merchant_, clock_.Now()), old,
                {std::nullopt,
                 json::parse(R"({"feature": "days_since_joined", "op": ">=", "value": 50})")});
            if (!s) return std::unexpected(s.error());
            return {};
          })
          .has_value());
  ASSERT_TRUE(features.CatchUp().has_value());
  EXPECT_EQ(membership.Refresh().value_or(-1), 1);
  EXPECT_EQ(Rows(old), std::vector<Id>{m3_});
  EXPECT_EQ(Events("segment_exited"), 1);

  ASSERT_TRUE(db().Write([&](store::Tx& tx) {
                    return DeleteSegment(tx, accounts::SystemActor(merchant_, clock_.Now()), vip);
                  })
                  .has_value());
  EXPECT_TRUE(Rows(vip).empty());
  ASSERT_TRUE(features.CatchUp().has_value());
  EXPECT_EQ(membership.Refresh().value_or(-1), 0);
  EXPECT_EQ(Events("segment_exited"), 1);
}

RG_INSTANTIATE_BACKENDS(SegmentMembershipTest);

}  // namespace
}  // namespace regulars::insight
