#pragma once

// Delivers the event log to consumers. Each consumer has a durable cursor per merchant
// (event_cursors). A batch of events is handed to a consumer inside one transaction that also
// advances its cursor, so a consumer whose effects live in the database sees each event exactly
// once: a crash before commit redelivers the batch, a crash after commit never does.
// Consumers whose effects live elsewhere (memory, a remote system) must be idempotent by
// event id themselves.

#include <atomic>
#include <condition_variable>
#include <functional>
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

// Runs NumberPending (event_repo.h) on a background thread every `interval_ms` or when woken,
// and calls `on_numbered` after a round that numbered events. Does nothing on SQLite (events are
// numbered when they commit). Several sequencers, in one process or several, are safe: rounds
// take turns under an advisory lock.
class Sequencer {
 public:
  explicit Sequencer(store::Database& db, std::function<void()> on_numbered = {});
  ~Sequencer();
  void Start(int interval_ms = 10);
  void Stop();
  void Notify();

 private:
  store::Database& db_;
  std::function<void()> on_numbered_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool notified_ = false;
};

class Dispatcher {
 public:
  // `db` and `clock` must outlive the dispatcher.
  Dispatcher(store::Database& db, const Clock& clock, int batch_size = 256);
  ~Dispatcher();

  // Not thread-safe with RunOnce/Start; register every consumer first.
  void Register(Consumer* consumer);

  // Delivers every pending event to every consumer; returns how many deliveries it made. On
  // PostgreSQL it first numbers the events committed so far (NumberPending), so they are among
  // those delivered.
  Result<int64_t> RunOnce();

  // Runs RunOnce on a background thread, woken by Notify() or every `poll_ms`. On PostgreSQL it
  // also starts the process's Sequencer (every 10 ms), which wakes the dispatcher when it has
  // numbered events.
  void Start(int poll_ms = 500);
  void Stop();
  void Notify();

 private:
  Result<int64_t> Deliver(Consumer& c, Id merchant_id, int64_t last_seq);

  store::Database& db_;
  const Clock& clock_;
  int batch_size_;
  std::vector<Consumer*> consumers_;
  Sequencer sequencer_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool notified_ = false;
};

}  // namespace regulars::events
