#include "messaging/outbox.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "events/event_repo.h"
#include "store/testing.h"

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 7001;
constexpr Id kMember = 9001;
constexpr Id kChannel = 42;
constexpr Micros kSec = kMicrosPerSecond;

class OutboxTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec(
          "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
          "created_at, updated_at) VALUES (?, 'm', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
          {kMerchant}));
      return {};
    }));
  }

  NewMessage Msg(std::string key) {
    NewMessage m;
    m.dedup_key = std::move(key);
    m.member_id = kMember;
    m.channel_id = kChannel;
    m.medium = Medium::kEmail;
    m.purpose = Purpose::kTransactional;
    m.recipient = "amy@example.com";
    m.subject = "Your receipt";
    m.text = "Thanks";
    m.headers = {{"List-Unsubscribe", "<https://x/u/1>"}};
    m.max_attempts = 3;
    return m;
  }

  Enqueued Put(const NewMessage& n) {
    auto r = db().WriteValue(
        [&](store::Tx& tx) { return Enqueue(tx, kMerchant, clock_.Now(), n, "staff:1"); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(Enqueued{});
  }

  Message Get(Id id) {
    auto r = db().ReadValue([&](store::Tx& tx) { return GetMessage(tx, kMerchant, id); });
    EXPECT_TRUE(r.has_value() && r->has_value());
    return r && *r ? **r : Message{};
  }

  std::vector<std::string> EventTypes() {
    auto r = db().ReadValue(
        [&](store::Tx& tx) { return events::MemberEvents(tx, kMerchant, kMember, 0, 100); });
    std::vector<std::string> out;
    if (!r) return out;
    for (auto it = r->rbegin(); it != r->rend(); ++it) out.push_back(it->type);
    return out;
  }

  std::vector<Message> ClaimNow(int n, const std::string& worker, Micros lease = 60 * kSec) {
    auto r = Claim(db(), n, worker, lease, clock_.Now());
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(std::vector<Message>{});
  }
};

TEST_P(OutboxTest, EnqueueStoresTheMessageAndASecondEnqueueWithTheKeyReturnsTheFirst) {
  Enqueued a = Put(Msg("receipt:o1"));
  ASSERT_TRUE(a.created);
  EXPECT_EQ(a.message.status, MessageStatus::kQueued);
  NewMessage other = Msg("receipt:o1");
  other.text = "different";
  Enqueued b = Put(other);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.message.id, a.message.id);
  EXPECT_EQ(b.message.text, "Thanks");
  Message m = Get(a.message.id);
  EXPECT_EQ(m.dedup_key, "receipt:o1");
  EXPECT_EQ(m.recipient, "amy@example.com");
  EXPECT_EQ(
      m.headers,
      (std::vector<std::pair<std::string, std::string>>{{"List-Unsubscribe", "<https://x/u/1>"}}));
  EXPECT_EQ(m.next_attempt_at, clock_.Now());
  // The row is the queued step: no event (outbox.h).
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{}));
  // The key is per merchant: another merchant may use it.
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
        "created_at, updated_at) VALUES (7002, 'n', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)"));
    return {};
  }));
  auto c = db().WriteValue(
      [&](store::Tx& tx) { return Enqueue(tx, 7002, clock_.Now(), Msg("receipt:o1")); });
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->created);
  EXPECT_NE(c->message.id, a.message.id);
}

