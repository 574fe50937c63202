// What these tests prove: EnqueueBatch / EnqueueMany write the same outbox rows as Enqueue
// called once per message with what CompiledTemplate::Render produces from a JSON context (two
// databases, one filled each way, compared column by column; only the ids NewId hands out
// differ), and neither writes an event (the row is the queued step of the member timeline,
// messaging/member_timeline.h; any event would be compared too, with message ids replaced by
// dedup keys); dedup keys hold across runs and within a batch; bad input names the member and
// field and writes nothing; messages lent to EnqueueRendered are unchanged after it, also after
// a failed statement; the headers column's short form (EncodeHeaders / DecodeHeaders) round
// trips and old rows still read. On SQLite and PostgreSQL.

#include "messaging/outbox_bulk.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "store/testing.h"

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 7101;
constexpr Id kChannel = 55;

Status AddMerchant(store::Database& db) {
  return db.Write([&](store::Tx& tx) -> Status {
    RG_TRY(
        tx.Exec("INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
                "created_at, updated_at) VALUES (?, 'Bean & Leaf', 'TW', 'TWD', 'Asia/Taipei', "
                "'zh-TW', 0, 0)",
                {kMerchant}));
    return {};
  });
}

Template MarketingEmail() {
  Template t;
  t.name = "points";
  t.medium = Medium::kEmail;
  t.purpose = Purpose::kMarketing;
  t.variants["zh-TW"] = {
      "{{member.name}}，您有 {{balances.points}} 點",
      "親愛的 {{member.name}}：\n您有 {{balances.points}} 點。{{merchant.name}}\n"
      "退訂：{{unsubscribe_url}}\n",
      "<p>親愛的 <b>{{member.name}}</b></p><p>{{merchant.name}}</p>"
      "<a href=\"{{unsubscribe_url}}\">退訂</a>{{{member.note}}}"};
  t.variants["en"] = {"{{member.name}}, {{balances.points}} points",
                      "Dear {{ member.name }},\n{{! a comment }}{{balances.points}} points at "
                      "{{merchant.name}}.\nUnsubscribe: {{unsubscribe_url}}\n",
                      "<p>Dear {{&member.name}} {{member.nickname}}</p><a "
                      "href=\"{{unsubscribe_url}}\">x</a>"};
  return t;
}

// An SMS with a section, so the kainjow path renders it; with a template id.
Template MarketingSmsWithSection() {
  Template t;
  t.id = 4242;
  t.name = "sms";
  t.medium = Medium::kSms;
  t.purpose = Purpose::kMarketing;
  t.variants["en"] = {
      "", "{{#member.name}}Hi {{member.name}}! {{/member.name}}{{balances.points}} pts", ""};
  t.variants["zh-CN"] = {"", "{{member.name}}您好，积分 {{balances.points}}", ""};
  return t;
}

const std::vector<std::string> kVariables = {"member.name", "member.note", "balances.points",
                                             "unsubscribe_url"};

// Members with every kind of value: a null name, markup to escape, a dedup key that needs JSON
// escaping, each language, a repeated dedup key.
std::vector<BulkMember> Members(int n) {
  std::vector<BulkMember> out;
  for (int i = 0; i < n; ++i) {
    BulkMember b;
    b.member_id = 500'000 + i;
    b.dedup_key = i == 7 ? "campaign:1:\"quoted\"/會員" : fmt::format("campaign:1:{}", i);
    if (i == 9) b.dedup_key = "campaign:1:3";  // repeats member 3's key
    b.recipient = fmt::format("m{}@example.com", i);
    b.language = i % 4 == 0 ? "en" : i % 4 == 1 ? "zh-TW" : i % 4 == 2 ? "zh-CN" : "";
    std::optional<std::string> name = fmt::format("會員{}", i);
    if (i % 11 == 5) name.reset();
    if (i == 13) name = "<Tom & \"Jerry\">";
    b.values = {name, i % 2 ? std::optional<std::string>("<i>vip</i>") : std::nullopt,
                std::to_string(i * 37 % 5000), fmt::format("https://r.example/u/{:x}", i)};
    out.push_back(std::move(b));
  }
  return out;
}

const nlohmann::json kShared = {{"merchant", {{"name", "Bean & Leaf"}, {"language", "zh-TW"}}}};

