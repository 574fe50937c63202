// What these tests prove: CompiledTemplate renders plain-variable parts itself (without kainjow)
// and must give kainjow's bytes: every template here is rendered both by Render and by kainjow
// directly (with the JSON -> kainjow conversion Render uses), as subject and text (raw) and as
// HTML (escaped), over contexts with strings, numbers, booleans, nulls, objects, lists and gaps;
// the missing variables must be MissingVariables' answer. RenderBound must give what Render gives
// for the equivalent JSON context, for flat variants and for variants with sections.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "messaging/template.h"

namespace regulars::messaging {
namespace {

namespace mu = kainjow::mustache;

// template.cpp's conversion, restated for the test.
mu::data ToKainjow(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      mu::data d{mu::data::type::object};
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), ToKainjow(it.value()));
      return d;
    }
    case nlohmann::json::value_t::array: {
      mu::data d{mu::data::type::list};
      for (const auto& e : j) d.push_back(ToKainjow(e));
      return d;
    }
    case nlohmann::json::value_t::string:
      return mu::data{j.get_ref<const std::string&>()};
    case nlohmann::json::value_t::boolean:
      return mu::data{j.get<bool>()};
    case nlohmann::json::value_t::null:
      return mu::data{false};
    default:
      return mu::data{j.dump()};
  }
}

std::string Kainjow(const std::string& src, const nlohmann::json& ctx, bool escape) {
  mu::mustache m{src};
  EXPECT_TRUE(m.is_valid()) << src << ": " << m.error_message();
  if (!escape) m.set_custom_escape([](const std::string& s) { return s; });
  mu::data d = ToKainjow(ctx);
  return m.render(d);
}

const char* kTemplates[] = {
    "plain text, no tags",
    "",
    "{{a}}",
    "{{a}}{{b}}{{a}}",
    "Hi {{ member.name }}!\n{{member.points}} points\r\nbye",
    "{{{html}}} and {{&html}} and {{html}} and {{ & html }}",
    "<p>{{quote}}</p>\n  {{missing}}  \n{{member.flag}}|{{member.none}}|{{member.obj}}|",
    "{{list}}{{list.0}}{{member.name.deeper}}{{n.float}}{{n.neg}}{{n.big}}",
    "{{! a comment }}after the comment\n{{!\nmultiline\n}}\n  {{! standalone }}  \nend",
    "中文 {{會員}} 與 {{member.name}}：{{n.int}} 點\n",
    "a {{b c}} d",
    "{{unsubscribe_url}}\n\n\n{{a}}\t{{b}}\n",
    "trailing brace {{a}}} and {{{b}}}} end",
    // Not flat: kainjow renders these (sections, inverted, a partial, a delimiter change).
    "{{#member.flag}}yes {{name}}{{/member.flag}}{{^member.none}}none{{/member.none}}\n",
    "  {{#list}}\n  - {{.}}\n  {{/list}}\nafter",
    "{{>part}}x{{=<% %>=}}<% a %>",
};

nlohmann::json Context(int k) {
  nlohmann::json base = {
      {"a", "A&B"},
      {"b", "<b>"},
      {"html", "<i>it's \"quoted\"</i> & more"},
      {"quote", "'\"<>&"},
      {"member",
       {{"name", "Amy O'Neil"},
        {"points", 1234},
        {"flag", true},
        {"none", nullptr},
        {"obj", {{"x", 1}}}}},
      {"list", {"x", "y"}},
      {"n", {{"float", 1.5}, {"neg", -42}, {"big", 12345678901234LL}, {"int", 7}}},
      {"會員", "王小明"},
      {"b c", "spaced"},
      {"unsubscribe_url", "https://r.example/u/abc?x=1&y=2"},
      {"name", "outer"},
  };
  if (k == 1) return nlohmann::json::object();  // everything missing
  if (k == 2) {
    base["member"] = "not an object";
    base["a"] = false;
    base["b"] = nullptr;
  }
  return base;
}

TEST(TemplateRenderTest, RendersWhatKainjowRendersForEveryPart) {
  for (const char* src : kTemplates) {
    Template t;
    t.medium = Medium::kEmail;
    t.purpose = Purpose::kTransactional;
    t.variants["en"] = {std::string("s ") + src, std::string("t ") + src, std::string(src)};
    if (std::string_view(src).empty()) t.variants["en"].html = "";
    auto c = CompiledTemplate::Compile(t);
    ASSERT_TRUE(c.has_value()) << src << ": " << c.error().ToString();
    for (int k = 0; k < 3; ++k) {
      nlohmann::json ctx = Context(k);
      auto r = c->Render(ctx, "en", "en");
      ASSERT_TRUE(r.has_value()) << src;
      const Variant& v = t.variants["en"];
      EXPECT_EQ(r->subject, Kainjow(v.subject, ctx, false))
          << "subject of " << src << ", ctx " << k;
      EXPECT_EQ(r->text, Kainjow(v.text, ctx, false)) << "text of " << src << ", ctx " << k;
      EXPECT_EQ(r->html, v.html.empty() ? "" : Kainjow(v.html, ctx, true))
          << "html of " << src << ", ctx " << k;
      std::vector<std::string> missing;
      for (const std::string* part : {&v.subject, &v.text, &v.html})
        for (std::string& name : MissingVariables(*part, ctx))
          if (std::find(missing.begin(), missing.end(), name) == missing.end())
            missing.push_back(name);
      EXPECT_EQ(r->missing, missing) << "missing of " << src << ", ctx " << k;
    }
  }
}