TEST_P(OutboxTest, EnqueueNamesTheBadField) {
  struct Case {
    std::function<void(NewMessage&)> edit;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {[](NewMessage& m) { m.dedup_key.clear(); }, "dedup_key: required"},
           {[](NewMessage& m) { m.dedup_key = std::string(201, 'k'); },
            "dedup_key: at most 200 bytes"},
           {[](NewMessage& m) { m.recipient.clear(); }, "recipient: required"},
           {[](NewMessage& m) { m.channel_id = 0; }, "channel_id: required"},
           {[](NewMessage& m) { m.max_attempts = 0; }, "max_attempts: must be from 1 to 50"},
       }) {
    NewMessage n = Msg("k");
    c.edit(n);
    auto r = db().WriteValue([&](store::Tx& tx) { return Enqueue(tx, kMerchant, 0, n); });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST_P(OutboxTest, ClaimLeasesDueMessagesOnceAndAnExpiredLeaseIsClaimedAgain) {
  Enqueued a = Put(Msg("a"));
  clock_.Advance(kSec);
  Enqueued b = Put(Msg("b"));
  NewMessage later = Msg("later");
  later.not_before = clock_.Now() + 3600 * kSec;
  Put(later);

  std::vector<Message> got = ClaimNow(10, "w1", 30 * kSec);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, a.message.id);
  EXPECT_EQ(got[1].id, b.message.id);
  EXPECT_EQ(got[0].status, MessageStatus::kSending);
  EXPECT_EQ(got[0].attempts, 1);
  EXPECT_EQ(got[0].lease_owner, "w1");
  EXPECT_EQ(got[0].lease_until, clock_.Now() + 30 * kSec);
  EXPECT_TRUE(ClaimNow(10, "w2").empty());

  // w1 dies. Once the lease has run out, w2 takes both again (attempt 2).
  clock_.Advance(29 * kSec);
  EXPECT_TRUE(ClaimNow(10, "w2").empty());
  clock_.Advance(1 * kSec);
  std::vector<Message> again = ClaimNow(1, "w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, a.message.id);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].lease_owner, "w2");

  // The old owner can no longer finish it.
  auto lost = Complete(db(), got[0], "w1", "p-1", clock_.Now());
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(lost.error().message,
            fmt::format("lease lost: message {} is sending (lease owner w2)", a.message.id));
  ASSERT_TRUE(Complete(db(), again[0], "w2", "p-1", clock_.Now()).has_value());
  Message m = Get(a.message.id);
  EXPECT_EQ(m.status, MessageStatus::kSent);
  EXPECT_EQ(m.provider_id, "p-1");
  EXPECT_EQ(m.sent_at, clock_.Now());
  EXPECT_EQ(m.lease_owner, std::nullopt);
  // `sent` appends no event: the row is the timeline's sent step.
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{}));
}

// A claim takes the earliest next_attempt_at first across queued, deferred and expired-lease
// rows (one index walk per status), and never more than it asked for.
TEST_P(OutboxTest, ClaimTakesTheEarliestDueAcrossStatuses) {
  Id exp = Put(Msg("expired")).message.id;  // next_attempt_at t0
  clock_.Advance(kSec);
  Id def = Put(Msg("deferred")).message.id;  // t0 + 1 s, then deferred to t0 + 1.5 s
  clock_.Advance(kSec);
  Id q1 = Put(Msg("queued1")).message.id;  // t0 + 2 s
  clock_.Advance(kSec);
  Id q2 = Put(Msg("queued2")).message.id;                    // t0 + 3 s
  std::vector<Message> first = ClaimNow(2, "w", 10 * kSec);  // the first two by time
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(first[0].id, exp);
  ASSERT_EQ(first[1].id, def);
  ASSERT_TRUE(Defer(db(), first[1], "w", clock_.Now() - 1'500'000, "quiet_hours", clock_.Now()));
  clock_.Advance(10 * kSec);  // the lease of `expired` runs out
  std::vector<Message> got = ClaimNow(3, "w2");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, exp);  // t0, an expired lease
  EXPECT_EQ(got[1].id, def);  // t0 + 1.5 s, deferred
  EXPECT_EQ(got[2].id, q1);   // t0 + 2 s, queued
  std::vector<Message> rest = ClaimNow(3, "w2");
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, q2);
}

