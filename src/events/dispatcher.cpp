#include "events/dispatcher.h"

#include <spdlog/spdlog.h>

#include "events/event_repo.h"

namespace regulars::events {

Dispatcher::Dispatcher(store::Database& db, const Clock& clock, int batch_size)
    : db_(db), clock_(clock), batch_size_(batch_size) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Register(Consumer* consumer) { consumers_.push_back(consumer); }

Result<int64_t> Dispatcher::RunOnce() {
  if (consumers_.empty()) return 0;
  struct Pending {
    Id merchant_id;
    int64_t last_seq;
  };
  auto pending = db_.ReadValue([&](store::Tx& tx) -> Result<std::vector<Pending>> {
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query("SELECT merchant_id, last_event_seq FROM merchants "
                                 "WHERE last_event_seq > 0"));
    std::vector<Pending> out;
    for (const auto& r : rows) out.push_back({r.Int(0), r.Int(1)});
    return out;
  });
  if (!pending) return std::unexpected(pending.error());
  const std::vector<Pending>& merchants = *pending;
  int64_t delivered = 0;
  for (const Pending& m : merchants) {
    for (Consumer* c : consumers_) {
      auto n = Deliver(*c, m.merchant_id, m.last_seq);
      if (!n) {
        spdlog::error("event consumer={} merchant={} failed: {}", c->name(), m.merchant_id,
                      n.error().ToString());
        continue;
      }
      delivered += *n;
    }
  }
  return delivered;
}

Result<int64_t> Dispatcher::Deliver(Consumer& c, Id merchant_id, int64_t last_seq) {
  int64_t delivered = 0;
  for (;;) {
    int64_t batch = 0;
    bool more = false;
    RG_TRY(db_.Write([&](store::Tx& tx) -> Status {
      batch = 0;
      RG_ASSIGN_OR_RETURN(store::Rows cur,
                          tx.Query("SELECT last_seq FROM event_cursors WHERE merchant_id = ? AND "
                                   "consumer = ?",
                                   {merchant_id, c.name()}));
      int64_t from = cur.empty() ? 0 : cur[0].Int(0);
      if (from >= last_seq) return {};
      RG_ASSIGN_OR_RETURN(auto events, ReadEvents(tx, merchant_id, from, batch_size_));
      if (events.empty()) return {};
      for (const Event& e : events) RG_TRY(c.Handle(tx, e));
      int64_t to = events.back().seq;
      RG_TRY(
          tx.Exec("INSERT INTO event_cursors (merchant_id, consumer, last_seq, updated_at) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (merchant_id, consumer) DO UPDATE SET "
                  "last_seq = excluded.last_seq, updated_at = excluded.updated_at",
                  {merchant_id, c.name(), to, clock_.Now()}));
      batch = static_cast<int64_t>(events.size());
      more = to < last_seq;
      return {};
    }));
    delivered += batch;
    if (!more || batch == 0) return delivered;
  }
}

void Dispatcher::Start(int poll_ms) {
  thread_ = std::thread([this, poll_ms] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      if (auto r = RunOnce(); !r) spdlog::error("event dispatch failed: {}", r.error().ToString());
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(poll_ms), [&] { return stop_ || notified_; });
      notified_ = false;
    }
  });
}

void Dispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

}  // namespace regulars::events
