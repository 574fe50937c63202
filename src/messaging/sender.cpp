#include "messaging/sender.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <tuple>

#include "base/crypto.h"
#include "base/log.h"
#include "messaging/messaging_repo.h"

namespace regulars::messaging {

struct Sender::Worker {
  int index = 0;
  std::string id;
  struct Cached {
    std::unique_ptr<Channel> channel;  // null when the row cannot make one
    Error error;
    Micros loaded_at = 0;
  };
  std::map<Id, Cached> channels;
  struct CachedSettings {
    MessagingSettings settings;
    Micros loaded_at = 0;
  };
  std::map<Id, CachedSettings> settings;  // per merchant
  uint64_t generation = 0;
  // (merchant, member, medium) -> sends made in the current batch, for the caps.
  std::map<std::tuple<Id, Id, Medium>, std::vector<Micros>> batch_sends;
  int outstanding = 0;  // submitted deliveries not yet committed (guarded by done_mu_)
  // max_uncommitted = 0, two-phase channel: the delivery whose `sent` commits while the next
  // message's envelope is with the server (sender.h).
  std::optional<Delivered> held;
  std::mt19937_64 rng{std::random_device{}()};
};

// What the policy needs about one message, read at the start of its batch.
struct Sender::Facts {
  PolicyFacts facts;
  const MessagingSettings* settings = nullptr;  // in Worker::settings
};

Sender::Sender(store::Database& db, const Clock& clock, SenderOptions options)
    : db_(db), clock_(clock), options_(std::move(options)) {
  if (options_.name.empty()) {
    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    options_.name = fmt::format("{}-{}-{}", host, getpid(), RandomToken(4));
  }
  if (!options_.make_channel) options_.make_channel = MakeChannel;
  options_.max_uncommitted = std::max(0, options_.max_uncommitted);
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->id = fmt::format("{}-{}", options_.name, i);
    workers_.push_back(std::move(w));
  }
  if (options_.max_uncommitted > 0) completer_ = std::thread([this] { CompleterLoop(); });
}

Sender::~Sender() {
  Stop();
  {
    std::lock_guard lock(done_mu_);
    completer_stop_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

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

void Sender::CompleterLoop() {
  std::vector<std::pair<int, Delivered>> taken;
  std::vector<Delivered> done;
  while (true) {
    {
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [&] { return completer_stop_ || !queued_.empty(); });
      if (queued_.empty()) return;  // stopping, and nothing left
      taken.swap(queued_);
    }
    done.clear();
    for (auto& [worker, d] : taken) done.push_back(std::move(d));
    auto results = CompleteMany(db_, done, clock_.Now(), WriteOpts());
    ++sent_commits_;
    int64_t ok = 0;
    if (!results) {
      // Nothing was written: the rows stay `sending` and are delivered again (same identity)
      // when their leases run out.
      spdlog::warn("sender completer messages={} error={}", done.size(),
                   results.error().ToString());
    } else {
      for (size_t i = 0; i < done.size(); ++i) {
        if ((*results)[i])
          ++ok;
        else
          spdlog::warn("sender message_id={} error={}", done[i].message.id,
                       (*results)[i].error().ToString());
      }
    }
    sent_ += ok;
    {
      std::lock_guard lock(done_mu_);
      for (auto& [worker, d] : taken) --workers_[worker]->outstanding;
    }
    taken.clear();
    committed_cv_.notify_all();
  }
}

void Sender::CommitHeld(Worker& w) {
  if (!w.held) return;
  Delivered d = std::move(*w.held);
  w.held.reset();
  Submit(w, std::move(d));
}

void Sender::Submit(Worker& w, Delivered d) {
  if (options_.max_uncommitted == 0) {
    auto results = CompleteMany(db_, {d}, clock_.Now(), WriteOpts());
    ++sent_commits_;
    Status s = results ? (*results)[0] : Status(std::unexpected(results.error()));
    if (s)
      ++sent_;
    else
      spdlog::warn("sender message_id={} error={}", d.message.id, s.error().ToString());
    return;
  }
  {
    std::unique_lock lock(done_mu_);
    committed_cv_.wait(lock, [&] { return w.outstanding < options_.max_uncommitted; });
    ++w.outstanding;
    queued_.emplace_back(w.index, std::move(d));
  }
  done_cv_.notify_one();
}

void Sender::Drain(Worker& w) {
  CommitHeld(w);
  if (options_.max_uncommitted == 0) return;
  std::unique_lock lock(done_mu_);
  committed_cv_.wait(lock, [&] { return w.outstanding == 0; });
}

Result<int> Sender::RunOnce(int worker) {
  Worker& w = *workers_.at(worker);
  if (uint64_t g = generation_.load(); g != w.generation) {
    w.channels.clear();
    w.settings.clear();
    w.generation = g;
  }
  Micros now = clock_.Now();
  RG_ASSIGN_OR_RETURN(std::vector<Message> batch,
                      Claim(db_, options_.batch, w.id, options_.lease, now, WriteOpts()));
  if (batch.empty()) return 0;
  // On an error here the batch stays leased and returns to the outbox when the lease ends.
  RG_ASSIGN_OR_RETURN(std::vector<Facts> facts, ReadFacts(w, batch, now));
  w.batch_sends.clear();
  int handled = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (stop_ && !threads_.empty()) break;  // the rest return to others when the lease ends
    auto s = Handle(w, batch[i], facts[i]);
    if (!s) spdlog::warn("sender message_id={} error={}", batch[i].id, s.error().ToString());
    ++handled;
  }
  Drain(w);
  return handled;
}