TEST_P(OutboxTest, CompleteManyWritesEveryMessageStillLeasedInOneCommit) {
  Enqueued a = Put(Msg("a"));
  Enqueued b = Put(Msg("b"));
  Enqueued c = Put(Msg("c"));
  std::vector<Message> got = ClaimNow(3, "w1", 30 * kSec);
  ASSERT_EQ(got.size(), 3u);
  // b's lease runs out and w2 takes it; w1 then reports all three delivered.
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec("UPDATE outbox SET lease_until = 0 WHERE merchant_id = ? AND id = ?",
                   {kMerchant, b.message.id}));
    return {};
  }));
  std::vector<Message> stolen = ClaimNow(3, "w2");
  ASSERT_EQ(stolen.size(), 1u);
  clock_.Advance(kSec);
  std::vector<Delivered> done;
  for (const Message& m : got)
    done.push_back(Delivered{m, "w1", "p-" + m.dedup_key, clock_.Now() - 500'000});
  auto r = CompleteMany(db(), done, clock_.Now());
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_TRUE((*r)[0].has_value());
  ASSERT_FALSE((*r)[1].has_value());
  EXPECT_EQ((*r)[1].error().code, Code::kFailedPrecondition);
  EXPECT_EQ((*r)[1].error().message,
            fmt::format("lease lost: message {} is sending (lease owner w2)", b.message.id));
  EXPECT_TRUE((*r)[2].has_value());
  for (const Enqueued* e : {&a, &c}) {
    Message m = Get(e->message.id);
    EXPECT_EQ(m.status, MessageStatus::kSent);
    EXPECT_EQ(m.provider_id, "p-" + m.dedup_key);
    EXPECT_EQ(m.sent_at, clock_.Now() - 500'000);
    EXPECT_EQ(m.updated_at, clock_.Now());
    EXPECT_EQ(m.lease_owner, std::nullopt);
  }
  Message mb = Get(b.message.id);
  EXPECT_EQ(mb.status, MessageStatus::kSending);
  EXPECT_EQ(mb.lease_owner, "w2");
  EXPECT_EQ(mb.provider_id, std::nullopt);
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{}));  // no message_sent (outbox.h)
  // Nothing to write is no transaction at all.
  auto none = CompleteMany(db(), {}, clock_.Now());
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_P(OutboxTest, ConcurrentClaimsTakeDisjointMessages) {
  for (int i = 0; i < 60; ++i) Put(Msg("k" + std::to_string(i)));
  std::vector<std::vector<Message>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        auto r = Claim(db(), 5, "w" + std::to_string(t), 60 * kSec, clock_.Now());
        if (r) got[t].insert(got[t].end(), r->begin(), r->end());
      }
    });
  for (auto& th : threads) th.join();
  std::set<Id> ids;
  size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    for (const auto& m : g) ids.insert(m.id);
  }
  EXPECT_EQ(total, 60u);
  EXPECT_EQ(ids.size(), 60u);
}