// The single path: a JSON context per member (points as a number, as BuildContext gives them),
// Render, Enqueue.
Status EnqueueOneByOne(store::Database& db, const Template& t, const std::vector<BulkMember>& ms,
                       Micros now) {
  auto compiled = CompiledTemplate::Compile(t);
  if (!compiled) return std::unexpected(compiled.error());
  return db.Write([&](store::Tx& tx) -> Status {
    for (const BulkMember& b : ms) {
      nlohmann::json ctx = kShared;
      ctx["member"]["name"] = b.values[0] ? nlohmann::json(*b.values[0]) : nlohmann::json();
      ctx["member"]["note"] = b.values[1] ? nlohmann::json(*b.values[1]) : nlohmann::json();
      ctx["balances"]["points"] = std::stoll(*b.values[2]);
      ctx["unsubscribe_url"] = *b.values[3];
      RG_ASSIGN_OR_RETURN(Rendered r, compiled->Render(ctx, b.language, "zh-TW", 3));
      NewMessage m;
      m.dedup_key = b.dedup_key;
      m.member_id = b.member_id;
      m.channel_id = kChannel;
      m.medium = t.medium;
      m.purpose = t.purpose;
      if (t.id) m.template_id = t.id;
      m.recipient = b.recipient;
      m.subject = r.subject;
      m.text = r.text;
      m.html = r.html;
      m.headers = r.headers;
      if (r.sms) m.cost_minor = r.sms->cost_minor;
      m.max_attempts = 5;
      RG_TRY(Enqueue(tx, kMerchant, now, m, "campaign:1"));
    }
    return {};
  });
}

BulkRequest Request(CompiledTemplate* c) {
  BulkRequest req;
  req.tmpl = c;
  req.channel_id = kChannel;
  req.merchant_language = "zh-TW";
  req.variables = kVariables;
  req.shared = kShared;
  req.sms_price_minor = 3;
  req.max_attempts = 5;
  req.actor = "campaign:1";
  return req;
}

Result<BulkEnqueued> EnqueueInBulk(store::Database& db, CompiledTemplate& c,
                                   const std::vector<BulkMember>& ms, Micros now) {
  return db.WriteValue(
      [&](store::Tx& tx) { return EnqueueBatch(tx, kMerchant, now, Request(&c), ms); });
}

// Every outbox row (without its id) and every event (message ids replaced by dedup keys), as
// text, in a stable order.
struct Dump {
  std::vector<std::string> outbox;
  std::vector<std::string> events;
  int64_t last_event_seq = 0;
};

Dump Read(store::Database& db) {
  Dump d;
  auto s = db.Read([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(
        store::Rows rows,
        tx.Query("SELECT id, dedup_key, member_id, channel_id, medium, purpose, template_id, "
                 "recipient, subject, body_text, body_html, headers, status, attempts, "
                 "max_attempts, next_attempt_at, lease_owner, lease_until, provider_id, "
                 "last_error, cost_minor, created_at, updated_at, sent_at, delivered_at "
                 "FROM outbox WHERE merchant_id = ? ORDER BY dedup_key",
                 {kMerchant}));
    std::map<std::string, std::string> key_of_id;
    for (const auto& r : rows) {
      key_of_id[r.Str(0)] = r.Str(1);
      std::string line;
      for (size_t c = 1; c < r.size(); ++c)
        line += (r.IsNull(c) ? std::string("NULL") : r.Str(c)) + " | ";
      d.outbox.push_back(line);
    }
    RG_ASSIGN_OR_RETURN(store::Rows evs,
                        tx.Query("SELECT seq, type, member_id, occurred_at, actor, data FROM "
                                 "events WHERE merchant_id = ? ORDER BY seq",
                                 {kMerchant}));
    for (const auto& r : evs) {
      nlohmann::json data = nlohmann::json::parse(r.Str(5));
      EXPECT_TRUE(key_of_id.contains(data.value("message_id", ""))) << r.Str(5);
      data["message_id"] = "id of " + key_of_id[data.value("message_id", "")];
      d.events.push_back(fmt::format("{} {} {} {} {} {}", r.Str(0), r.Str(1), r.Str(2), r.Str(3),
                                     r.Str(4), data.dump()));
    }
    RG_ASSIGN_OR_RETURN(store::Rows m, tx.Query("SELECT last_event_seq FROM merchants WHERE "
                                                "merchant_id = ?",
                                                {kMerchant}));
    d.last_event_seq = m[0].Int(0);
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return d;
}

class OutboxBulkTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(AddMerchant(db()));
    auto other = store::OpenTestDatabase(GetParam());
    ASSERT_TRUE(other.has_value()) << other.error().ToString();
    single_ = std::move(*other);
    ASSERT_TRUE(AddMerchant(*single_));
  }

  void ExpectSameBothWays(const Template& t, int n) {
    std::vector<BulkMember> ms = Members(n);
    Micros now = clock_.Now();
    auto one = EnqueueOneByOne(*single_, t, ms, now);
    ASSERT_TRUE(one.has_value()) << one.error().ToString();
    auto c = CompiledTemplate::Compile(t);
    ASSERT_TRUE(c.has_value()) << c.error().ToString();
    auto bulk = EnqueueInBulk(db(), *c, ms, now);
    ASSERT_TRUE(bulk.has_value()) << bulk.error().ToString();
    EXPECT_EQ(bulk->created, n - 1);  // member 9 repeats member 3's dedup key
    EXPECT_EQ(bulk->existing, 1);
    EXPECT_EQ(bulk->ids.size(), static_cast<size_t>(n - 1));

    Dump a = Read(*single_), b = Read(db());
    ASSERT_EQ(a.outbox.size(), static_cast<size_t>(n - 1));
    ASSERT_EQ(b.outbox.size(), a.outbox.size());
    for (size_t i = 0; i < a.outbox.size(); ++i) EXPECT_EQ(b.outbox[i], a.outbox[i]) << "row " << i;
    ASSERT_EQ(b.events.size(), a.events.size());
    for (size_t i = 0; i < a.events.size(); ++i)
      EXPECT_EQ(b.events[i], a.events[i]) << "event " << i;
    EXPECT_EQ(a.events.size(), 0u);  // no message_queued events either way
    EXPECT_EQ(b.last_event_seq, a.last_event_seq);
    EXPECT_EQ(b.last_event_seq, 0);
  }

  std::unique_ptr<store::Database> single_;
};

