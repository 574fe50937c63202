#include "messaging/sender.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "messaging/messaging_repo.h"
#include "messaging/smtp_fake_server.h"
#include "store/testing.h"

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 8001;
constexpr Id kMember = 55;

class SenderTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec(
          "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
          "created_at, updated_at) VALUES (?, 'm', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
          {kMerchant}));
      RG_TRY(
          tx.Exec("INSERT INTO members (merchant_id, id, phone, email, referral_code, created_at, "
                  "updated_at) VALUES (?, ?, '+886912345678', 'amy@example.com', 'R1', 0, 0)",
                  {kMerchant, kMember}));
      ChannelRow log;
      log.merchant_id = kMerchant;
      log.id = 1;
      log.kind = ChannelKind::kLog;
      log.name = "log";
      RG_TRY(CreateChannel(tx, nullptr, log, nlohmann::json::object(), 0));
      ChannelRow failing = log;
      failing.id = 2;
      failing.name = "failing";
      failing.settings = {{"fail", "temporary"}};
      RG_TRY(CreateChannel(tx, nullptr, failing, nlohmann::json::object(), 0));
      return PutMessagingSettings(
          tx, kMerchant, {{"policy", {{"quiet_hours", {{"start", "21:00"}, {"end", "09:00"}}}}}},
          0);
    }));
  }

  Id Put(std::string key, Purpose purpose, Id channel = 1) {
    NewMessage m;
    m.dedup_key = std::move(key);
    m.member_id = kMember;
    m.channel_id = channel;
    m.medium = Medium::kEmail;
    m.purpose = purpose;
    m.recipient = "amy@example.com";
    m.subject = "s";
    m.text = "t {{unsubscribe_url}}";
    auto r =
        db().WriteValue([&](store::Tx& tx) { return Enqueue(tx, kMerchant, clock_.Now(), m); });
    EXPECT_TRUE(r.has_value());
    return r ? r->message.id : 0;
  }

  Message Get(Id id) {
    auto r = db().ReadValue([&](store::Tx& tx) { return GetMessage(tx, kMerchant, id); });
    return r && *r ? **r : Message{};
  }

  void Consent(bool granted) {
    ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec("DELETE FROM member_consents WHERE merchant_id = ? AND member_id = ?",
                     {kMerchant, kMember}));
      RG_TRY(tx.Exec(
          "INSERT INTO member_consents (merchant_id, member_id, channel, granted, changed_at, "
          "source) VALUES (?, ?, 'email', ?, 0, 'console')",
          {kMerchant, kMember, int64_t{granted ? 1 : 0}}));
      return {};
    }));
  }

  int Run(Sender& s) {
    auto n = s.RunOnce(0);
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  }

  SenderOptions Options() {
    SenderOptions o;
    o.workers = 1;
    o.name = "test";
    o.retry.base = 10 * kMicrosPerSecond;
    o.retry.jitter = 0;
    return o;
  }
};

TEST_P(SenderTest, SendsTransactionalAndAppliesThePolicyToMarketing) {
  // The clock starts at 2026-09-21T14:13:20Z, 22:13 in Taipei: quiet hours.
  Id tx = Put("tx", Purpose::kTransactional);
  Id no_consent = Put("mk1", Purpose::kMarketing);
  Sender s(db(), clock_, Options());
  EXPECT_EQ(Run(s), 2);
  Message sent = Get(tx);
  EXPECT_EQ(sent.status, MessageStatus::kSent);
  EXPECT_EQ(sent.provider_id, "log-" + std::to_string(tx));
  Message sup = Get(no_consent);
  EXPECT_EQ(sup.status, MessageStatus::kSuppressed);
  EXPECT_EQ(sup.last_error, "no_consent");

  Consent(true);
  Id quiet = Put("mk2", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  Message deferred = Get(quiet);
  EXPECT_EQ(deferred.status, MessageStatus::kDeferred);
  EXPECT_EQ(deferred.next_attempt_at, *ParseRfc3339("2026-09-22T01:00:00Z"));
  EXPECT_EQ(deferred.attempts, 0);
  EXPECT_EQ(Run(s), 0);
  clock_.Set(*ParseRfc3339("2026-09-22T01:00:00Z"));
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(quiet).status, MessageStatus::kSent);
  EXPECT_EQ(s.sent(), 2);

  // An unsubscribe found at send time suppresses marketing.
  ASSERT_TRUE(db().Write([&](store::Tx& t) -> Status {
    return AddSuppression(t, kMerchant, Medium::kEmail, "amy@example.com",
                          SuppressionReason::kUnsubscribed, kMember, 0);
  }));
  Id unsub = Put("mk3", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(unsub).status, MessageStatus::kSuppressed);
  EXPECT_EQ(Get(unsub).last_error, "unsubscribed");
}

