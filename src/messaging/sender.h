#pragma once

// The sender: N worker threads, each claiming batches from the outbox, building each message's
// Channel with MakeChannel (cached per channel row, per worker), checking the send policy at
// send time (consent, suppression, quiet hours, caps — policy.h), then calling the provider and
// recording the outcome (outbox.h). One message is in a provider call per worker at a time, so
// a crash leaves at most `workers` messages with an unknown outcome.

#include <atomic>
#include <functional>
#include <memory>
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
  int batch = 16;
  Micros lease = 120 * kMicrosPerSecond;             // longer than a batch can take
  Micros idle_wait = 500 * 1000;                     // sleep when nothing is due
  Micros channel_cache_ttl = 60 * kMicrosPerSecond;  // channel rows are re-read after this
  RetryPolicy retry;
  std::string name;                    // worker ids are "<name>-<n>"; default host-pid-random
  const SecretBox* secrets = nullptr;  // opens channel secrets; nullptr: channels without
};

class Sender {
 public:
  Sender(store::Database& db, const Clock& clock, SenderOptions options);
  ~Sender();  // Stop()s

  void Start();
  // Asks the workers to finish their current message and waits for them.
  void Stop();

  // One claim-and-send round for worker `worker` (0-based) on the calling thread: the number of
  // messages handled. For tests and tools; do not mix with Start().
  Result<int> RunOnce(int worker);

  // Totals since start, for metrics and tests.
  int64_t sent() const { return sent_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  struct Worker;
  Status Handle(Worker& w, const Message& m);
  void Loop(int worker);

  store::Database& db_;
  const Clock& clock_;
  SenderOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> sent_{0}, failed_{0};
};

}  // namespace regulars::messaging
