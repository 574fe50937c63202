#include "messaging/template.h"

#include <gtest/gtest.h>

#include "store/testing.h"

namespace regulars::messaging {
namespace {

using nlohmann::json;

Template Email(Purpose p = Purpose::kTransactional) {
  Template t;
  t.name = "receipt";
  t.medium = Medium::kEmail;
  t.purpose = p;
  t.variants["zh-TW"] = {"{{merchant.name}} 收據", "親愛的 {{member.name}}，感謝惠顧。",
                         "<p>親愛的 {{member.name}}</p>"};
  t.variants["en"] = {"{{merchant.name}} receipt", "Dear {{member.name}}, thanks.",
                      "<p>Dear {{member.name}}</p>"};
  return t;
}

json Ctx() {
  return json::parse(R"({"merchant": {"name": "Bean & Leaf"},
                         "member": {"name": "<Amy & \"Bo\">", "language": "zh-TW"},
                         "unsubscribe_url": "https://r.example/u/tok"})");
}

TEST(TemplateTest, LanguageChainFallsBackThroughTheSiblingAndTheMerchantToEnglish) {
  using V = std::vector<std::string>;
  EXPECT_EQ(LanguageChain("zh-CN", "zh-TW"), (V{"zh-CN", "zh-TW", "en"}));
  EXPECT_EQ(LanguageChain("", "zh-TW"), (V{"zh-TW", "zh-CN", "en"}));
  EXPECT_EQ(LanguageChain("en", "zh-CN"), (V{"en", "zh-CN", "zh-TW"}));
  EXPECT_EQ(LanguageChain("ja", "en"), (V{"ja", "en"}));
}

TEST(TemplateTest, RendersTheMembersVariantHtmlEscapedAndTextRaw) {
  auto r = RenderTemplate(Email(), Ctx(), "zh-CN", "en");  // zh-CN -> zh-TW
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->language, "zh-TW");
  EXPECT_EQ(r->subject, "Bean & Leaf 收據");
  EXPECT_EQ(r->text, "親愛的 <Amy & \"Bo\">，感謝惠顧。");
  EXPECT_EQ(r->html, "<p>親愛的 &lt;Amy &amp; &quot;Bo&quot;&gt;</p>");
  EXPECT_TRUE(r->headers.empty());
  EXPECT_TRUE(r->missing.empty());
  EXPECT_FALSE(r->sms.has_value());

  auto en = RenderTemplate(Email(), Ctx(), "", "en");
  ASSERT_TRUE(en.has_value());
  EXPECT_EQ(en->language, "en");
  EXPECT_EQ(en->subject, "Bean & Leaf receipt");

  Template only_cn = Email();
  only_cn.variants.clear();
  only_cn.variants["zh-CN"] = {"s", "t", ""};
  auto none = RenderTemplate(only_cn, Ctx(), "ja", "en");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(none.error().message, "variants: no variant for ja or a fallback language");
}

TEST(TemplateTest, PreviewReportsMissingVariables) {
  Template t = Email();
  t.variants["en"] = {"Hi {{member.name}}",
                      "{{coupon.code}} {{#order}}{{external_id}} {{total}}{{/order}} "
                      "{{member.nickname}} {{coupon.code}}",
                      ""};
  json ctx = Ctx();
  ctx["order"] = {{"external_id", "A-1"}};
  auto r = RenderTemplate(t, ctx, "en", "en");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, " A-1   ");
  EXPECT_EQ(r->missing, (std::vector<std::string>{"coupon.code", "total", "member.nickname"}));
  ctx["member"]["nickname"] = nullptr;  // null counts as missing
  EXPECT_EQ(MissingVariables("{{member.nickname}}{{merchant.name}}", ctx),
            (std::vector<std::string>{"member.nickname"}));
  // Lists: names are looked up in the first element.
  ctx["items"] = json::array({{{"sku", "X"}}});
  EXPECT_EQ(MissingVariables("{{#items}}{{sku}}{{qty}}{{/items}}", ctx),
            (std::vector<std::string>{"qty"}));
}