TEST_P(SenderTest, ProviderErrorsRetryAndAMissingChannelFails) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  Id temp = Put("t", Purpose::kTransactional, 2);
  Id nochan = Put("n", Purpose::kTransactional, 99);
  Sender s(db(), clock_, Options());
  EXPECT_EQ(Run(s), 2);
  Message m = Get(temp);
  EXPECT_EQ(m.status, MessageStatus::kQueued);
  EXPECT_EQ(m.last_error, "log channel configured to fail");
  EXPECT_EQ(m.next_attempt_at, clock_.Now() + 10 * kMicrosPerSecond);
  Message f = Get(nochan);
  EXPECT_EQ(f.status, MessageStatus::kFailed);
  EXPECT_EQ(f.last_error, "channel not found or inactive");
  EXPECT_EQ(s.failed(), 1);
}

// The claim and every outcome (sent, retry, suppress) are committed relaxed by default (see
// sender.h), durably with relaxed_commits = false; the outcomes themselves are the same.
TEST_P(SenderTest, TheClaimAndTheOutcomesAreCommittedRelaxed) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));  // 11:00 in Taipei
  for (bool relaxed : {true, false}) {
    SCOPED_TRACE(relaxed ? "relaxed" : "durable");
    std::string k = relaxed ? "r" : "d";
    Id sent = Put(k + "sent", Purpose::kTransactional);
    Id retry = Put(k + "retry", Purpose::kTransactional, 2);
    Id suppressed = Put(k + "nc", Purpose::kMarketing);
    SenderOptions o = Options();
    o.relaxed_commits = relaxed;
    Sender s(db(), clock_, o);
    const store::WriteStats before = db().Stats();
    EXPECT_EQ(Run(s), 3);
    const store::WriteStats after = db().Stats();
    // One claim and three outcomes, each its own transaction.
    EXPECT_EQ(after.relaxed_commits - before.relaxed_commits, relaxed ? 4 : 0);
    EXPECT_EQ(after.durable_commits - before.durable_commits, relaxed ? 0 : 4);
    EXPECT_EQ(Get(sent).status, MessageStatus::kSent);
    EXPECT_EQ(Get(retry).status, MessageStatus::kQueued);
    EXPECT_EQ(Get(suppressed).status, MessageStatus::kSuppressed);
    EXPECT_EQ(Get(suppressed).last_error, "no_consent");
  }
}

TEST_P(SenderTest, WorkerThreadsDrainTheOutbox) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  for (int i = 0; i < 40; ++i) Put("k" + std::to_string(i), Purpose::kTransactional);
  SenderOptions o = Options();
  o.workers = 3;
  o.batch = 4;
  o.idle_wait = 10'000;
  Sender s(db(), clock_, o);
  s.Start();
  for (int i = 0; i < 400 && s.sent() < 40; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.Stop();
  EXPECT_EQ(s.sent(), 40);
  auto n = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(store::Rows r,
                        tx.Query("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"));
    return r[0].Int(0);
  });
  EXPECT_EQ(n.value_or(0), 40);
}