TEST_P(OutboxBulkTest, WritesTheRowsOfEnqueueingOneByOneAndNoEvents) {
  // 600 messages: more than two multi-row INSERTs' worth.
  ExpectSameBothWays(MarketingEmail(), 600);
}

TEST_P(OutboxBulkTest, WritesTheRowsOfOneByOneForAnSmsTemplateWithSections) {
  ExpectSameBothWays(MarketingSmsWithSection(), 40);
}

TEST_P(OutboxBulkTest, ASecondRunEnqueuesNothing) {
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  std::vector<BulkMember> ms = Members(300);
  auto first = EnqueueInBulk(db(), *c, ms, clock_.Now());
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->created, 299);
  Dump before = Read(db());
  clock_.Advance(kMicrosPerSecond);
  auto second = EnqueueInBulk(db(), *c, ms, clock_.Now());
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->created, 0);
  EXPECT_EQ(second->existing, 300);
  EXPECT_TRUE(second->ids.empty());
  Dump after = Read(db());
  EXPECT_EQ(after.outbox, before.outbox);
  EXPECT_EQ(after.events, before.events);
  EXPECT_EQ(after.events.size(), 0u);
  EXPECT_EQ(after.last_event_seq, 0);
}

TEST_P(OutboxBulkTest, AKeyEnqueuedBeforeKeepsItsFirstMessage) {
  NewMessage m;
  m.dedup_key = "campaign:1:4";
  m.member_id = 500'004;
  m.channel_id = kChannel;
  m.recipient = "first@example.com";
  m.text = "the first one";
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(Enqueue(tx, kMerchant, clock_.Now(), m));
    return {};
  }));
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  auto r = EnqueueInBulk(db(), *c, Members(10), clock_.Now());
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->created, 8);  // 4 existed, 9 repeats 3
  EXPECT_EQ(r->existing, 2);
  auto got = db().ReadValue(
      [&](store::Tx& tx) { return GetMessageByDedupKey(tx, kMerchant, "campaign:1:4"); });
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->recipient, "first@example.com");
  EXPECT_EQ((*got)->text, "the first one");
  EXPECT_EQ(Read(db()).last_event_seq, 0);  // neither path appends an event
}

TEST_P(OutboxBulkTest, ABadMemberNamesItsIndexAndFieldAndNothingIsWritten) {
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  std::vector<BulkMember> ms = Members(5);
  ms[2].recipient.clear();
  auto r = EnqueueInBulk(db(), *c, ms, clock_.Now());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().field, "members[2].recipient");
  EXPECT_EQ(r.error().message, "members[2].recipient: required");

  ms = Members(5);
  ms[3].values.pop_back();
  r = EnqueueInBulk(db(), *c, ms, clock_.Now());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().field, "members[3].values");
  EXPECT_EQ(r.error().message, "members[3].values: 3 given for 4 bound variables");

  ms = Members(5);
  ms[1].dedup_key = std::string(201, 'k');
  r = EnqueueInBulk(db(), *c, ms, clock_.Now());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "members[1].dedup_key");
  EXPECT_EQ(r.error().message, "members[1].dedup_key: at most 200 bytes");
  EXPECT_TRUE(Read(db()).outbox.empty());
  EXPECT_EQ(Read(db()).last_event_seq, 0);
}

