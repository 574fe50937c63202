#include "http/order_json.h"

#include <gtest/gtest.h>

namespace regulars::http {
namespace {

using loyalty::OrderResult;

OrderResult Earning() {
  OrderResult r;
  loyalty::Order& o = r.order;
  o.id = 7533624579294494838;
  o.external_id = "check-1";
  o.member_id = 7533624560499821657;
  o.occurred_at = 1'796'149'267'662'000;
  o.currency = "TWD";
  o.total_minor = 1000;
  o.created_at = 1'796'149'267'662'123;
  o.items.push_back({1, {"SKU-1", "Item 1", std::nullopt, 2, 500}, 0});
  o.items.push_back({2, {"SKU-2", "Item 2", std::string("drinks"), 1, 0}, 1});
  r.earned.lines.push_back({7533624579038642294, "1 point per 100", 11, 10, "1 per 1.00 on 10.00"});
  r.earned.total_by_point_type[11] = 10;
  r.effects.push_back({11, "points", 10, 10});
  return r;
}

// The answer's bytes, exactly: the order's keys sorted as nlohmann sorts them.
TEST(OrderReplyText, ExactBytesOfAnEarningOrder) {
  OrderResult r = Earning();
  std::map<Id, std::string> codes{{11, "points"}};
  EXPECT_EQ(
      OrderReplyText(r, codes, "TWD"),
      R"({"branch_id":null,"created_at":"2026-12-01T18:21:07.662Z","currency":"TWD",)"
      R"("external_id":"check-1","id":"7533624579294494838","items":[{"category":null,"line":1,)"
      R"("name":"Item 1","quantity":2,"refunded_quantity":0,"sku":"SKU-1","unit_price_minor":500},)"
      R"({"category":"drinks","line":2,"name":"Item 2","quantity":1,"refunded_quantity":1,)"
      R"("sku":"SKU-2","unit_price_minor":0}],"loyalty":{"earned":{"lines":[{"explanation":)"
      R"("1 per 1.00 on 10.00","point_type":"points","points":10,"rule_id":"7533624579038642294",)"
      R"("rule_name":"1 point per 100"}],"totals":{"points":10}},"member_created":false,)"
      R"("points":[{"balance_after":10,"point_type":"points","points":10}]},)"
      R"("member_id":"7533624560499821657","occurred_at":"2026-12-01T18:21:07.662Z",)"
      R"("refunded_minor":0,"staff_id":null,"total_minor":1000})");
  EXPECT_EQ(OrderReplyText(r, codes, "TWD"), OrderReplyValue(r, codes, "TWD").dump());
}

// Whatever the order holds, the hand-written answer is nlohmann's dump of the same value.
TEST(OrderReplyText, EqualsTheDumpOfTheValue) {
  std::vector<std::pair<std::string, OrderResult>> cases;
  cases.emplace_back("earning", Earning());
  {
    OrderResult r;  // no member, no items, nothing earned
    r.order.id = 1;
    r.order.external_id = "x";
    cases.emplace_back("empty", r);
  }
  {
    OrderResult r = Earning();  // every optional id set, a refund's negative points
    r.order.branch_id = 42;
    r.order.staff_id = 43;
    r.order.refunded_minor = 250;
    r.member_created = true;
    r.effects = {{11, "points", -3, 7}, {12, "stamps", -1, -1}};
    r.earned.lines.push_back({5, "Stamps", 12, -1, ""});
    r.earned.total_by_point_type[12] = -1;
    r.earned.total_by_point_type[99] = 4;  // no code: named by its id
    cases.emplace_back("refund", r);
  }
  {
    OrderResult r = Earning();  // text that nlohmann escapes, and UTF-8 it copies
    r.order.external_id = "a\"b\\c\n\t\x01\x7f";
    r.order.items[0].item.name = "咖啡 «Latte» ☕";
    r.order.items[0].item.sku = "/slash/";
    r.order.items[1].item.category = "\x1f";
    r.earned.lines[0].rule_name = "é";
    r.effects[0].point_type = "zz\"";
    cases.emplace_back("escapes", r);
  }
  {
    OrderResult r = Earning();  // two point types that both show as "points": the later wins
    r.earned.total_by_point_type[12] = 3;
    cases.emplace_back("same name", r);
  }
  std::map<Id, std::string> codes{{11, "points"}, {12, "stamps"}};
  for (const auto& [name, r] : cases) {
    EXPECT_EQ(OrderReplyText(r, codes, "TWD"), OrderReplyValue(r, codes, "TWD").dump()) << name;
    std::map<Id, std::string> same{{11, "points"}, {12, "points"}};
    EXPECT_EQ(OrderReplyText(r, same, "€"), OrderReplyValue(r, same, "€").dump()) << name;
  }
}

TEST(OrderReplyText, InvalidUtf8ThrowsAsDumpDoes) {
  OrderResult r = Earning();
  r.order.items[0].item.name = "bad \xff";
  std::map<Id, std::string> codes{{11, "points"}};
  EXPECT_THROW(OrderReplyValue(r, codes, "TWD").dump(), json::type_error);
  EXPECT_THROW(OrderReplyText(r, codes, "TWD"), json::type_error);
}

}  // namespace
}  // namespace regulars::http