TEST_P(SenderTest, SettingsAreCachedUntilTheirTtlOrAnInvalidation) {
  // 22:13 in Taipei: inside the quiet hours of SetUp's settings.
  Consent(true);
  SenderOptions o = Options();
  o.settings_cache_ttl = 60 * kMicrosPerSecond;
  Sender s(db(), clock_, o);
  Id a = Put("c1", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(a).status, MessageStatus::kDeferred);
  auto put = [&](nlohmann::json settings) {
    ASSERT_TRUE(db().Write(
        [&](store::Tx& tx) { return PutMessagingSettings(tx, kMerchant, settings, 0); }));
  };
  put({{"policy", {{"quiet_hours", nullptr}}}});
  // Within the TTL the worker still applies the quiet hours it read.
  Id b = Put("c2", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(b).status, MessageStatus::kDeferred);
  // An invalidation makes the next round read them again.
  s.InvalidateCaches();
  Id c = Put("c3", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(c).status, MessageStatus::kSent);
  // So does the TTL running out.
  put({{"policy", {{"quiet_hours", {{"start", "21:00"}, {"end", "09:00"}}}}}});
  Id d = Put("c4", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(d).status, MessageStatus::kSent);
  clock_.Advance(61 * kMicrosPerSecond);
  Id e = Put("c5", Purpose::kMarketing);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(Get(e).status, MessageStatus::kDeferred);
  EXPECT_EQ(Get(e).last_error, "quiet_hours");
}

TEST_P(SenderTest, ACapCountsTheSendsEarlierInTheSameBatch) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));  // 11:00 in Taipei
  Consent(true);
  ASSERT_TRUE(db().Write([&](store::Tx& tx) {
    return PutMessagingSettings(
        tx, kMerchant,
        {{"policy",
          {{"caps", {{{"medium", "email"}, {"period", "day"}, {"max", 2}, {"action", "skip"}}}}}}},
        0);
  }));
  Id a = Put("p1", Purpose::kMarketing);
  Id b = Put("p2", Purpose::kMarketing);
  Id c = Put("p3", Purpose::kMarketing);
  Sender s(db(), clock_, Options());
  EXPECT_EQ(Run(s), 3);  // one batch: the facts were read before any of them was sent
  EXPECT_EQ(Get(a).status, MessageStatus::kSent);
  EXPECT_EQ(Get(b).status, MessageStatus::kSent);
  EXPECT_EQ(Get(c).status, MessageStatus::kSkipped);
  EXPECT_EQ(Get(c).last_error, "frequency_cap");
  EXPECT_EQ(s.sent(), 2);
}

TEST_P(SenderTest, AWorkerKeepsOneSmtpSessionAcrossBatches) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  testing::FakeSmtpServer server;
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    ChannelRow smtp;
    smtp.merchant_id = kMerchant;
    smtp.id = 3;
    smtp.kind = ChannelKind::kSmtp;
    smtp.name = "smtp";
    smtp.settings = {{"host", "127.0.0.1"},
                     {"port", server.port()},
                     {"security", "none"},
                     {"from", "Shop <shop@example.com>"}};
    RG_TRY(CreateChannel(tx, nullptr, smtp, nlohmann::json::object(), 0));
    return {};
  }));
  for (int i = 0; i < 10; ++i) Put("s" + std::to_string(i), Purpose::kTransactional, 3);
  SenderOptions o = Options();
  o.batch = 4;
  Sender s(db(), clock_, o);
  EXPECT_EQ(Run(s), 4);
  EXPECT_EQ(Run(s), 4);
  EXPECT_EQ(Run(s), 2);
  EXPECT_EQ(s.sent(), 10);
  EXPECT_EQ(server.messages(), 10);
  EXPECT_EQ(server.connections(), 1);
  // Invalidated, the channel is built again: a new session.
  s.InvalidateCaches();
  Put("s10", Purpose::kTransactional, 3);
  EXPECT_EQ(Run(s), 1);
  EXPECT_EQ(server.messages(), 11);
  EXPECT_EQ(server.connections(), 2);
}

// Accepts everything; at each call counts the messages it accepted earlier whose row is still
// `sending` (delivered, `sent` not committed yet).
class ProbeChannel final : public Channel {
 public:
  ProbeChannel(store::Database& db, Id merchant, std::vector<Id>& accepted, int& most)
      : db_(db), merchant_(merchant), accepted_(accepted), most_(most) {}
  ChannelKind kind() const override { return ChannelKind::kLog; }
  SendOutcome Send(const Envelope& e) override {
    int uncommitted = 0;
    for (Id id : accepted_) {
      auto m = db_.ReadValue([&](store::Tx& tx) { return GetMessage(tx, merchant_, id); });
      if (m && *m && (*m)->status == MessageStatus::kSending) ++uncommitted;
    }
    most_ = std::max(most_, uncommitted);
    accepted_.push_back(e.message_id);
    SendOutcome o;
    o.provider_id = "probe-" + std::to_string(e.message_id);
    return o;
  }