TEST(TemplateRenderTest, ExactBytesOfAFlatTemplate) {
  Template t;
  t.medium = Medium::kEmail;
  t.purpose = Purpose::kMarketing;
  t.variants["zh-TW"] = {"{{member.name}}，{{n}} 點",
                         "親愛的 {{member.name}}\n退訂 {{unsubscribe_url}}",
                         "<b>{{member.name}}</b><a href=\"{{unsubscribe_url}}\">x</a>{{gone}}"};
  auto c = CompiledTemplate::Compile(t);
  ASSERT_TRUE(c.has_value());
  nlohmann::json ctx = {{"member", {{"name", "<王 & 李>"}}},
                        {"n", 12},
                        {"unsubscribe_url", "https://r.example/u/1?a=1&b=2"}};
  auto r = c->Render(ctx, "zh-CN", "en");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->language, "zh-TW");
  EXPECT_EQ(r->subject, "<王 & 李>，12 點");
  EXPECT_EQ(r->text, "親愛的 <王 & 李>\n退訂 https://r.example/u/1?a=1&b=2");
  EXPECT_EQ(r->html,
            "<b>&lt;王 &amp; 李&gt;</b><a href=\"https://r.example/u/1?a=1&amp;b=2\">x</a>");
  EXPECT_EQ(r->missing, std::vector<std::string>{"gone"});
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->headers[0].second, "<https://r.example/u/1?a=1&b=2>");
}

// RenderBound against Render with the JSON context it stands for: the values set into the
// shared context as strings (nullopt as null).
void ExpectBoundEqualsRender(const Template& t, const std::vector<std::string>& names,
                             const nlohmann::json& shared,
                             const std::vector<std::vector<std::optional<std::string>>>& rows,
                             int64_t sms_price) {
  auto bound = CompiledTemplate::Compile(t);
  auto plain = CompiledTemplate::Compile(t);
  ASSERT_TRUE(bound.has_value() && plain.has_value());
  ASSERT_TRUE(bound->Bind(names, shared).has_value());
  for (const auto& values : rows) {
    for (const char* lang : {"en", "zh-TW", "zh-CN", ""}) {
      nlohmann::json ctx = shared;
      for (size_t i = 0; i < names.size(); ++i) {
        std::string pointer = "/" + names[i];
        std::replace(pointer.begin(), pointer.end(), '.', '/');
        ctx[nlohmann::json::json_pointer(pointer)] =
            values[i] ? nlohmann::json(*values[i]) : nlohmann::json();
      }
      auto a = bound->RenderBound(values, lang, "zh-TW", sms_price);
      auto b = plain->Render(ctx, lang, "zh-TW", sms_price);
      ASSERT_TRUE(a.has_value() && b.has_value()) << lang;
      EXPECT_EQ(a->language, b->language);
      EXPECT_EQ(a->subject, b->subject) << lang;
      EXPECT_EQ(a->text, b->text) << lang;
      EXPECT_EQ(a->html, b->html) << lang;
      EXPECT_EQ(a->headers, b->headers) << lang;
      EXPECT_EQ(a->missing, b->missing) << lang;
      EXPECT_EQ(a->sms, b->sms) << lang;
    }
  }
}

TEST(TemplateRenderTest, RenderBoundRendersWhatRenderRendersForTheSameContext) {
  Template email;
  email.medium = Medium::kEmail;
  email.purpose = Purpose::kMarketing;
  email.variants["en"] = {"{{member.name}} at {{merchant.name}}",
                          "{{member.name}}: {{points}} {{merchant.missing}}\n{{unsubscribe_url}}",
                          "<p>{{member.name}} {{{member.name}}}</p>{{unsubscribe_url}}"};
  email.variants["zh-TW"] = {
      "{{#member.name}}{{member.name}}{{/member.name}}{{^member.name}}您好"
      "{{/member.name}}",
      "{{points}} 點 {{unsubscribe_url}}", ""};
  std::vector<std::vector<std::optional<std::string>>> rows = {
      {"Amy <3", "12", "https://x/u/1"},
      {std::nullopt, "0", "https://x/u/2"},
      {"", std::nullopt, std::nullopt},
  };
  nlohmann::json shared = {{"merchant", {{"name", "Bean & Leaf"}}}};
  ExpectBoundEqualsRender(email, {"member.name", "points", "unsubscribe_url"}, shared, rows, 0);

  Template sms;
  sms.medium = Medium::kSms;
  sms.purpose = Purpose::kMarketing;
  sms.variants["en"] = {"", "{{member.name}} you have {{points}} points at {{merchant.name}}", ""};
  sms.variants["zh-CN"] = {"", "{{member.name}}您好，积分{{points}}", ""};
  ExpectBoundEqualsRender(sms, {"member.name", "points", "unsubscribe_url"}, shared, rows, 5);
}

}  // namespace
}  // namespace regulars::messaging
