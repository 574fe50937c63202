#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "base/crypto.h"
#include "commerce/branch_service.h"
#include "store/testing.h"

namespace regulars::accounts {
namespace {

class AccountsTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto m = db().WriteValue([&](store::Tx& tx) -> Result<Merchant> {
      Merchant in;
      in.name = "茶飲 Tea";
      RG_ASSIGN_OR_RETURN(Merchant m, CreateMerchant(tx, clock_.Now(), in));
      NewStaff owner{"Owner", "Owner@Example.com ", Role::kOwner, hash_, {}};
      RG_TRY(CreateStaff(tx, SystemActor(m.id, clock_.Now()), owner));
      return m;
    });
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    merchant_ = *m;
  }
  Actor Owner() { return SystemActor(merchant_.id, clock_.Now()); }

  std::string hash_ = HashPassword("owner-password").value();
  Merchant merchant_;
};

TEST_P(AccountsTest, MerchantValidationNamesTheField) {
  struct Case {
    Merchant m;
    const char* message;
  } cases[] = {
      {{0, "x", "XX", "TWD", "Asia/Taipei", "zh-TW", 0},
       "region: unknown region 'XX' (use ISO 3166, e.g. TW)"},
      {{0, "x", "TW", "TWX", "Asia/Taipei", "zh-TW", 0},
       "currency: unknown currency 'TWX' (use ISO 4217, e.g. TWD)"},
      {{0, "x", "TW", "TWD", "Asia/Taipeh", "zh-TW", 0},
       "timezone: unknown time zone 'Asia/Taipeh' (use IANA, e.g. Asia/Taipei)"},
      {{0, "x", "TW", "TWD", "Asia/Taipei", "fr", 0}, "language: must be zh-TW, zh-CN or en"},
      {{0, " ", "TW", "TWD", "Asia/Taipei", "en", 0}, "name: is required"},
  };
  for (const auto& c : cases) {
    auto r = db().WriteValue([&](store::Tx& tx) { return CreateMerchant(tx, 0, c.m); });
    ASSERT_FALSE(r.has_value()) << c.message;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST_P(AccountsTest, LoginRightAndWrongAndThrottled) {
  LoginThrottle throttle(clock_, {3, 100, 15 * 60 * kMicrosPerSecond});
  LoginRequest req{"owner@example.com", "owner-password", std::nullopt, "1.2.3.4"};
  auto s = Login(db(), clock_, throttle, req);
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->staff.role, Role::kOwner);
  EXPECT_EQ(s->merchant.id, merchant_.id);

  auto actor = db().ReadValue(
      [&](store::Tx& tx) { return AuthenticateSession(tx, clock_.Now(), s->token); });
  ASSERT_TRUE(actor.has_value()) << actor.error().ToString();
  EXPECT_EQ(actor->actor.merchant_id, merchant_.id);
  EXPECT_EQ(actor->csrf_token, s->csrf_token);

  req.password = "wrong-password";
  for (int i = 0; i < 3; ++i) {
    auto bad = Login(db(), clock_, throttle, req);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, Code::kUnauthenticated);
    EXPECT_EQ(bad.error().message, "email or password is wrong");
  }
  req.password = "owner-password";  // even the right password waits now
  auto throttled = Login(db(), clock_, throttle, req);
  ASSERT_FALSE(throttled.has_value());
  EXPECT_EQ(throttled.error().code, Code::kResourceExhausted);
  EXPECT_EQ(throttled.error().message, "too many failed log-in attempts; try again in 15 minutes");
  clock_.Advance(16 * 60 * kMicrosPerSecond);
  EXPECT_TRUE(Login(db(), clock_, throttle, req).has_value());

  // Sessions expire.
  clock_.Advance(13 * 3600 * kMicrosPerSecond);
  auto expired = db().ReadValue(
      [&](store::Tx& tx) { return AuthenticateSession(tx, clock_.Now(), s->token); });
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, Code::kUnauthenticated);
}

TEST_P(AccountsTest, ApiKeysAreHashedShownOnceAndRevocable) {
  auto k = db().WriteValue([&](store::Tx& tx) {
    return CreateApiKey(tx, clock_.Now(), merchant_.id, "POS", Role::kManager);
  });
  ASSERT_TRUE(k.has_value()) << k.error().ToString();
  auto stored = db().ReadValue([&](store::Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(
        auto r, tx.Query("SELECT key_hash FROM api_keys WHERE merchant_id = ?", {merchant_.id}));
    return r[0].Str(0);
  });
  EXPECT_EQ(stored->find(k->secret), std::string::npos);
  auto a = db().ReadValue([&](store::Tx& tx) { return AuthenticateApiKey(tx, 1, k->secret); });
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->role, Role::kManager);
  std::string forged = k->secret;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  auto f = db().ReadValue([&](store::Tx& tx) { return AuthenticateApiKey(tx, 1, forged); });
  EXPECT_EQ(f.error().message, "API key is not valid");
  ASSERT_TRUE(db().Write([&](store::Tx& tx) { return RevokeApiKey(tx, Owner(), k->key.id); }));
  auto r = db().ReadValue([&](store::Tx& tx) { return AuthenticateApiKey(tx, 1, k->secret); });
  EXPECT_EQ(r.error().message, "API key was revoked");
}

TEST_P(AccountsTest, StaffRulesAndBranchLimits) {
  auto b = db().WriteValue([&](store::Tx& tx) {
    commerce::BranchPatch p;
    p.name = "Taipei 101";
    p.code = std::optional<std::string>("TPE");
    return commerce::CreateBranch(tx, Owner(), p);
  });
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  auto cashier = db().WriteValue([&](store::Tx& tx) {
    return CreateStaff(tx, Owner(), {"Cashier", "c@example.com", Role::kCashier, hash_, {b->id}});
  });
  ASSERT_TRUE(cashier.has_value()) << cashier.error().ToString();
  EXPECT_EQ(cashier->branch_ids, std::vector<Id>{b->id});

  auto dup = db().WriteValue([&](store::Tx& tx) {
    return CreateStaff(tx, Owner(), {"Again", "C@example.com", Role::kCashier, hash_, {}});
  });
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  EXPECT_EQ(dup.error().field, "email");

  auto bad_branch = db().WriteValue([&](store::Tx& tx) {
    return CreateStaff(tx, Owner(), {"X", "x@example.com", Role::kCashier, hash_, {12345}});
  });
  EXPECT_EQ(bad_branch.error().message, "branch_ids: branch 12345 not found");

  Actor as_cashier = Owner();
  as_cashier.role = Role::kCashier;
  as_cashier.staff_id = cashier->id;
  auto denied =
      db().ReadValue([&](store::Tx& tx) { return ListStaff(tx, as_cashier, std::nullopt, 50); });
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);

  // The last owner cannot be demoted.
  auto owners = db().ReadValue([&](store::Tx& tx) { return ListStaff(tx, Owner(), {}, 50); });
  Id owner_id = owners->items[0].id;
  auto demote = db().WriteValue([&](store::Tx& tx) {
    StaffPatch p;
    p.role = Role::kManager;
    return UpdateStaff(tx, Owner(), owner_id, p);
  });
  EXPECT_EQ(demote.error().code, Code::kFailedPrecondition);
}

RG_INSTANTIATE_BACKENDS(AccountsTest);

}  // namespace
}  // namespace regulars::accounts
