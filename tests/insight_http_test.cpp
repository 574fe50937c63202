// Insight over HTTP on SQLite and PostgreSQL: a member's features with exact values, the model
// fit on demand, and the feature store's gauges on /metrics.

#include <chrono>
#include <regex>
#include <thread>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

class InsightApi : public HttpTest {
 protected:
  std::string Id(const Response& r) {
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.raw;
    return r.body.value("id", "");
  }
  // The server's tailer applies committed writes every 200 ms: poll (for up to 20 s) until the
  // member's features show `orders`.
  json FeaturesOnceOrders(const std::string& member, int orders) {
    Response r;
    for (int i = 0; i < 200; ++i) {
      r = Get("/api/v1/members/" + member + "/features", a_.owner_key);
      if (r.status == 200 && r.body.value("orders", -1) == orders) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }
  // A gauge's value on /metrics, or -1.
  int64_t Gauge(const std::string& name) {
    auto r = Get("/metrics", "");
    std::smatch m;
    std::regex line("\n" + name + " ([0-9]+)\n");
    if (!std::regex_search(r.raw, m, line)) return -1;
    return std::stoll(m[1]);
  }
};
RG_INSTANTIATE_BACKENDS(InsightApi);

TEST_P(InsightApi, FeaturesOfAMemberWithOrdersAndARefund) {
  std::string member =
      Id(Post("/api/v1/members", a_.owner_key, {{"phone", "0912 000 001"}, {"name", "A"}}));
  // Fresh: nothing bought, no scores, no model.
  auto none = Get("/api/v1/members/" + member + "/features", a_.owner_key);
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_EQ(none.body, json::parse(R"({"orders": 0, "spend_minor": 0, "aov_minor": null,
      "first_order_at": null, "last_order_at": null, "days_since_last_order": null,
      "rfm": {"r": 0, "f": 0, "m": 0, "group": null}, "p_alive": null,
      "expected_purchases_90d": null, "expected_value_minor": null, "currency": "TWD",
      "model": null})"));

  Id(Post("/api/v1/orders", a_.owner_key,
          {{"external_id", "A-1"},
           {"member_id", member},
           {"total_minor", 30000},
           {"occurred_at", "2026-09-11T14:13:20Z"}}));
  std::string a2 = Id(Post("/api/v1/orders", a_.owner_key,
                           {{"external_id", "A-2"},
                            {"member_id", member},
                            {"total_minor", 12000},
                            {"occurred_at", "2026-09-18T14:13:20Z"}}));
  auto refund = Post("/api/v1/orders/" + a2 + "/refunds", a_.owner_key, {{"amount_minor", 3000}});
  ASSERT_EQ(refund.status, 201) << refund.raw;
  // Anonymous orders belong to nobody.
  Id(Post("/api/v1/orders", a_.owner_key, {{"external_id", "ANON-1"}, {"total_minor", 9999}}));

  json f = FeaturesOnceOrders(member, 2);
  // Poll once more for the refund (applied in the same or a later round).
  for (int i = 0; i < 200 && f.value("spend_minor", 0) != 39000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    f = Get("/api/v1/members/" + member + "/features", a_.owner_key).body;
  }
  EXPECT_EQ(f, json::parse(R"({"orders": 2, "spend_minor": 39000, "aov_minor": 19500,
      "first_order_at": "2026-09-11T14:13:20.000Z", "last_order_at": "2026-09-18T14:13:20.000Z",
      "days_since_last_order": 3, "rfm": {"r": 0, "f": 0, "m": 0, "group": null},
      "p_alive": null, "expected_purchases_90d": null, "expected_value_minor": null,
      "currency": "TWD", "model": null})"));

  // A cashier may not fit; an owner may. The only buyer scores 1 everywhere: "lost".
  auto denied = Post("/api/v1/insight/fit", a_.cashier_key, json::object());
  EXPECT_EQ(denied.status, 403) << denied.raw;
  EXPECT_EQ(denied.body["error"]["code"], "permission_denied");
  EXPECT_EQ(denied.body["error"]["message"], "only an owner or manager may fit models");
  auto fit = Post("/api/v1/insight/fit", a_.owner_key, json::object());
  ASSERT_EQ(fit.status, 200) << fit.raw;
  EXPECT_EQ(fit.body["kind"], "bgnbd_gg");
  EXPECT_EQ(fit.body["customers"], 1);
  EXPECT_EQ(fit.body["repeat_buyers"], 1);
  EXPECT_EQ(fit.body["fitted_at"], "2026-09-21T14:13:20.000Z");
  EXPECT_TRUE(fit.body["params"]["gg"].is_null());  // Gamma-Gamma needs two repeat buyers
  EXPECT_EQ(Count("insight_models"), 1);
  EXPECT_EQ(Count("member_scores"), 1);

  auto scored = Get("/api/v1/members/" + member + "/features", a_.owner_key);
  ASSERT_EQ(scored.status, 200) << scored.raw;
  EXPECT_EQ(scored.body["rfm"], json::parse(R"({"r": 1, "f": 1, "m": 1, "group": "lost"})"));
  // One buyer gives the fit no dropout signal (it does not converge), so the member is scored
  // with the closed-form limit (scores.h UsesLimit).
  EXPECT_EQ(scored.body["model"],
            json::parse(R"({"kind": "bgnbd_gg_limit", "fitted_at": "2026-09-21T14:13:20.000Z"})"));
  ASSERT_TRUE(scored.body["p_alive"].is_number()) << scored.raw;
  EXPECT_GE(scored.body["p_alive"].get<double>(), 0.0);
  EXPECT_LE(scored.body["p_alive"].get<double>(), 1.0);
  EXPECT_TRUE(scored.body["expected_value_minor"].is_number_integer()) << scored.raw;

  // Other merchants' members are not found; unknown ids neither.
  auto other = Get("/api/v1/members/" + member + "/features", b_.owner_key);
  EXPECT_EQ(other.status, 404) << other.raw;
  EXPECT_EQ(other.body["error"]["message"], "member not found");
}

TEST_P(InsightApi, ErasedMembersHaveNoFeatures) {
  std::string member =
      Id(Post("/api/v1/members", a_.owner_key, {{"phone", "0912 000 002"}, {"name", "B"}}));
  auto erased = Call("DELETE", "/api/v1/members/" + member, a_.owner_key);
  ASSERT_EQ(erased.status, 200) << erased.raw;
  auto r = Get("/api/v1/members/" + member + "/features", a_.owner_key);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "failed_precondition");
  EXPECT_EQ(r.body["error"]["message"], "member was erased");
}

TEST_P(InsightApi, MetricsShowTheFeatureStore) {
  EXPECT_EQ(Gauge("regulars_feature_store_members"), 0);
  int64_t empty = Gauge("regulars_feature_store_bytes");
  EXPECT_GT(empty, 0);
  for (int i = 0; i < 3; ++i)
    Id(Post("/api/v1/members", a_.owner_key,
            {{"phone", "0912 000 10" + std::to_string(i)}, {"name", "M"}}));
  Id(Post("/api/v1/members", b_.owner_key, {{"phone", "0912 000 200"}, {"name", "N"}}));
  int64_t members = -1;
  for (int i = 0; i < 200 && members != 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    members = Gauge("regulars_feature_store_members");
  }
  EXPECT_EQ(members, 4);
  EXPECT_GT(Gauge("regulars_feature_store_bytes"), empty);
}

}  // namespace
}  // namespace regulars::testing