TEST(TemplateTest, MarketingEmailMustCarryAnUnsubscribeLinkAndGetsTheHeaders) {
  Template t = Email(Purpose::kMarketing);
  auto bad = ValidateTemplate(t);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_EQ(bad.error().message,
            "variants.en.text: a marketing e-mail must contain {{unsubscribe_url}}");
  for (auto& [lang, v] : t.variants) v.text += " {{unsubscribe_url}}";
  bad = ValidateTemplate(t);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "variants.en.html: a marketing e-mail must contain {{unsubscribe_url}}");
  for (auto& [lang, v] : t.variants) v.html += "<a href=\"{{{unsubscribe_url}}}\">x</a>";
  auto r = RenderTemplate(t, Ctx(), "en", "en");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->text, "Dear <Amy & \"Bo\">, thanks. https://r.example/u/tok");
  EXPECT_EQ(r->headers, (std::vector<std::pair<std::string, std::string>>{
                            {"List-Unsubscribe", "<https://r.example/u/tok>"},
                            {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}));
}

TEST(TemplateTest, MarketingSmsGetsAStopInstructionInItsLanguage) {
  Template t;
  t.medium = Medium::kSms;
  t.purpose = Purpose::kMarketing;
  t.variants["zh-TW"] = {"", "{{merchant.name}} 週末全品項九折", ""};
  t.variants["en"] = {"", "10% off this weekend. Text STOP to quit", ""};
  auto tw = RenderTemplate(t, Ctx(), "zh-TW", "zh-TW", 90);
  ASSERT_TRUE(tw.has_value());
  EXPECT_EQ(tw->text, "Bean & Leaf 週末全品項九折\n回覆STOP退訂");
  EXPECT_EQ(*tw->sms, (SmsLength{false, 28, 1, 90}));
  auto en = RenderTemplate(t, Ctx(), "en", "zh-TW", 90);
  ASSERT_TRUE(en.has_value());
  EXPECT_EQ(en->text, "10% off this weekend. Text STOP to quit");
  EXPECT_EQ(*en->sms, (SmsLength{true, 39, 1, 90}));
  t.purpose = Purpose::kTransactional;
  auto tx = RenderTemplate(t, Ctx(), "zh-TW", "zh-TW");
  ASSERT_TRUE(tx.has_value());
  EXPECT_EQ(tx->text, "Bean & Leaf 週末全品項九折");
}

TEST(TemplateTest, SmsLengthCountsGsmSeptetsAndUcs2Units) {
  EXPECT_EQ(MeasureSms("Hello", 100), (SmsLength{true, 5, 1, 100}));
  EXPECT_EQ(MeasureSms(std::string(160, 'a'), 100), (SmsLength{true, 160, 1, 100}));
  EXPECT_EQ(MeasureSms(std::string(161, 'a'), 100), (SmsLength{true, 161, 2, 200}));
  EXPECT_EQ(MeasureSms(std::string(306, 'a'), 100), (SmsLength{true, 306, 2, 200}));
  EXPECT_EQ(MeasureSms(std::string(307, 'a'), 100), (SmsLength{true, 307, 3, 300}));
  // The extension table counts two septets: 80 braces fill one part, 81 need two.
  std::string braces;
  for (int i = 0; i < 80; ++i) braces += "{";
  EXPECT_EQ(MeasureSms(braces, 1), (SmsLength{true, 160, 1, 1}));
  EXPECT_EQ(MeasureSms(braces + "}", 1), (SmsLength{true, 162, 2, 2}));
  EXPECT_EQ(MeasureSms("€5 ü é £", 1), (SmsLength{true, 9, 1, 1}));
  // Non-GSM characters switch the whole message to UCS-2.
  std::string zh70, zh71, zh135;
  for (int i = 0; i < 70; ++i) zh70 += "點";
  zh71 = zh70 + "數";
  for (int i = 0; i < 135; ++i) zh135 += "點";
  EXPECT_EQ(MeasureSms(zh70, 150), (SmsLength{false, 70, 1, 150}));
  EXPECT_EQ(MeasureSms(zh71, 150), (SmsLength{false, 71, 2, 300}));
  EXPECT_EQ(MeasureSms(zh135, 150), (SmsLength{false, 135, 3, 450}));
  EXPECT_EQ(MeasureSms("Hi ç", 1), (SmsLength{false, 4, 1, 1}));  // ç is not GSM (Ç is)
  EXPECT_EQ(MeasureSms("OK 👍", 1), (SmsLength{false, 5, 1, 1}));  // a surrogate pair
}

