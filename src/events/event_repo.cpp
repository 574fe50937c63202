#include "events/event_repo.h"

#include <map>
#include <memory>
#include <string>

namespace regulars::events {
namespace {

constexpr std::string_view kColumns =
    "merchant_id, seq, id, type, member_id, occurred_at, actor, data";

Event FromRow(const store::Row& r) {
  Event e;
  e.merchant_id = r.Int(0);
  e.seq = r.Int(1);
  e.id = r.Int(2);
  e.type = r.Str(3);
  e.member_id = r.OptInt(4);
  e.occurred_at = r.Int(5);
  e.actor = r.Str(6);
  e.data = r.Str(7);
  return e;
}

}  // namespace

Result<int64_t> ReserveEventSeqs(store::Tx& tx, Id merchant_id, int64_t n) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query("UPDATE merchants SET last_event_seq = last_event_seq + ? WHERE merchant_id = ? "
               "RETURNING last_event_seq",
               {n, merchant_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
  return rows[0].Int(0) - n + 1;
}

namespace {

// Numbers `e` and inserts it. On PostgreSQL in one statement, so the merchant row's lock that
// the numbering takes is followed only by COMMIT.
Status InsertNumbered(store::Tx& tx, const Event& e) {
  if (tx.dialect() == store::Dialect::kPostgres) {
    RG_ASSIGN_OR_RETURN(
        store::Rows rows,
        tx.Query("WITH s AS (UPDATE merchants SET last_event_seq = last_event_seq + 1 WHERE "
                 "merchant_id = ? RETURNING last_event_seq) INSERT INTO events (merchant_id, "
                 "seq, id, type, member_id, occurred_at, actor, data) SELECT ?, "
                 "s.last_event_seq, ?, ?, CAST(? AS BIGINT), ?, ?, ? FROM s RETURNING seq",
                 {e.merchant_id, e.merchant_id, e.id, e.type, store::Opt(e.member_id),
                  e.occurred_at, e.actor, e.data}));
    if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
    return {};
  }
  RG_ASSIGN_OR_RETURN(int64_t seq, ReserveEventSeqs(tx, e.merchant_id, 1));
  RG_TRY(tx.Exec(
      "INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, actor, data) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {e.merchant_id, seq, e.id, e.type, store::Opt(e.member_id), e.occurred_at, e.actor, e.data}));
  return {};
}

// Rows per multi-row INSERT of events: 8 parameters each, far below SQLite's 32,766 and
// PostgreSQL's 65,535; a statement shape per remainder size, prepared once per connection.
constexpr size_t kEventsPerInsert = 256;

std::string InsertSql(size_t rows) {
  std::string sql =
      "INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, actor, data) "
      "VALUES ";
  for (size_t i = 0; i < rows; ++i)
    sql += i ? ", (?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?)";
  return sql;
}

// Numbers and inserts events appended in a row, in their order: per merchant (in id order, so
// two such transactions lock merchant rows in the same order) one UPDATE reserves all its seqs,
// then multi-row INSERTs. Work linear in the number of events: the merchant row is updated once
// per transaction, not once per event (on PostgreSQL every update of one row in a transaction
// leaves a version the next update must walk past, which made a sweep of n events O(n^2)).
Status InsertAll(store::Tx& tx, std::vector<Event>& events) {
  if (events.size() == 1) return InsertNumbered(tx, events[0]);
  std::map<Id, int64_t> counts;  // merchant -> events, then -> its next seq
  for (const Event& e : events) ++counts[e.merchant_id];
  for (auto& [merchant, n] : counts) {
    RG_ASSIGN_OR_RETURN(n, ReserveEventSeqs(tx, merchant, n));
  }
  for (Event& e : events) e.seq = counts[e.merchant_id]++;
  std::vector<store::Value> params;
  for (size_t start = 0; start < events.size(); start += kEventsPerInsert) {
    const size_t rows = std::min(kEventsPerInsert, events.size() - start);
    params.clear();
    params.reserve(rows * 8);
    for (size_t i = start; i < start + rows; ++i) {
      const Event& e = events[i];
      params.emplace_back(e.merchant_id);
      params.emplace_back(e.seq);
      params.emplace_back(e.id);
      params.emplace_back(e.type);
      params.push_back(store::Opt(e.member_id));
      params.emplace_back(e.occurred_at);
      params.emplace_back(e.actor);
      params.emplace_back(e.data);
    }
    RG_TRY(tx.Exec(InsertSql(rows), params));
  }
  return {};
}

// Events appended to one transaction in a row and not yet written: one BeforeCommit function
// writes them all (InsertAll). The batch open on this thread is the one the next AppendEvent on
// the same transaction joins; it closes when it is written, when other deferred event work
// (MoveMemberEvents) is added after it, or when its transaction ends (the function holding it is
// run or dropped, and the weak pointer expires). A transaction is used on one thread.
struct Pending {
  const store::Tx* tx = nullptr;
  std::vector<Event> events;
  bool closed = false;
};
thread_local std::weak_ptr<Pending> open_batch;

void CloseOpenBatch(const store::Tx& tx) {
  if (auto p = open_batch.lock(); p && p->tx == &tx) p->closed = true;
  open_batch.reset();
}

}  // namespace

Result<Event> AppendEvent(store::Tx& tx, Id merchant_id, Micros now, NewEvent ne) {
  Event e;
  e.merchant_id = merchant_id;
  e.id = NewId();
  e.type = std::move(ne.type);
  e.member_id = ne.member_id;
  e.occurred_at = now;
  e.actor = std::move(ne.actor);
  e.data = std::move(ne.data);
  std::shared_ptr<Pending> p = open_batch.lock();
  if (!p || p->tx != &tx || p->closed) {
    p = std::make_shared<Pending>();
    p->tx = &tx;
    tx.BeforeCommit([p](store::Tx& t) {
      p->closed = true;  // events appended from here on start a batch of their own
      return InsertAll(t, p->events);
    });
    open_batch = p;
  }
  p->events.push_back(e);
  return e;
}

Result<std::vector<Event>> ReadEvents(store::Tx& tx, Id merchant_id, int64_t after_seq, int limit) {
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query(std::string("SELECT ") + std::string(kColumns) +
                                   " FROM events WHERE merchant_id = ? AND seq > ? "
                                   "ORDER BY seq LIMIT ?",
                               {merchant_id, after_seq, int64_t{limit}}));
  std::vector<Event> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<std::vector<Event>> MemberEvents(store::Tx& tx, Id merchant_id, Id member_id,
                                        int64_t before_seq, int limit) {
  if (before_seq <= 0) before_seq = INT64_MAX;
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query(std::string("SELECT ") + std::string(kColumns) +
                                   " FROM events WHERE merchant_id = ? AND member_id = ? "
                                   "AND seq < ? ORDER BY seq DESC LIMIT ?",
                               {merchant_id, member_id, before_seq, int64_t{limit}}));
  std::vector<Event> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Status MoveMemberEvents(store::Tx& tx, Id merchant_id, Id from_member, Id to_member) {
  // After the events this transaction appended so far, which are written at its end too; events
  // appended after this call are written after it.
  CloseOpenBatch(tx);
  tx.BeforeCommit([=](store::Tx& t) -> Status {
    RG_TRY(t.Exec("UPDATE events SET member_id = ? WHERE merchant_id = ? AND member_id = ?",
                  {to_member, merchant_id, from_member}));
    return {};
  });
  return {};
}

}  // namespace regulars::events