TEST_P(OutboxTest, TemporaryErrorsBackOffExponentiallyThenFail) {
  Enqueued a = Put(Msg("a"));  // max_attempts 3
  RetryPolicy p;
  p.base = 10 * kSec;
  p.jitter = 0.2;
  SendOutcome temp{SendOutcome::Kind::kTemporary, "", "451 try later", std::nullopt};

  std::vector<Message> c1 = ClaimNow(1, "w");
  ASSERT_EQ(c1.size(), 1u);
  // u = 0.5 is the middle of the jitter range: exactly base.
  auto s1 = Retry(db(), c1[0], "w", temp, clock_.Now(), p, 0.5);
  ASSERT_TRUE(s1.has_value());
  EXPECT_EQ(*s1, MessageStatus::kQueued);
  Message m = Get(a.message.id);
  EXPECT_EQ(m.status, MessageStatus::kQueued);
  EXPECT_EQ(m.next_attempt_at, clock_.Now() + 10 * kSec);
  EXPECT_EQ(m.last_error, "451 try later");
  EXPECT_TRUE(ClaimNow(1, "w").empty());

  clock_.Advance(10 * kSec);
  std::vector<Message> c2 = ClaimNow(1, "w");
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c2[0].attempts, 2);
  // Attempt 2 waits base·2, scaled by the jitter factor 0.8 at u = 0.
  ASSERT_TRUE(Retry(db(), c2[0], "w", temp, clock_.Now(), p, 0.0).has_value());
  EXPECT_EQ(Get(a.message.id).next_attempt_at, clock_.Now() + 16 * kSec);

  clock_.Advance(16 * kSec);
  std::vector<Message> c3 = ClaimNow(1, "w");
  ASSERT_EQ(c3.size(), 1u);
  auto s3 = Retry(db(), c3[0], "w", temp, clock_.Now(), p, 0.5);
  ASSERT_TRUE(s3.has_value());
  EXPECT_EQ(*s3, MessageStatus::kFailed);
  EXPECT_EQ(Get(a.message.id).status, MessageStatus::kFailed);
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{"message_retry_scheduled",
                                                    "message_retry_scheduled", "message_failed"}));
}

TEST_P(OutboxTest, BackoffDelayIsCappedAndJittered) {
  RetryPolicy p;
  p.base = 30 * kSec;
  p.max = 3600 * kSec;
  p.jitter = 0.2;
  EXPECT_EQ(BackoffDelay(p, 1, 0.5), 30 * kSec);
  EXPECT_EQ(BackoffDelay(p, 2, 0.5), 60 * kSec);
  EXPECT_EQ(BackoffDelay(p, 5, 0.5), 480 * kSec);
  EXPECT_EQ(BackoffDelay(p, 20, 0.5), 3600 * kSec);
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), 24 * kSec);
  EXPECT_EQ(BackoffDelay(p, 1, 1.0), 36 * kSec);
}

TEST_P(OutboxTest, RetryAfterIsHonouredAndCapped) {
  Enqueued a = Put(Msg("a"));
  RetryPolicy p;
  p.max_retry_after = 600 * kSec;
  std::vector<Message> c = ClaimNow(1, "w");
  ASSERT_EQ(c.size(), 1u);
  SendOutcome throttled{SendOutcome::Kind::kThrottled, "", "429 Too Many Requests", 120 * kSec};
  ASSERT_TRUE(Retry(db(), c[0], "w", throttled, clock_.Now(), p, 0.9).has_value());
  EXPECT_EQ(Get(a.message.id).next_attempt_at, clock_.Now() + 120 * kSec);

  clock_.Advance(120 * kSec);
  c = ClaimNow(1, "w");
  ASSERT_EQ(c.size(), 1u);
  throttled.retry_after = 7200 * kSec;
  ASSERT_TRUE(Retry(db(), c[0], "w", throttled, clock_.Now(), p, 0.9).has_value());
  EXPECT_EQ(Get(a.message.id).next_attempt_at, clock_.Now() + 600 * kSec);
}

TEST_P(OutboxTest, PermanentErrorsFailAtOnceAndAreRecorded) {
  Enqueued a = Put(Msg("a"));
  std::vector<Message> c = ClaimNow(1, "w");
  ASSERT_EQ(c.size(), 1u);
  SendOutcome perm{SendOutcome::Kind::kPermanent, "", "550 5.1.1 no such user", std::nullopt};
  auto s = Retry(db(), c[0], "w", perm, clock_.Now(), RetryPolicy{}, 0.5);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, MessageStatus::kFailed);
  Message m = Get(a.message.id);
  EXPECT_EQ(m.status, MessageStatus::kFailed);
  EXPECT_EQ(m.attempts, 1);
  EXPECT_EQ(m.last_error, "550 5.1.1 no such user");
  clock_.Advance(kMicrosPerDay);
  EXPECT_TRUE(ClaimNow(1, "w").empty());
}