TEST(TemplateTest, ValidationNamesThePartAndParsingTheLanguage) {
  Template t = Email();
  t.variants["en"].html = "<p>{{#member}}{{name}}</p>";
  auto r = ValidateTemplate(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "variants.en.html");
  EXPECT_EQ(r.error().message, "variants.en.html: Unclosed section \"member\" at 3");
  t = Email();
  t.variants["zh-TW"].subject.clear();
  EXPECT_EQ(ValidateTemplate(t).error().message, "variants.zh-TW.subject: required for e-mail");
  Template sms;
  sms.medium = Medium::kSms;
  sms.variants["en"] = {"", "x", "<p>x</p>"};
  EXPECT_EQ(ValidateTemplate(sms).error().message, "variants.en.html: e-mail only");

  EXPECT_EQ(ParseVariants(json::parse(R"({"fr": {"text": "x"}})")).error().message,
            "variants.fr: language must be zh-TW, zh-CN or en");
  EXPECT_EQ(ParseVariants(json::parse(R"({"en": {"text": 3}})")).error().message,
            "variants.en.text: must be a string");
  EXPECT_EQ(ParseVariants(json::parse(R"({"en": {"body": "x"}})")).error().message,
            "variants.en.body: unknown part (subject, text, html)");
  EXPECT_EQ(ParseVariants(json::object()).error().message,
            "variants: must be an object with at least one language");
  auto ok = ParseVariants(json::parse(R"({"en": {"subject": "s", "text": "t"}})"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(VariantsToJson(*ok).dump(), R"({"en":{"subject":"s","text":"t"}})");
}

class ContextTest : public store::BackendTest {};

TEST_P(ContextTest, BuildsTheContextFromMemberMerchantBalancesOrderAndCoupon) {
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
        "created_at, updated_at) VALUES (1, 'Bean', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)"));
    RG_TRY(tx.Exec(
        "INSERT INTO members (merchant_id, id, phone, name, email, language, referral_code, "
        "created_at, updated_at) VALUES (1, 5, '+886912345678', 'Amy', NULL, 'en', 'R5', 0, 0)"));
    RG_TRY(
        tx.Exec("INSERT INTO point_types (merchant_id, id, code, name, expiry_kind, created_at, "
                "updated_at) VALUES (1, 11, 'points', 'Points', 'never', 0, 0)"));
    RG_TRY(tx.Exec(
        "INSERT INTO point_balances (merchant_id, member_id, point_type_id, balance, updated_at) "
        "VALUES (1, 5, 11, 120, 0)"));
    RG_TRY(
        tx.Exec("INSERT INTO wallet_balances (merchant_id, member_id, paid_minor, bonus_minor, "
                "updated_at) VALUES (1, 5, 50000, 5000, 0)"));
    RG_TRY(tx.Exec(
        "INSERT INTO orders (merchant_id, id, external_id, member_id, occurred_at, currency, "
        "total_minor, created_at) VALUES (1, 77, 'POS-1', 5, 1790000000000000, 'TWD', 35000, 0)"));
    return {};
  }));
  auto ctx = db().ReadValue([&](store::Tx& tx) {
    return BuildContext(tx, {1, 5, 77, std::nullopt, "https://r/u/t"});
  });
  ASSERT_TRUE(ctx.has_value()) << ctx.error().ToString();
  EXPECT_EQ(ctx->dump(),
            R"({"balances":{"points":{"points":120},"wallet":{"bonus_minor":5000,)"
            R"("paid_minor":50000,"total_minor":55000}},"member":{"email":null,"id":"5",)"
            R"("language":"en","name":"Amy","phone":"+886912345678","referral_code":"R5"},)"
            R"("merchant":{"currency":"TWD","language":"zh-TW","name":"Bean"},)"
            R"("order":{"currency":"TWD","external_id":"POS-1","id":"77",)"
            R"("occurred_at":"2026-09-21T14:13:20.000Z","total_minor":35000},)"
            R"("unsubscribe_url":"https://r/u/t"})");
  auto missing = db().ReadValue([&](store::Tx& tx) {
    return BuildContext(tx, {1, 5, std::nullopt, 999, ""});
  });
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(missing.error().field, "coupon_id");
  auto nobody = db().ReadValue([&](store::Tx& tx) { return BuildContext(tx, {1, 6, {}, {}, ""}); });
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().field, "member_id");
}

RG_INSTANTIATE_BACKENDS(ContextTest);

}  // namespace
}  // namespace regulars::messaging
