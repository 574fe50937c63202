#include "messaging/sender.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>

#include "base/crypto.h"
#include "base/log.h"
#include "messaging/messaging_repo.h"

namespace regulars::messaging {

struct Sender::Worker {
  std::string id;
  struct Cached {
    std::unique_ptr<Channel> channel;  // null when the row cannot make one
    Error error;
    Micros loaded_at = 0;
  };
  std::map<Id, Cached> channels;
  std::mt19937_64 rng{std::random_device{}()};
};

Sender::Sender(store::Database& db, const Clock& clock, SenderOptions options)
    : db_(db), clock_(clock), options_(std::move(options)) {
  if (options_.name.empty()) {
    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    options_.name = fmt::format("{}-{}-{}", host, getpid(), RandomToken(4));
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    auto w = std::make_unique<Worker>();
    w->id = fmt::format("{}-{}", options_.name, i);
    workers_.push_back(std::move(w));
  }
}

Sender::~Sender() { Stop(); }

void Sender::Start() {
  stop_ = false;
  for (size_t i = 0; i < workers_.size(); ++i)
    threads_.emplace_back([this, i] { Loop(static_cast<int>(i)); });
}

void Sender::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Sender::Loop(int worker) {
  while (!stop_) {
    auto n = RunOnce(worker);
    if (!n) spdlog::warn("sender worker={} error={}", worker, n.error().ToString());
    if (!n || *n == 0) {
      // Sleep in short steps so Stop() is prompt.
      for (Micros slept = 0; slept < options_.idle_wait && !stop_; slept += 50'000)
        std::this_thread::sleep_for(std::chrono::microseconds(50'000));
    }
  }
}

Result<int> Sender::RunOnce(int worker) {
  Worker& w = *workers_.at(worker);
  RG_ASSIGN_OR_RETURN(std::vector<Message> batch,
                      Claim(db_, options_.batch, w.id, options_.lease, clock_.Now()));
  int handled = 0;
  for (const Message& m : batch) {
    if (stop_ && !threads_.empty()) break;  // the rest return to others when the lease ends
    auto s = Handle(w, m);
    if (!s) spdlog::warn("sender message_id={} error={}", m.id, s.error().ToString());
    ++handled;
  }
  return handled;
}

Status Sender::Handle(Worker& w, const Message& m) {
  // 1. The channel.
  Micros now = clock_.Now();
  auto& cached = w.channels[m.channel_id];
  if (cached.loaded_at == 0 || now - cached.loaded_at > options_.channel_cache_ttl) {
    cached = Worker::Cached{};
    cached.loaded_at = now;
    auto row =
        db_.ReadValue([&](store::Tx& tx) { return GetChannel(tx, m.merchant_id, m.channel_id); });
    if (!row) return std::unexpected(row.error());
    if (!*row || !(*row)->active) {
      cached.error =
          MakeError(Code::kFailedPrecondition, "channel not found or inactive", "channel_id");
    } else {
      auto config = ToConfig(**row, options_.secrets);
      auto made = config ? MakeChannel(*config)
                         : Result<std::unique_ptr<Channel>>(std::unexpected(config.error()));
      if (made)
        cached.channel = std::move(*made);
      else
        cached.error = made.error();
    }
  }
  if (!cached.channel) {
    SendOutcome o{SendOutcome::Kind::kPermanent, "", cached.error.message, std::nullopt};
    ++failed_;
    RG_TRY(Retry(db_, m, w.id, o, clock_.Now(), options_.retry, 0.5));
    return {};
  }

  // 2. The policy, at send time.
  PolicyFacts facts;
  facts.purpose = m.purpose;
  facts.medium = m.medium;
  auto read = db_.ReadValue([&](store::Tx& tx) -> Result<MessagingSettings> {
    RG_ASSIGN_OR_RETURN(MessagingSettings s, GetMessagingSettings(tx, m.merchant_id));
    RG_ASSIGN_OR_RETURN(facts.suppression,
                        FindSuppression(tx, m.merchant_id, m.medium, m.recipient));
    if (m.purpose != Purpose::kMarketing || !m.member_id) return s;
    if (m.medium == Medium::kWebhook) {
      facts.consent = true;
    } else {
      RG_ASSIGN_OR_RETURN(
          store::Rows c,
          tx.Query("SELECT granted FROM member_consents WHERE merchant_id = ? "
                   "AND member_id = ? AND channel = ?",
                   {m.merchant_id, *m.member_id, std::string(MediumName(m.medium))}));
      if (!c.empty()) facts.consent = c[0].Bool(0);
    }
    if (!s.policy.caps.empty()) {
      RG_ASSIGN_OR_RETURN(facts.sent_at, RecentSends(tx, m.merchant_id, *m.member_id, m.medium,
                                                     now - 7 * kMicrosPerDay));
    }
    return s;
  });
  if (!read) return std::unexpected(read.error());
  const MessagingSettings& settings = *read;
  RG_ASSIGN_OR_RETURN(Decision d, Decide(settings.policy, facts, now));
  switch (d.kind) {
    case Decision::Kind::kDefer:
      return Defer(db_, m, w.id, d.until, d.reason, now);
    case Decision::Kind::kSkip:
      return Skip(db_, m, w.id, d.reason, now);
    case Decision::Kind::kSuppress:
      return Suppress(db_, m, w.id, d.reason, now);
    case Decision::Kind::kSend:
      break;
  }

  // 3. The provider. `sending` is committed (Claim); `sent` is committed right after.
  SendOutcome o = cached.channel->Send(m.ToEnvelope());
  if (o.kind == SendOutcome::Kind::kSent) {
    ++sent_;
    return Complete(db_, m, w.id, o.provider_id, clock_.Now());
  }
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(w.rng);
  RG_ASSIGN_OR_RETURN(MessageStatus st, Retry(db_, m, w.id, o, clock_.Now(), options_.retry, u));
  if (st == MessageStatus::kFailed) ++failed_;
  // A connection-level failure may be the channel's state; build it afresh next time.
  if (o.kind == SendOutcome::Kind::kTemporary) cached.loaded_at = 0;
  return {};
}

}  // namespace regulars::messaging
