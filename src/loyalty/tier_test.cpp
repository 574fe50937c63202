#include "loyalty/tier.h"

#include <gtest/gtest.h>

namespace regulars::loyalty {
namespace {

std::vector<Tier> Tiers() {
  return {{1, 1, "Silver", 100000, 1000, "{}"}, {2, 2, "Gold", 500000, 1500, "{}"}};
}

TEST(Tier, QualificationAndValidation) {
  EXPECT_EQ(QualifiedLevel(Tiers(), 99999), 0);
  EXPECT_EQ(QualifiedLevel(Tiers(), 100000), 1);
  EXPECT_EQ(QualifiedLevel(Tiers(), 800000), 2);
  auto bad = Tiers();
  bad[1].threshold = 100000;
  EXPECT_EQ(ValidateTiers(bad).error().message,
            "threshold: must be above level 1's threshold of 100000");
  bad = Tiers();
  bad[1].level = 1;
  EXPECT_EQ(ValidateTiers(bad).error().code, Code::kAlreadyExists);
  std::vector<Tier> eleven;
  for (int i = 1; i <= 11; ++i) eleven.push_back({i, i, "t", i * 10, 1000, "{}"});
  EXPECT_EQ(ValidateTiers(eleven).error().message, "tiers: at most 10 tiers");
}

TEST(Tier, UpgradeAtOnceDowngradeOnlyAfterGraceAtReview) {
  MemberTierState s{1, 0, {}, {}, {}};
  auto up = OnQualification(s, 2, 10);
  EXPECT_TRUE(up.changed);
  EXPECT_EQ(up.next.level, 2);
  EXPECT_EQ(up.reason, "upgrade");
  // Falling below never downgrades on an order.
  EXPECT_FALSE(OnQualification(up.next, 0, 20).changed);
  // The first review starts the grace period; a later one inside it does nothing.
  auto g = OnReview(up.next, 1, 100, 30);
  EXPECT_EQ(g.reason, "grace_started");
  EXPECT_EQ(*g.next.grace_until, 100 + 30 * kMicrosPerDay);
  EXPECT_FALSE(OnReview(g.next, 1, 100 + kMicrosPerDay, 30).changed);
  // Qualifying again clears it.
  EXPECT_EQ(OnReview(g.next, 2, 200, 30).reason, "grace_cleared");
  // After the grace period, down to the level qualified for.
  auto d = OnReview(g.next, 1, 100 + 30 * kMicrosPerDay, 30);
  EXPECT_EQ(d.reason, "downgrade");
  EXPECT_EQ(d.next.level, 1);
}

TEST(Tier, OverrideWinsUntilItEnds) {
  MemberTierState s{1, 0, {}, 3, 1000};
  EXPECT_EQ(EffectiveLevel(s, 999), 3);
  EXPECT_EQ(EffectiveLevel(s, 1000), 1);
}

}  // namespace
}  // namespace regulars::loyalty