TEST_P(OutboxBulkTest, EnqueueManyNamesTheMessage) {
  std::vector<NewMessage> ms(3);
  for (size_t i = 0; i < ms.size(); ++i) {
    ms[i].dedup_key = fmt::format("k{}", i);
    ms[i].recipient = "a@example.com";
    ms[i].channel_id = kChannel;
  }
  ms[1].max_attempts = 51;
  auto r =
      db().WriteValue([&](store::Tx& tx) { return EnqueueMany(tx, kMerchant, clock_.Now(), ms); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().field, "messages[1].max_attempts");
  EXPECT_EQ(r.error().message, "messages[1].max_attempts: must be from 1 to 50");
}

void ExpectSameTexts(const std::vector<NewMessage>& got, const std::vector<NewMessage>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].dedup_key, want[i].dedup_key) << i;
    EXPECT_EQ(got[i].recipient, want[i].recipient) << i;
    EXPECT_EQ(got[i].subject, want[i].subject) << i;
    EXPECT_EQ(got[i].text, want[i].text) << i;
    EXPECT_EQ(got[i].html, want[i].html) << i;
    EXPECT_EQ(got[i].headers, want[i].headers) << i;
  }
}

TEST_P(OutboxBulkTest, LentMessagesAreUnchangedAfterTheCallAndAfterAFailedOne) {
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  std::vector<BulkMember> ms = Members(300);
  BulkRequest req = Request(&*c);
  auto rendered = RenderBatch(req, ms);
  ASSERT_TRUE(rendered.has_value()) << rendered.error().ToString();
  ASSERT_FALSE((*rendered)[0].text.empty());
  std::vector<NewMessage> lent = *rendered;
  Micros now = clock_.Now();
  // No such merchant: the first INSERT fails on its foreign key, after taking the texts.
  auto bad = db().WriteValue(
      [&](store::Tx& tx) { return EnqueueRendered(tx, kMerchant + 1, now, req, lent); });
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kFailedPrecondition);
  ExpectSameTexts(lent, *rendered);

  auto good = db().WriteValue(
      [&](store::Tx& tx) { return EnqueueRendered(tx, kMerchant, now, req, lent); });
  ASSERT_TRUE(good.has_value()) << good.error().ToString();
  EXPECT_EQ(good->created, 299);  // member 9 repeats member 3's key (a statement that looks up)
  ExpectSameTexts(lent, *rendered);
  // The rows are those of EnqueueBatch.
  auto copied = EnqueueInBulk(*single_, *c, ms, now);
  ASSERT_TRUE(copied.has_value()) << copied.error().ToString();
  Dump a = Read(*single_), b = Read(db());
  ASSERT_EQ(b.outbox.size(), 299u);
  EXPECT_EQ(b.outbox, a.outbox);
  EXPECT_EQ(b.events, a.events);
}

TEST_P(OutboxBulkTest, StoresTheUnsubscribeHeadersShortAndReadsThemBack) {
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  auto r = EnqueueInBulk(db(), *c, Members(3), clock_.Now());
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  auto stored = db().ReadValue([&](store::Tx& tx) {
    return tx.Query("SELECT headers FROM outbox WHERE merchant_id = ? AND dedup_key = ?",
                    {kMerchant, std::string("campaign:1:2")});
  });
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].Str(0), R"({"unsubscribe":"https://r.example/u/2"})");
  auto got = db().ReadValue(
      [&](store::Tx& tx) { return GetMessageByDedupKey(tx, kMerchant, "campaign:1:2"); });
  ASSERT_TRUE(got.has_value() && got->has_value());
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ((*got)->headers, (Headers{{"List-Unsubscribe", "<https://r.example/u/2>"},
                                      {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}));
  EXPECT_EQ((*got)->ToEnvelope().headers, (*got)->headers);
}