 private:
  store::Database& db_;
  Id merchant_;
  std::vector<Id>& accepted_;
  int& most_;
};

TEST_P(SenderTest, AtMostMaxUncommittedDeliveriesWaitForTheirCommit) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  int key = 0;
  for (int max_uncommitted : {0, 2}) {
    SCOPED_TRACE(max_uncommitted);
    for (int i = 0; i < 12; ++i) Put("u" + std::to_string(key++), Purpose::kTransactional);
    std::vector<Id> accepted;
    int most = -1;
    SenderOptions o = Options();
    o.max_uncommitted = max_uncommitted;
    o.make_channel = [&](const ChannelConfig&) -> Result<std::unique_ptr<Channel>> {
      return std::make_unique<ProbeChannel>(db(), kMerchant, accepted, most);
    };
    Sender s(db(), clock_, o);
    EXPECT_EQ(Run(s), 12);
    // RunOnce returns with every delivery committed.
    EXPECT_EQ(s.sent(), 12);
    ASSERT_EQ(accepted.size(), 12u);
    for (Id id : accepted) {
      EXPECT_EQ(Get(id).status, MessageStatus::kSent);
      EXPECT_EQ(Get(id).provider_id, "probe-" + std::to_string(id));
    }
    if (max_uncommitted == 0) {
      EXPECT_EQ(most, 0);  // each `sent` is committed before the next provider call
      EXPECT_EQ(s.sent_commits(), 12);
    } else {
      EXPECT_LE(most, max_uncommitted);
      EXPECT_GE(s.sent_commits(), 6);  // a commit carries at most max_uncommitted
      EXPECT_LE(s.sent_commits(), 12);
    }
  }
}

// A two-phase channel (Channel::BeginSend / FinishSend) that accepts everything except recipients
// listed in `refuse` (permanent at FinishSend) and, for messages listed in `one_call`, declines
// BeginSend. At each call it records how many messages it accepted earlier are still `sending`
// (delivered, `sent` not committed): "B<n>", "F<n>" or "S<n>" (a Send).
class TwoPhaseProbe final : public Channel {
 public:
  TwoPhaseProbe(store::Database& db, Id merchant, std::vector<std::string>& log,
                std::vector<Id>& accepted, std::vector<Id> one_call, std::vector<Id> refuse)
      : db_(db),
        merchant_(merchant),
        log_(log),
        accepted_(accepted),
        one_call_(std::move(one_call)),
        refuse_(std::move(refuse)) {}
  ChannelKind kind() const override { return ChannelKind::kLog; }
  bool BeginSend(const Envelope& e) override {
    if (std::ranges::find(one_call_, e.message_id) != one_call_.end()) return false;
    log_.push_back("B" + std::to_string(Uncommitted()));
    return true;
  }
  SendOutcome FinishSend(const Envelope& e) override {
    log_.push_back("F" + std::to_string(Uncommitted()));
    return Accept(e);
  }
  SendOutcome Send(const Envelope& e) override {
    log_.push_back("S" + std::to_string(Uncommitted()));
    return Accept(e);
  }

 private:
  int Uncommitted() {
    int n = 0;
    for (Id id : accepted_) {
      auto m = db_.ReadValue([&](store::Tx& tx) { return GetMessage(tx, merchant_, id); });
      if (m && *m && (*m)->status == MessageStatus::kSending) ++n;
    }
    return n;
  }
  SendOutcome Accept(const Envelope& e) {
    SendOutcome o;
    if (std::ranges::find(refuse_, e.message_id) != refuse_.end()) {
      o.kind = SendOutcome::Kind::kPermanent;
      o.error = "smtp: RCPT TO: 550 no such user (reply 550)";
      return o;
    }
    accepted_.push_back(e.message_id);
    o.provider_id = "two-" + std::to_string(e.message_id);
    return o;
  }
  store::Database& db_;
  Id merchant_;
  std::vector<std::string>& log_;
  std::vector<Id>& accepted_;
  std::vector<Id> one_call_, refuse_;
};

