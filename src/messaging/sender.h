#pragma once

// The sender: N worker threads, each claiming batches from the outbox, building each message's
// Channel with MakeChannel (cached per channel row, per worker, so a worker keeps one provider
// connection open across messages — for SMTP one session per worker), checking the send policy
// at send time (consent, suppression, quiet hours, caps — policy.h), then calling the provider
// and recording the outcome (outbox.h).
//
// Per claimed batch a worker reads the policy facts of all its messages in one read transaction;
// the merchant's messaging settings are cached per worker for settings_cache_ttl (or until
// InvalidateCaches()). Sends to the same member earlier in the batch count towards its caps.
//
// With max_uncommitted > 0, `sent` is recorded by one completer thread that commits every
// delivery queued by any worker in one transaction (CompleteMany), while the workers go on to the
// next message. A worker has at most `max_uncommitted` delivered messages whose commit is still
// outstanding; one more delivery waits for them. The crash window (a message the provider accepted
// whose `sent` is not committed, which a restart delivers again with the same identity,
// deduplicated by receivers): at most workers × (max_uncommitted + 1) messages; with
// max_uncommitted = 0 the worker commits each delivery itself before the next provider call (at
// most `workers`, the contract before deliveries were pipelined).
//
// With max_uncommitted = 0 and a channel that sends in two phases (Channel::BeginSend /
// FinishSend; SMTP with PIPELINING), the worker overlaps a delivery's `sent` commit with the next
// message's envelope: after message k was accepted its `sent` is held; for message k+1 the worker
// calls BeginSend (MAIL FROM, RCPT TO, DATA written), then commits k's `sent` while the server
// answers, then FinishSend (the body, only now, after the commit returned). The crash window stays
// one message per worker: the server cannot accept k+1 before its body, so when the worker dies
// before k's commit returned, k is the only message delivered without its `sent` (re-delivered
// once); k+1's envelope dies with the connection (a transaction without a body delivers nothing)
// and k+1, still `sending` under the expired lease, is delivered once later. A held `sent` is
// committed before any other provider call and before the round ends (RunOnce, Stop).
//
// Durability of the sender's writes (relaxed_commits, default true): the claim and every outcome
// the sender records (`sent`, defer, skip, suppress, retry/failed) are committed relaxed
// (store/db.h: they survive a crash of this process, not power loss). The message itself was made
// durable when it was enqueued; these marks only keep it from being handled again, so losing the
// last few hundred ms of them (power loss, OS crash; on PostgreSQL a server crash) is repaired by
// what a crash of the worker already causes: a lost claim leaves the message queued (claimed
// again later; its attempt is not counted); a lost `sent` leaves it `sending` under an expired
// lease, so it is delivered again with the same Message-ID / Idempotency-Key, which receivers
// deduplicate; a lost defer/skip/suppress/retry is decided again by the policy or the provider.
// Losses are a suffix of the commit order, so a `sent` never survives without its claim. A crash of
// the process (SIGKILL) loses none of them, so the crash window above is unchanged. Not relaxed:
// Enqueue (the caller's transaction) and provider receipts (routes_messaging.cpp, ApplyReceipt):
// a receipt we acknowledged is not sent again, and a lost bounce would lose its suppression.
// One more effect: an event committed relaxed (message_deferred, message_failed, ...; `sent`
// appends none, outbox.h) can be read (dispatcher, API) before it is durable; after a power loss
// its seq may be reused by another event.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "messaging/outbox.h"
#include "messaging/secrets.h"
#include "store/db.h"

namespace regulars::messaging {

struct SenderOptions {
  int workers = 2;
  int batch = 32;
  Micros lease = 120 * kMicrosPerSecond;             // longer than a batch can take
  Micros idle_wait = 500 * 1000;                     // sleep when nothing is due
  Micros channel_cache_ttl = 60 * kMicrosPerSecond;  // channel rows are re-read after this
  Micros settings_cache_ttl = 5 * kMicrosPerSecond;  // messaging settings are re-read after this
  // Per worker, deliveries whose `sent` commit may be outstanding. In practice a worker has about
  // (commit latency / provider call time) of them; this caps it where commits are slow (fsync,
  // PostgreSQL). 0 (the default): each `sent` is committed before the next provider call, so a
  // crash re-delivers at most one message per worker (tests/outbox_crash_test asserts at most
  // one per kill). 16 roughly doubles delivery to a fast local SMTP server (docs/benchmarks.md)
  // at the price of up to workers × 17 re-deliveries per crash.
  int max_uncommitted = 0;
  // Commit the claim and the outcomes relaxed (see the file comment); false: durable, as before.
  bool relaxed_commits = true;
  RetryPolicy retry;
  std::string name;                    // worker ids are "<name>-<n>"; default host-pid-random
  const SecretBox* secrets = nullptr;  // opens channel secrets; nullptr: channels without
  // Builds a channel from its config; default MakeChannel (tests substitute their own).
  std::function<Result<std::unique_ptr<Channel>>(const ChannelConfig&)> make_channel;
};

class Sender {
 public:
  Sender(store::Database& db, const Clock& clock, SenderOptions options);
  ~Sender();  // Stop()s

  void Start();
  // Asks the workers to finish their current message and waits for them (and for the commits of
  // what they delivered).
  void Stop();

  // One claim-and-send round for worker `worker` (0-based) on the calling thread: the number of
  // messages handled. Returns once every delivery of the round is committed. For tests and
  // tools; do not mix with Start().
  Result<int> RunOnce(int worker);

  // Every worker re-reads channel rows and messaging settings at its next round (call after
  // changing them; otherwise the TTLs above apply).
  void InvalidateCaches() { generation_.fetch_add(1); }

  // Totals since start, for metrics and tests. sent() counts committed `sent` rows.
  int64_t sent() const { return sent_.load(); }
  int64_t failed() const { return failed_.load(); }
  // Transactions that recorded `sent` rows (CompleteMany calls).
  int64_t sent_commits() const { return sent_commits_.load(); }

 private:
  struct Worker;
  struct Facts;
  Result<std::vector<Facts>> ReadFacts(Worker& w, const std::vector<Message>& batch, Micros now);
  Status Handle(Worker& w, const Message& m, Facts& facts);
  // Hands a delivery to the completer (or commits it, with max_uncommitted = 0).
  void Submit(Worker& w, Delivered d);
  // Waits until every delivery `w` submitted is committed (and commits the held one).
  void Drain(Worker& w);
  // Commits the delivery held for the overlap with the next envelope (file comment), if any.
  void CommitHeld(Worker& w);
  void Loop(int worker);
  void CompleterLoop();
  store::WriteOptions WriteOpts() const { return {.durable = !options_.relaxed_commits}; }

  store::Database& db_;
  const Clock& clock_;
  SenderOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> sent_{0}, failed_{0}, sent_commits_{0};

  // The completer: deliveries waiting for their commit, per worker counts of them.
  std::mutex done_mu_;
  std::condition_variable done_cv_;                // to the completer: work queued, or stopping
  std::condition_variable committed_cv_;           // to the workers: a commit finished
  std::vector<std::pair<int, Delivered>> queued_;  // (worker index, delivery)
  bool completer_stop_ = false;
  std::thread completer_;
};

}  // namespace regulars::messaging