RG_INSTANTIATE_BACKENDS(OutboxBulkTest);

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(OutboxHeadersTest, TheOneClickUnsubscribePairIsStoredAsItsUrl) {
  Headers h = {{"List-Unsubscribe", "<https://r.example/u/ab?x=1&y=2>"},
               {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
  EXPECT_EQ(EncodeHeaders(h), R"({"unsubscribe":"https://r.example/u/ab?x=1&y=2"})");
  EXPECT_EQ(DecodeHeaders(EncodeHeaders(h)), h);
  // A URL that needs JSON escaping, and UTF-8.
  h[0].second = "<https://r.example/u/\"會員\"\\x>";
  EXPECT_EQ(EncodeHeaders(h), R"({"unsubscribe":"https://r.example/u/\"會員\"\\x"})");
  EXPECT_EQ(DecodeHeaders(EncodeHeaders(h)), h);
}

TEST(OutboxHeadersTest, AnyOtherListIsStoredAsPairs) {
  const Headers cases[] = {
      {},
      {{"List-Unsubscribe", "<https://x/u/1>"}},
      {{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
       {"List-Unsubscribe", "<https://x/u/1>"}},
      {{"List-Unsubscribe", "https://x/u/1"},
       {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}},
      {{"List-Unsubscribe", "<https://x/u/1>"}, {"List-Unsubscribe-Post", "other"}},
      {{"List-Unsubscribe", "<https://x/u/1>"},
       {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
       {"X-Campaign", "7"}},
  };
  EXPECT_EQ(EncodeHeaders(cases[0]), "[]");
  EXPECT_EQ(EncodeHeaders(cases[1]), R"([["List-Unsubscribe","<https://x/u/1>"]])");
  EXPECT_EQ(EncodeHeaders(cases[3]), R"([["List-Unsubscribe","https://x/u/1"],)"
                                     R"(["List-Unsubscribe-Post","List-Unsubscribe=One-Click"]])");
  for (const Headers& h : cases) {
    EXPECT_EQ(EncodeHeaders(h).front(), '[') << EncodeHeaders(h);
    EXPECT_EQ(DecodeHeaders(EncodeHeaders(h)), h) << EncodeHeaders(h);
  }
}

TEST(OutboxHeadersTest, RowsInTheOldFormAndBadValuesDecode) {
  EXPECT_EQ(DecodeHeaders(R"([["List-Unsubscribe","<u>"],)"
                          R"(["List-Unsubscribe-Post","List-Unsubscribe=One-Click"]])"),
            (Headers{{"List-Unsubscribe", "<u>"},
                     {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}));
  EXPECT_EQ(DecodeHeaders(R"({"unsubscribe":"u"})"),
            (Headers{{"List-Unsubscribe", "<u>"},
                     {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}));
  EXPECT_EQ(DecodeHeaders(R"({"unsubscribe":5})"), Headers{});
  EXPECT_EQ(DecodeHeaders(R"({"unsubscribe":"u","x":"y"})"), Headers{});
  EXPECT_EQ(DecodeHeaders("not json"), Headers{});
  EXPECT_EQ(DecodeHeaders(""), Headers{});
}

TEST(OutboxBulkBindTest, BindRefusesNamesThatCannotBeSetApart) {
  auto c = CompiledTemplate::Compile(MarketingEmail());
  ASSERT_TRUE(c.has_value());
  struct Case {
    std::vector<std::string> names;
    std::string field, message;
  } cases[] = {
      {{"member", "member.name"}, "variables[1]", "variables[1]: member.name is inside member"},
      {{"member.name", "member"}, "variables[1]", "variables[1]: member.name is inside member"},
      {{"a", "a"}, "variables[1]", "variables[1]: repeats variables[0]"},
      {{"a", ""},
       "variables[1]",
       "variables[1]: must be a dotted variable name such as member.name"},
      {{"a..b"},
       "variables[0]",
       "variables[0]: must be a dotted variable name such as member.name"},
  };
  for (const Case& k : cases) {
    auto s = c->Bind(k.names, nlohmann::json::object());
    ASSERT_FALSE(s.has_value()) << k.message;
    EXPECT_EQ(s.error().code, Code::kInvalidArgument) << k.message;
    EXPECT_EQ(s.error().field, k.field) << k.message;
    EXPECT_EQ(s.error().message, k.message);
  }
  std::vector<std::optional<std::string>> none;
  auto r = c->RenderBound(none, "en", "en");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(r.error().field, "variables");
  EXPECT_TRUE(c->Bind({"member.name"}, {{"unsubscribe_url", "https://x/u"}}).has_value());
  r = c->RenderBound(none, "en", "en");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "values");
  EXPECT_EQ(r.error().message, "values: 0 given for 1 bound variables");
}

}  // namespace
}  // namespace regulars::messaging
