// The prepaid wallet over HTTP on SQLite and PostgreSQL: a top-up with its bonus and the
// balance after; a replayed POST (same Idempotency-Key) tops up once; a charge beyond the
// balance answers with its exact error and writes nothing; unknown fields are named; another
// merchant's member and scheme are not_found.

#include <gtest/gtest.h>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

class WalletApi : public HttpTest {
 protected:
  std::string CreateMember(const Tenant& t, const std::string& phone) {
    auto r = Post("/api/v1/members", t.owner_key, {{"phone", phone}, {"name", "Wallet Member"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  std::string Wallet(const std::string& member) { return "/api/v1/members/" + member + "/wallet"; }
  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    if (!field.empty()) {
      EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
    }
  }
  void ExpectBalance(const Response& r, int64_t paid, int64_t bonus) {
    ASSERT_TRUE(r.body.contains("balance")) << r.raw;
    EXPECT_EQ(r.body["balance"], (json{{"paid_minor", paid},
                                       {"bonus_minor", bonus},
                                       {"total_minor", paid + bonus},
                                       {"currency", "TWD"}}))
        << r.raw;
  }
};

TEST_P(WalletApi, TopUpWithBonusChargeAndRefund) {
  std::string m = CreateMember(a_, "0912345678");
  auto scheme = Post("/api/v1/wallet/bonus-schemes", a_.owner_key,
                     {{"name", "儲值 1000 送 100"}, {"pay_minor", 100000}, {"bonus_minor", 10000}});
  ASSERT_EQ(scheme.status, 201) << scheme.raw;
  EXPECT_EQ(scheme.body["repeats"], false);
  EXPECT_EQ(scheme.body["currency"], "TWD");

  auto top = Post(Wallet(m) + "/top-ups", a_.cashier_key,
                  {{"amount_minor", 100000},
                   {"payment_method", "cash"},
                   {"branch_id", a_.branch_id},
                   {"note", "counter"}});
  ASSERT_EQ(top.status, 201) << top.raw;
  EXPECT_EQ(top.body["entry"]["kind"], "top_up");
  EXPECT_EQ(top.body["entry"]["paid_minor"], 100000);
  EXPECT_EQ(top.body["entry"]["bonus_minor"], 10000);
  EXPECT_EQ(top.body["entry"]["scheme_id"], scheme.body["id"]);
  EXPECT_EQ(top.body["entry"]["branch_id"], a_.branch_id);
  ExpectBalance(top, 100000, 10000);

  auto charge = Post(Wallet(m) + "/charges", a_.cashier_key,
                     {{"amount_minor", 55000}, {"order_id", "POS-0001"}});
  ASSERT_EQ(charge.status, 201) << charge.raw;
  EXPECT_EQ(charge.body["entry"]["paid_minor"], -50000);
  EXPECT_EQ(charge.body["entry"]["bonus_minor"], -5000);
  ExpectBalance(charge, 50000, 5000);

  std::string charge_id = charge.body["entry"]["id"];
  auto refund = Post(Wallet(m) + "/refunds", a_.cashier_key,
                     {{"charge_id", charge_id}, {"amount_minor", 11000}});
  ASSERT_EQ(refund.status, 201) << refund.raw;
  EXPECT_EQ(refund.body["entry"]["charge_id"], charge_id);
  ExpectBalance(refund, 60000, 6000);
  ExpectError(Post(Wallet(m) + "/refunds", a_.cashier_key,
                   {{"charge_id", charge_id}, {"amount_minor", 44001}}),
              409, "failed_precondition",
              "amount_minor: only 44000 of this charge can still be refunded", "amount_minor");

  ExpectError(Post(Wallet(m) + "/adjustments", a_.cashier_key,
                   {{"bonus_minor", 100}, {"reason", "goodwill"}}),
              403, "permission_denied", "only an owner or manager may adjust a wallet");
  auto adjust = Post(Wallet(m) + "/adjustments", a_.owner_key,
                     {{"bonus_minor", -1000}, {"reason", "expired promotion"}});
  ASSERT_EQ(adjust.status, 201) << adjust.raw;
  ExpectBalance(adjust, 60000, 5000);

  auto wallet = Get(Wallet(m) + "?limit=2", a_.cashier_key);
  ASSERT_EQ(wallet.status, 200) << wallet.raw;
  ExpectBalance(wallet, 60000, 5000);
  ASSERT_EQ(wallet.body["data"].size(), 2u);
  EXPECT_EQ(wallet.body["data"][0]["kind"], "adjust");
  EXPECT_EQ(wallet.body["data"][0]["reason"], "expired promotion");
  EXPECT_EQ(wallet.body["data"][1]["kind"], "refund");
  ASSERT_TRUE(wallet.body["next_cursor"].is_string());
  auto older = Get(Wallet(m) + "?limit=2&cursor=" + wallet.body["next_cursor"].get<std::string>(),
                   a_.cashier_key);
  ASSERT_EQ(older.body["data"].size(), 2u);
  EXPECT_EQ(older.body["data"][0]["kind"], "charge");
  EXPECT_EQ(older.body["data"][0]["refunded_minor"], 11000);
  EXPECT_EQ(older.body["data"][1]["kind"], "top_up");
  EXPECT_EQ(older.body["next_cursor"], nullptr);

  auto schemes = Get("/api/v1/wallet/bonus-schemes", a_.cashier_key);
  ASSERT_EQ(schemes.body["data"].size(), 1u);
  auto retired = Patch("/api/v1/wallet/bonus-schemes/" + scheme.body["id"].get<std::string>(),
                       a_.owner_key, {{"active", false}});
  EXPECT_EQ(retired.status, 200) << retired.raw;
  EXPECT_EQ(retired.body["active"], false);
  EXPECT_EQ(Post(Wallet(m) + "/top-ups", a_.cashier_key, {{"amount_minor", 100000}})
                .body["entry"]["bonus_minor"],
            0);
}

TEST_P(WalletApi, ReplayedTopUpIsNotDoubled) {
  std::string m = CreateMember(a_, "0912345678");
  json body = {{"amount_minor", 50000}, {"payment_method", "card"}};
  auto first = Post(Wallet(m) + "/top-ups", a_.cashier_key, body, "topup-7f3a");
  ASSERT_EQ(first.status, 201) << first.raw;
  int64_t entries = Count("wallet_entries"), events = Count("events");
  auto again = Post(Wallet(m) + "/top-ups", a_.cashier_key, body, "topup-7f3a");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers.find("Idempotent-Replayed")->second, "true");
  EXPECT_EQ(Count("wallet_entries"), entries);
  EXPECT_EQ(Count("events"), events);
  ExpectError(Post(Wallet(m) + "/top-ups", a_.cashier_key, {{"amount_minor", 60000}}, "topup-7f3a"),
              422, "idempotency_mismatch",
              "Idempotency-Key was already used with a different request", "Idempotency-Key");
  ExpectBalance(Get(Wallet(m), a_.cashier_key), 50000, 0);
}

TEST_P(WalletApi, InsufficientFundsAndBadInputChangeNothing) {
  std::string m = CreateMember(a_, "0912345678");
  ASSERT_EQ(Post(Wallet(m) + "/top-ups", a_.cashier_key, {{"amount_minor", 30000}}).status, 201);
  int64_t entries = Count("wallet_entries"), events = Count("events"),
          keys = Count("idempotency_keys");
  struct Case {
    std::string path, body;
    int status;
    std::string code, message, field;
  } cases[] = {
      {"/charges", R"({"amount_minor": 30001})", 409, "failed_precondition",
       "amount_minor: the wallet holds only 30000", "amount_minor"},
      {"/charges", R"({"amount_minor": 100, "amout": 1})", 400, "invalid_argument",
       "amout: unknown field", "amout"},
      {"/charges", R"({"amount_minor": 10.5})", 400, "invalid_argument",
       "amount_minor: must be an integer", "amount_minor"},
      {"/charges", R"({"amount_minor": "100"})", 400, "invalid_argument",
       "amount_minor: must be an integer", "amount_minor"},
      {"/charges", R"({})", 400, "invalid_argument", "amount_minor: is required", "amount_minor"},
      {"/top-ups", R"({"amount_minor": -100})", 400, "invalid_argument",
       "amount_minor: must be a positive integer", "amount_minor"},
      {"/top-ups", R"({"amount_minor": 100, "payment_method": "Cash!"})", 400, "invalid_argument",
       "payment_method: must be 1 to 32 lowercase letters, digits or underscores",
       "payment_method"},
      {"/top-ups", R"({"amount_minor": 100, "branch_id": "123"})", 400, "invalid_argument",
       "branch_id: branch not found", "branch_id"},
      {"/refunds", R"({"amount_minor": 100})", 400, "invalid_argument", "charge_id: is required",
       "charge_id"},
      {"/refunds", R"({"charge_id": "123"})", 404, "not_found", "charge_id: charge not found",
       "charge_id"},
      {"/adjustments", R"({"paid_minor": -30001, "reason": "x"})", 409, "failed_precondition",
       "paid_minor: the wallet holds only 30000 of paid value", "paid_minor"},
      {"/adjustments", R"({"paid_minor": 5})", 400, "invalid_argument", "reason: is required",
       "reason"},
  };
  int n = 0;
  for (const auto& c : cases) {
    // With an Idempotency-Key too: a refused request must not record an answer.
    auto r = Call("POST", Wallet(m) + c.path, a_.owner_key, c.body,
                  {{"Idempotency-Key", "bad-" + std::to_string(++n)}});
    ExpectError(r, c.status, c.code, c.message, c.field);
  }
  EXPECT_EQ(Count("wallet_entries"), entries);
  EXPECT_EQ(Count("events"), events);
  EXPECT_EQ(Count("idempotency_keys"), keys);
  ExpectBalance(Get(Wallet(m), a_.cashier_key), 30000, 0);
  ExpectError(Post("/api/v1/wallet/bonus-schemes", a_.cashier_key,
                   {{"name", "x"}, {"pay_minor", 100}, {"bonus_minor", 10}}),
              403, "permission_denied", "only an owner or manager may manage bonus schemes");
  ExpectError(Post("/api/v1/wallet/bonus-schemes", a_.owner_key,
                   {{"name", "x"}, {"pay_minor", 100}, {"bonus_minor", 10}, {"valid_to", "soon"}}),
              400, "invalid_argument", "valid_to: must be an RFC 3339 time", "valid_to");
}

TEST_P(WalletApi, AnotherMerchantsMemberAndSchemeAreNotFound) {
  std::string m = CreateMember(a_, "0912345678");
  ASSERT_EQ(Post(Wallet(m) + "/top-ups", a_.owner_key, {{"amount_minor", 30000}}).status, 201);
  auto charge = Post(Wallet(m) + "/charges", a_.owner_key, {{"amount_minor", 100}});
  ASSERT_EQ(charge.status, 201);
  auto scheme = Post("/api/v1/wallet/bonus-schemes", a_.owner_key,
                     {{"name", "A's scheme"}, {"pay_minor", 100}, {"bonus_minor", 10}});
  ASSERT_EQ(scheme.status, 201);
  int64_t entries = Count("wallet_entries");
  ExpectError(Get(Wallet(m), b_.owner_key), 404, "not_found", "member not found");
  for (const auto& [path, body] : std::vector<std::pair<std::string, json>>{
           {"/top-ups", {{"amount_minor", 100}}},
           {"/charges", {{"amount_minor", 100}}},
           {"/refunds", {{"charge_id", charge.body["entry"]["id"]}}},
           {"/adjustments", {{"paid_minor", -100}, {"reason", "steal"}}}}) {
    ExpectError(Post(Wallet(m) + path, b_.owner_key, body), 404, "not_found", "member not found");
  }
  ExpectError(Patch("/api/v1/wallet/bonus-schemes/" + scheme.body["id"].get<std::string>(),
                    b_.owner_key, {{"name", "stolen"}}),
              404, "not_found", "bonus scheme not found");
  // B's own member cannot use A's charge or scheme either.
  std::string mb = CreateMember(b_, "0912345678");
  ExpectError(
      Post(Wallet(mb) + "/refunds", b_.owner_key, {{"charge_id", charge.body["entry"]["id"]}}), 404,
      "not_found", "charge_id: charge not found", "charge_id");
  ExpectError(Post(Wallet(mb) + "/top-ups", b_.owner_key,
                   {{"amount_minor", 100}, {"scheme_id", scheme.body["id"]}}),
              400, "invalid_argument", "scheme_id: bonus scheme not found", "scheme_id");
  EXPECT_EQ(Get("/api/v1/wallet/bonus-schemes", b_.owner_key).body["data"].size(), 0u);
  EXPECT_EQ(Count("wallet_entries"), entries);
  ExpectBalance(Get(Wallet(m), a_.owner_key), 29900, 0);
}

RG_INSTANTIATE_BACKENDS(WalletApi);

}  // namespace
}  // namespace regulars::testing