TEST_P(OutboxTest, DeferGivesTheAttemptBackAndSkipSuppressFinish) {
  Enqueued a = Put(Msg("a"));
  Enqueued b = Put(Msg("b"));
  Enqueued c = Put(Msg("c"));
  std::vector<Message> got = ClaimNow(3, "w");
  ASSERT_EQ(got.size(), 3u);
  Micros until = clock_.Now() + 3600 * kSec;
  ASSERT_TRUE(Defer(db(), got[0], "w", until, "quiet_hours", clock_.Now()).has_value());
  ASSERT_TRUE(Skip(db(), got[1], "w", "frequency_cap", clock_.Now()).has_value());
  ASSERT_TRUE(Suppress(db(), got[2], "w", "no_consent", clock_.Now()).has_value());
  Message ma = Get(a.message.id);
  EXPECT_EQ(ma.status, MessageStatus::kDeferred);
  EXPECT_EQ(ma.attempts, 0);
  EXPECT_EQ(ma.next_attempt_at, until);
  EXPECT_EQ(Get(b.message.id).status, MessageStatus::kSkipped);
  EXPECT_EQ(Get(c.message.id).status, MessageStatus::kSuppressed);
  EXPECT_TRUE(ClaimNow(3, "w").empty());
  clock_.Set(until);
  got = ClaimNow(3, "w");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, a.message.id);
  EXPECT_EQ(got[0].attempts, 1);
}

// Each writer of an attempt commits with the WriteOptions it is given (durable by default): one
// transaction each, counted as relaxed or durable by the store; Enqueue stays the caller's.
TEST_P(OutboxTest, AttemptWritersCommitWithTheirWriteOptions) {
  const store::WriteOptions relaxed{.durable = false};
  for (int i = 0; i < 6; ++i) Put(Msg("w" + std::to_string(i)));
  store::WriteStats s0 = db().Stats();
  auto got = Claim(db(), 6, "w", 60 * kSec, clock_.Now(), relaxed);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  ASSERT_EQ(got->size(), 6u);
  const std::vector<Message>& m = *got;
  Micros now = clock_.Now();
  ASSERT_TRUE(Complete(db(), m[0], "w", "p0", now, relaxed).has_value());
  auto many = CompleteMany(db(), {Delivered{m[1], "w", "p1", now}}, now, relaxed);
  ASSERT_TRUE(many.has_value() && (*many)[0].has_value());
  SendOutcome temp{SendOutcome::Kind::kTemporary, "", "try later", std::nullopt};
  auto st = Retry(db(), m[2], "w", temp, now, RetryPolicy{}, 0.5, relaxed);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_EQ(*st, MessageStatus::kQueued);
  ASSERT_TRUE(Defer(db(), m[3], "w", now + kSec, "quiet_hours", now, relaxed).has_value());
  ASSERT_TRUE(Skip(db(), m[4], "w", "frequency_cap", now, relaxed).has_value());
  store::WriteStats s1 = db().Stats();
  EXPECT_EQ(s1.relaxed_commits - s0.relaxed_commits, 6);
  EXPECT_EQ(s1.durable_commits - s0.durable_commits, 0);
  ASSERT_TRUE(Suppress(db(), m[5], "w", "no_consent", now).has_value());  // default: durable
  store::WriteStats s2 = db().Stats();
  EXPECT_EQ(s2.relaxed_commits - s1.relaxed_commits, 0);
  EXPECT_EQ(s2.durable_commits - s1.durable_commits, 1);
  const std::vector<MessageStatus> want = {MessageStatus::kSent,    MessageStatus::kSent,
                                           MessageStatus::kQueued,  MessageStatus::kDeferred,
                                           MessageStatus::kSkipped, MessageStatus::kSuppressed};
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(Get(m[i].id).status, want[i]) << i;
}