Result<std::vector<Sender::Facts>> Sender::ReadFacts(Worker& w, const std::vector<Message>& batch,
                                                     Micros now) {
  return db_.ReadValue([&](store::Tx& tx) -> Result<std::vector<Facts>> {
    std::vector<Facts> out(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const Message& m = batch[i];
      auto& cached = w.settings[m.merchant_id];
      if (cached.loaded_at == 0 || now - cached.loaded_at > options_.settings_cache_ttl) {
        RG_ASSIGN_OR_RETURN(cached.settings, GetMessagingSettings(tx, m.merchant_id));
        cached.loaded_at = now;
      }
      const MessagingSettings& s = cached.settings;
      Facts& f = out[i];
      f.settings = &s;
      f.facts.purpose = m.purpose;
      f.facts.medium = m.medium;
      RG_ASSIGN_OR_RETURN(auto suppression,
                          FindSuppressionRecord(tx, m.merchant_id, m.medium, m.recipient));
      if (suppression) {
        f.facts.suppression = suppression->reason;
        f.facts.suppressed_at = suppression->created_at;
      }
      if (m.purpose != Purpose::kMarketing || !m.member_id) continue;
      if (m.medium == Medium::kWebhook) {
        f.facts.consent = true;
      } else {
        RG_ASSIGN_OR_RETURN(
            store::Rows c,
            tx.Query("SELECT granted, changed_at FROM member_consents WHERE merchant_id = ? "
                     "AND member_id = ? AND channel = ?",
                     {m.merchant_id, *m.member_id, std::string(MediumName(m.medium))}));
        if (!c.empty()) {
          f.facts.consent = c[0].Bool(0);
          f.facts.consent_changed_at = c[0].Int(1);
        }
      }
      if (!s.policy.caps.empty()) {
        RG_ASSIGN_OR_RETURN(f.facts.sent_at, RecentSends(tx, m.merchant_id, *m.member_id, m.medium,
                                                         now - 7 * kMicrosPerDay));
      }
    }
    return out;
  });
}

Status Sender::Handle(Worker& w, const Message& m, Facts& facts) {
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
      auto made = config ? options_.make_channel(*config)
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
    RG_TRY(Retry(db_, m, w.id, o, clock_.Now(), options_.retry, 0.5, WriteOpts()));
    return {};
  }

  // 2. The policy, at send time (facts from the start of the batch plus this batch's sends).
  std::vector<Micros>* batch_sends = nullptr;
  if (m.member_id) {
    batch_sends = &w.batch_sends[{m.merchant_id, *m.member_id, m.medium}];
    facts.facts.sent_at.insert(facts.facts.sent_at.end(), batch_sends->begin(), batch_sends->end());
  }
  RG_ASSIGN_OR_RETURN(Decision d, Decide(facts.settings->policy, facts.facts, now));
  switch (d.kind) {
    case Decision::Kind::kDefer:
      return Defer(db_, m, w.id, d.until, d.reason, now, WriteOpts());
    case Decision::Kind::kSkip:
      return Skip(db_, m, w.id, d.reason, now, WriteOpts());
    case Decision::Kind::kSuppress:
      return Suppress(db_, m, w.id, d.reason, now, WriteOpts());
    case Decision::Kind::kSend:
      break;
  }

  // 3. The provider. `sending` is committed (Claim); `sent` is committed by Submit's commit.
  // Two phases (max_uncommitted = 0): the held `sent` of the previous delivery commits between
  // this envelope and this body (sender.h); otherwise it commits before the provider call.
  Envelope env = m.ToEnvelope();
  bool two_phase = options_.max_uncommitted == 0 && cached.channel->BeginSend(env);
  CommitHeld(w);
  SendOutcome o = two_phase ? cached.channel->FinishSend(env) : cached.channel->Send(env);
  if (o.kind == SendOutcome::Kind::kSent) {
    Micros at = clock_.Now();
    if (batch_sends) batch_sends->push_back(at);
    Delivered d{m, w.id, std::move(o.provider_id), at};
    if (two_phase)
      w.held = std::move(d);
    else
      Submit(w, std::move(d));
    return {};
  }
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(w.rng);
  RG_ASSIGN_OR_RETURN(MessageStatus st,
                      Retry(db_, m, w.id, o, clock_.Now(), options_.retry, u, WriteOpts()));
  if (st == MessageStatus::kFailed) ++failed_;
  // A connection-level failure may be the channel's state; build it afresh next time.
  if (o.kind == SendOutcome::Kind::kTemporary) cached.loaded_at = 0;
  return {};
}

}  // namespace regulars::messaging
