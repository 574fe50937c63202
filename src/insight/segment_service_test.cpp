// Live segment membership on both databases: the first refresh writes the members and one
// segment_entered event each; a refresh with nothing changed writes nothing; a restart (a new
// feature store and refresher over the same database) re-emits nothing; a time-relative segment
// gains a member when the clock alone moves it in, once the minute has passed; deleting a
// segment removes its rows; a first fill in several transactions announces each member once.

#include "insight/segment_service.h"

#include <gtest/gtest.h>

#include <algorithm>

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

// The first fill of a segment every member matches, in transactions of 2 rows: every member
// enters once, with one event each and consecutive seqs. WriteMembershipChange announces only
// the rows it really writes: rows already there (written by another server) and rows already gone
// yield no event, and a deleted segment takes nothing.
TEST_P(SegmentMembershipTest, FirstFillInChunksAnnouncesEachRowOnce) {
  Id all = Create("Everyone", R"({"feature": "days_since_joined", "op": ">=", "value": 0})");
  FeatureStore features(db(), clock_);
  ASSERT_TRUE(features.Build().has_value());
  SegmentMembership membership(db(), features, clock_);
  membership.SetChangesPerTransaction(2);
  auto n = membership.Refresh();
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(*n, 3);
  std::vector<Id> everyone = {m1_, m2_, m3_};
  std::sort(everyone.begin(), everyone.end());
  EXPECT_EQ(Rows(all), everyone);
  auto entered = db().ReadValue([&](store::Tx& tx) -> Result<std::vector<std::pair<int64_t, Id>>> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT seq, member_id, data FROM events WHERE "
                                            "merchant_id = ? AND type = 'segment_entered' ORDER "
                                            "BY seq",
                                            {
                                                merchant_,
                                            }));
    std::vector<std::pair<int64_t, Id>> out;
    for (const auto& r : rows) {
      EXPECT_EQ(json::parse(r.Str(2)),
                (json{{"segment_id", IdToString(all)}, {"name", "Everyone"}}));
      out.emplace_back(r.Int(0), r.Int(1));
    }
    return out;
  });
  ASSERT_TRUE(entered.has_value());
  ASSERT_EQ(entered->size(), 3u);
  std::vector<Id> who;
  for (size_t k = 0; k < entered->size(); ++k) {
    who.push_back((*entered)[k].second);
    if (k) {
      EXPECT_EQ((*entered)[k].first, (*entered)[k - 1].first + 1);
    }
  }
  EXPECT_EQ(who, everyone);
  ASSERT_TRUE(features.CatchUp().has_value());
  EXPECT_EQ(membership.Refresh().value_or(-1), 0);

  auto write = [&](MembershipChange c) {
    auto w = db().WriteValue(
        [&](store::Tx& tx) { return WriteMembershipChange(tx, merchant_, clock_.Now(), c); });
    EXPECT_TRUE(w.has_value()) << w.error().ToString();
    return w.value_or(-1);
  };
  EXPECT_EQ(write({all, "Everyone", {m1_, m2_}, {}}), 0);  // already there
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
                    RG_TRY(
                        tx.Exec("DELETE FROM segment_members WHERE merchant_id = ? AND "
                                "segment_id = ? AND member_id = ?",
                                {merchant_, all, m2_}));
                    return {};
                  })
                  .has_value());
  // m2 is missing (enters again), m3 leaves; m1 is there already, and a second exit of m3 is
  // nothing.
  EXPECT_EQ(write({all, "Everyone", {m1_, m2_}, {m3_}}), 2);
  EXPECT_EQ(write({all, "Everyone", {}, {m3_}}), 0);
  std::vector<Id> left = {m1_, m2_};
  std::sort(left.begin(), left.end());
  EXPECT_EQ(Rows(all), left);
  EXPECT_EQ(Events("segment_entered"), 4);
  EXPECT_EQ(Events("segment_exited"), 1);
  ASSERT_TRUE(db().Write([&](store::Tx& tx) {
                    return DeleteSegment(tx, accounts::SystemActor(merchant_, clock_.Now()), all);
                  })
                  .has_value());
  EXPECT_EQ(write({all, "Everyone", {m3_}, {}}), 0);
  EXPECT_TRUE(Rows(all).empty());
}

RG_INSTANTIATE_BACKENDS(SegmentMembershipTest);

}  // namespace
}  // namespace regulars::insight