TEST_P(OutboxTest, ReceiptsDeliverFailAndBounceIntoASuppression) {
  Enqueued a = Put(Msg("a"));
  Enqueued b = Put(Msg("b"));
  std::vector<Message> got = ClaimNow(2, "w");
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(Complete(db(), got[0], "w", "prov-a", clock_.Now()).has_value());
  ASSERT_TRUE(Complete(db(), got[1], "w", "prov-b", clock_.Now()).has_value());
  auto apply = [&](std::string pid, ReceiptKind k) {
    return db().WriteValue([&](store::Tx& tx) {
      return ApplyReceipt(tx, kChannel, pid, k, "550 mailbox unavailable", clock_.Now());
    });
  };
  auto d = apply("prov-a", ReceiptKind::kDelivered);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, MessageStatus::kDelivered);
  EXPECT_EQ(Get(a.message.id).delivered_at, clock_.Now());
  // A later receipt for a delivered message changes nothing.
  EXPECT_EQ(apply("prov-a", ReceiptKind::kFailed).value_or(MessageStatus::kQueued),
            MessageStatus::kDelivered);
  auto f = apply("prov-b", ReceiptKind::kBounced);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, MessageStatus::kFailed);
  EXPECT_EQ(Get(b.message.id).last_error, "550 mailbox unavailable");
  auto sup = db().ReadValue([&](store::Tx& tx) {
    return FindSuppression(tx, kMerchant, Medium::kEmail, "amy@example.com");
  });
  ASSERT_TRUE(sup.has_value());
  EXPECT_EQ(*sup, SuppressionReason::kBounced);
  auto missing = apply("nope", ReceiptKind::kDelivered);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(missing.error().field, "provider_id");
  // A bounce overrides an earlier unsubscribe; an unsubscribe does not weaken a bounce.
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(AddSuppression(tx, kMerchant, Medium::kSms, "+886912345678",
                          SuppressionReason::kUnsubscribed, kMember, 0));
    RG_TRY(AddSuppression(tx, kMerchant, Medium::kSms, "+886912345678", SuppressionReason::kBounced,
                          kMember, 0));
    return AddSuppression(tx, kMerchant, Medium::kSms, "+886912345678",
                          SuppressionReason::kUnsubscribed, kMember, 0);
  }));
  auto sms = db().ReadValue(
      [&](store::Tx& tx) { return FindSuppression(tx, kMerchant, Medium::kSms, "+886912345678"); });
  EXPECT_EQ(sms.value_or(std::nullopt), SuppressionReason::kBounced);
  auto sends = db().ReadValue(
      [&](store::Tx& tx) { return RecentSends(tx, kMerchant, kMember, Medium::kEmail, 0); });
  EXPECT_EQ(sends.value_or(std::vector<Micros>{}),
            (std::vector<Micros>{clock_.Now(), clock_.Now()}));
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{"message_delivered", "message_failed"}));
}