// With max_uncommitted = 0 the previous delivery's `sent` commits between the next envelope
// (BeginSend: it is still uncommitted) and the next body (FinishSend: committed), so at most one
// accepted message per worker is ever without its `sent`. A channel declining BeginSend gets the
// held `sent` committed before its Send; a refusal at FinishSend does not lose the held `sent`.
TEST_P(SenderTest, TwoPhaseChannelsOverlapTheEnvelopeWithThePreviousCommit) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  std::vector<Id> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Put("t" + std::to_string(i), Purpose::kTransactional));
  std::vector<std::string> log;
  std::vector<Id> accepted;
  SenderOptions o = Options();
  o.make_channel = [&](const ChannelConfig&) -> Result<std::unique_ptr<Channel>> {
    return std::make_unique<TwoPhaseProbe>(db(), kMerchant, log, accepted, std::vector<Id>{ids[3]},
                                           std::vector<Id>{ids[4]});
  };
  Sender s(db(), clock_, o);
  EXPECT_EQ(Run(s), 6);
  EXPECT_EQ(log, (std::vector<std::string>{"B0", "F0", "B1", "F0", "B1", "F0", "S0", "B0", "F0",
                                           "B0", "F0"}));
  // RunOnce returns with every delivery committed: 5 `sent`, one commit each; the refusal failed.
  EXPECT_EQ(s.sent(), 5);
  EXPECT_EQ(s.sent_commits(), 5);
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(i);
    if (i == 4) {
      EXPECT_EQ(Get(ids[i]).status, MessageStatus::kFailed);
      continue;
    }
    EXPECT_EQ(Get(ids[i]).status, MessageStatus::kSent);
    EXPECT_EQ(Get(ids[i]).provider_id, "two-" + std::to_string(ids[i]));
  }
}

// Through a pipelining SMTP server: each message's envelope goes out before the previous `sent`
// is committed, one session carries them all, and a recipient refused in the envelope fails
// that message alone.
TEST_P(SenderTest, TheSmtpChannelSendsInTwoPhases) {
  clock_.Set(*ParseRfc3339("2026-09-22T03:00:00Z"));
  testing::FakeSmtpServer server;
  server.pipelining(true);
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    ChannelRow smtp;
    smtp.merchant_id = kMerchant;
    smtp.id = 3;
    smtp.kind = ChannelKind::kSmtp;
    smtp.name = "smtp";
    smtp.settings = {{"host", "127.0.0.1"},
                     {"port", server.port()},
                     {"security", "none"},
                     {"from", "Shop <shop@example.com>"}};
    RG_TRY(CreateChannel(tx, nullptr, smtp, nlohmann::json::object(), 0));
    return {};
  }));
  std::vector<Id> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(Put("p" + std::to_string(i), Purpose::kTransactional, 3));
  NewMessage bad;
  bad.dedup_key = "p-reject";
  bad.channel_id = 3;
  bad.medium = Medium::kEmail;
  bad.purpose = Purpose::kTransactional;
  bad.recipient = "reject5@example.com";
  bad.subject = "s";
  bad.text = "t";
  auto r =
      db().WriteValue([&](store::Tx& tx) { return Enqueue(tx, kMerchant, clock_.Now(), bad); });
  ASSERT_TRUE(r.has_value());
  Sender s(db(), clock_, Options());
  EXPECT_EQ(Run(s), 5);
  EXPECT_EQ(s.sent(), 4);
  EXPECT_EQ(s.sent_commits(), 4);
  for (Id id : ids) EXPECT_EQ(Get(id).status, MessageStatus::kSent);
  Message refused = Get(r->message.id);
  EXPECT_EQ(refused.status, MessageStatus::kFailed);
  EXPECT_EQ(refused.last_error, "smtp: RCPT TO: 550 5.1.1 no such user (reply 550)");
  EXPECT_EQ(server.messages(), 4);
  EXPECT_EQ(server.connections(), 1);
}

RG_INSTANTIATE_BACKENDS(SenderTest);

}  // namespace
}  // namespace regulars::messaging
