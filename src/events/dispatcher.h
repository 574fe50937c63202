#pragma once

// Delivers the event log to consumers. Each consumer has a durable cursor per merchant
// (event_cursors). A batch of events is handed to a consumer inside one transaction that also
// advances its cursor, so a consumer whose effects live in the database sees each event exactly
// once: a crash before commit redelivers the batch, a crash after commit never does.
// Consumers whose effects live elsewhere (memory, a remote system) must be idempotent by
// event id themselves.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "events/event.h"
#include "store/db.h"

namespace regulars::events {

class Consumer {
 public:
  virtual ~Consumer() = default;
  // A stable name: the cursor's key. Renaming a consumer replays the log to it.
  virtual std::string name() const = 0;
  // Applies one event inside `tx`. An error rolls the batch back; it is retried later.
  virtual Status Handle(store::Tx& tx, const Event& event) = 0;
};

class Dispatcher {
 public:
  // `db` and `clock` must outlive the dispatcher.
  Dispatcher(store::Database& db, const Clock& clock, int batch_size = 256);
  ~Dispatcher();

  // Not thread-safe with RunOnce/Start; register every consumer first.
  void Register(Consumer* consumer);

  // Delivers every pending event to every consumer; returns how many deliveries it made.
  Result<int64_t> RunOnce();

  // Runs RunOnce on a background thread, woken by Notify() or every `poll_ms`.
  void Start(int poll_ms = 500);
  void Stop();
  void Notify();

 private:
  Result<int64_t> Deliver(Consumer& c, Id merchant_id, int64_t last_seq);

  store::Database& db_;
  const Clock& clock_;
  int batch_size_;
  std::vector<Consumer*> consumers_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool notified_ = false;
};

}  // namespace regulars::events