// Migration 12's partial indexes: a `sent` row is in neither outbox_due nor outbox_lease, and
// Claim's legs (as written in outbox.cpp) still walk them (SQLite's plans; PostgreSQL accepts
// the same predicates but picks plans by statistics).
TEST_P(OutboxTest, SentRowsLeaveTheDueAndLeaseIndexesWhichClaimStillUses) {
  auto plan = [&](const std::string& sql) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<std::string> {
      RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query("EXPLAIN QUERY PLAN " + sql, {int64_t{0}}));
      std::string out;
      for (const auto& row : rows) out += row.Str(3) + ";";
      return out;
    });
    return r.value_or("error");
  };
  bool sqlite = db().ReadValue([&](store::Tx& tx) -> Result<bool> {
                      return tx.dialect() == store::Dialect::kSqlite;
                    })
                    .value_or(false);
  if (sqlite) {
    EXPECT_EQ(plan("SELECT merchant_id, id FROM outbox WHERE status = 'queued' AND "
                   "next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 5"),
              "SEARCH outbox USING INDEX outbox_due (status=? AND next_attempt_at<?);");
    EXPECT_EQ(plan("SELECT merchant_id, id FROM outbox WHERE status = 'deferred' AND "
                   "next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 5"),
              "SEARCH outbox USING INDEX outbox_due (status=? AND next_attempt_at<?);");
    EXPECT_EQ(plan("SELECT merchant_id, id FROM outbox WHERE status = 'sending' AND "
                   "lease_until <= ? LIMIT 5"),
              "SEARCH outbox USING INDEX outbox_lease (lease_until<?);");
    EXPECT_EQ(plan("SELECT id FROM outbox WHERE channel_id = 1 AND provider_id = ?"),
              "SEARCH outbox USING INDEX outbox_provider (channel_id=? AND provider_id=?);");
  }
  Id a = Put(Msg("a")).message.id;
  Id b = Put(Msg("b")).message.id;
  std::vector<Message> got = ClaimNow(10, "w1");
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(Complete(db(), got[0].id == a ? got[0] : got[1], "w1", "p-a", clock_.Now()));
  // Counted through each partial index's predicate: b is sending (lease), a is in neither.
  auto count = [&](const std::string& where) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(store::Rows rows,
                          tx.Query("SELECT COUNT(*) FROM outbox WHERE " + where, {}));
      return rows[0].Int(0);
    });
    return r.value_or(-1);
  };
  EXPECT_EQ(count("(status = 'queued' OR status = 'deferred')"), 0);
  EXPECT_EQ(count("status = 'sending'"), 1);
  EXPECT_EQ(count("provider_id IS NOT NULL"), 1);
  EXPECT_EQ(Get(b).status, MessageStatus::kSending);
  // The next claim, after b's lease ran out, finds b through outbox_lease and not a.
  clock_.Advance(61 * kSec);
  std::vector<Message> again = ClaimNow(10, "w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, b);
}

// The timeline's read of the outbox: newest first by (created_at, id), from an inclusive
// position, only the member's rows; a merge re-points the rows.
TEST_P(OutboxTest, MemberQueuedEntriesAndMoveMemberMessages) {
  NewMessage first = Msg("q1");
  first.template_id = 77;
  Id q1 = Put(first).message.id;
  Micros t1 = clock_.Now();
  clock_.Advance(kSec);
  Id q2 = Put(Msg("q2")).message.id;
  Id q3 = Put(Msg("q3")).message.id;  // same created_at as q2
  Micros t2 = clock_.Now();
  clock_.Advance(kSec);
  NewMessage other = Msg("other");
  other.member_id = kMember + 1;
  other.subject = "For Bo";
  Id o = Put(other).message.id;
  auto list = [&](Id member, std::optional<QueuedPosition> at, int limit) {
    auto r = db().ReadValue(
        [&](store::Tx& tx) { return MemberQueuedEntries(tx, kMerchant, member, at, limit); });
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    std::vector<Id> ids;
    for (const auto& q : r.value_or(std::vector<QueuedEntry>{})) ids.push_back(q.id);
    return ids;
  };
  Id hi = std::max(q2, q3), lo = std::min(q2, q3);
  EXPECT_EQ(list(kMember, std::nullopt, 10), (std::vector<Id>{hi, lo, q1}));
  EXPECT_EQ(list(kMember, std::nullopt, 2), (std::vector<Id>{hi, lo}));
  EXPECT_EQ(list(kMember, QueuedPosition{t2, lo}, 10), (std::vector<Id>{lo, q1}));
  EXPECT_EQ(list(kMember, QueuedPosition{t1, q1}, 10), (std::vector<Id>{q1}));
  EXPECT_EQ(list(kMember, QueuedPosition{t1, q1 - 1}, 10), (std::vector<Id>{}));
  auto full = db().ReadValue(
      [&](store::Tx& tx) { return MemberQueuedEntries(tx, kMerchant, kMember, std::nullopt, 10); });
  ASSERT_TRUE(full.has_value());
  const QueuedEntry& e1 = full->back();
  EXPECT_EQ(e1.dedup_key, "q1");
  EXPECT_EQ(e1.channel_id, kChannel);
  EXPECT_EQ(e1.medium, Medium::kEmail);
  EXPECT_EQ(e1.purpose, Purpose::kTransactional);
  EXPECT_EQ(e1.template_id, std::optional<Id>{77});
  EXPECT_EQ(e1.subject, "Your receipt");
  EXPECT_EQ(e1.created_at, t1);
  EXPECT_EQ(full->front().template_id, std::nullopt);
  for (const auto& q : *full) EXPECT_EQ(q.step, MessageStep::kQueued);

  // Once sent, a row has a second step at its sent_at, above its queued step on a tie.
  clock_.Advance(kSec);
  std::vector<Message> claimed = ClaimNow(10, "w1");
  ASSERT_EQ(claimed.size(), 4u);
  for (const auto& m : claimed)
    if (m.id == q1 || m.id == q2)
      ASSERT_TRUE(Complete(db(), m, "w1", "p-" + m.dedup_key, clock_.Now()).has_value());
  Micros t3 = clock_.Now();
  auto steps = db().ReadValue(
      [&](store::Tx& tx) { return MemberQueuedEntries(tx, kMerchant, kMember, std::nullopt, 10); });
  ASSERT_TRUE(steps.has_value());
  std::vector<std::pair<Id, MessageStep>> got;
  for (const auto& q : *steps) got.emplace_back(q.id, q.step);
  Id shi = std::max(q1, q2), slo = std::min(q1, q2);
  EXPECT_EQ(got, (std::vector<std::pair<Id, MessageStep>>{{shi, MessageStep::kSent},
                                                          {slo, MessageStep::kSent},
                                                          {hi, MessageStep::kQueued},
                                                          {lo, MessageStep::kQueued},
                                                          {q1, MessageStep::kQueued}}));
  const QueuedEntry& sent1 = (*steps)[q1 == shi ? 0 : 1];
  EXPECT_EQ(sent1.created_at, t3);
  EXPECT_EQ(sent1.provider_id, "p-q1");
  EXPECT_EQ(sent1.attempts, 1);
  EXPECT_EQ(sent1.template_id, std::optional<Id>{77});
  // Positions are inclusive and compare (time, id, step): from q1's sent step on.
  auto from = db().ReadValue([&](store::Tx& tx) {
    return MemberQueuedEntries(tx, kMerchant, kMember, QueuedPosition{t3, slo, MessageStep::kSent},
                               10);
  });
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(from->size(), 4u);
  EXPECT_EQ(from->front().id, slo);
  EXPECT_EQ(from->front().step, MessageStep::kSent);
  // A queued position at the same (time, id) is below that sent step.
  from = db().ReadValue([&](store::Tx& tx) {
    return MemberQueuedEntries(tx, kMerchant, kMember,
                               QueuedPosition{t3, slo, MessageStep::kQueued}, 10);
  });
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(from->size(), 3u);
  EXPECT_EQ(from->front().id, hi);

  ASSERT_TRUE(db().Write(
      [&](store::Tx& tx) { return MoveMemberMessages(tx, kMerchant, kMember + 1, kMember); }));
  EXPECT_EQ(list(kMember + 1, std::nullopt, 10), (std::vector<Id>{}));
  // o (queued one second before q1 and q2 were sent) now sits among kMember's steps.
  EXPECT_EQ(list(kMember, std::nullopt, 10), (std::vector<Id>{shi, slo, o, hi, lo, q1}));
  EXPECT_EQ(Get(o).member_id, std::optional<Id>{kMember});
}

RG_INSTANTIATE_BACKENDS(OutboxTest);

}  // namespace
}  // namespace regulars::messaging
