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

// Numbers `e` and inserts it (SQLite: one writer, so numbering in the transaction costs nothing).
Status InsertNumbered(store::Tx& tx, const Event& e) {
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

// Multi-row INSERTs of `events`, with their seqs or (numbered = false) seq NULL.
Status InsertRows(store::Tx& tx, const std::vector<Event>& events, bool numbered) {
  std::vector<store::Value> params;
  for (size_t start = 0; start < events.size(); start += kEventsPerInsert) {
    const size_t rows = std::min(kEventsPerInsert, events.size() - start);
    params.clear();
    params.reserve(rows * 8);
    for (size_t i = start; i < start + rows; ++i) {
      const Event& e = events[i];
      params.emplace_back(e.merchant_id);
      params.push_back(numbered ? store::Value(e.seq) : store::Null());
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

// Numbers and inserts events appended in a row, in their order. SQLite: per merchant (in id
// order, so two such transactions lock merchant rows in the same order) one UPDATE reserves all
// its seqs,
// then multi-row INSERTs. Work linear in the number of events: the merchant row is updated once
// per transaction, not once per event (on PostgreSQL every update of one row in a transaction
// leaves a version the next update must walk past, which made a sweep of n events O(n^2)).
// On PostgreSQL the events are inserted with seq NULL and no merchant row is touched
// (NumberPending numbers them after COMMIT); a missing merchant fails the foreign key.
Status InsertAll(store::Tx& tx, std::vector<Event>& events) {
  const bool pg = tx.dialect() == store::Dialect::kPostgres;
  if (pg) {
    auto s = InsertRows(tx, events, /*numbered=*/false);
    if (!s && s.error().code == Code::kFailedPrecondition)
      return Fail(Code::kNotFound, "merchant not found");
    return s;
  }
  if (events.size() == 1) return InsertNumbered(tx, events[0]);
  std::map<Id, int64_t> counts;  // merchant -> events, then -> its next seq
  for (const Event& e : events) ++counts[e.merchant_id];
  for (auto& [merchant, n] : counts) {
    RG_ASSIGN_OR_RETURN(n, ReserveEventSeqs(tx, merchant, n));
  }
  for (Event& e : events) e.seq = counts[e.merchant_id]++;
  return InsertRows(tx, events, /*numbered=*/true);
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
  const bool first_page = before_seq <= 0;
  if (first_page) before_seq = INT64_MAX;
  // PostgreSQL: events not numbered yet (seq NULL) will be numbered above every numbered one, so
  // they lead the first page, newest (in the order they will be numbered) first.
  const bool pending = first_page && tx.dialect() == store::Dialect::kPostgres;
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query(std::string("SELECT ") + std::string(kColumns) +
                   " FROM events WHERE merchant_id = ? AND member_id = ? " +
                   (pending ? "AND (seq < ? OR seq IS NULL) ORDER BY seq DESC NULLS FIRST, "
                              "xid DESC, gid DESC LIMIT ?"
                            : "AND seq < ? ORDER BY seq DESC LIMIT ?"),
               {merchant_id, member_id, before_seq, int64_t{limit}}));
  std::vector<Event> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<int64_t> NumberPending(store::Database& db) {
  if (db.dialect() != store::Dialect::kPostgres) return 0;
  // Events numbered per transaction at most; a longer backlog takes several.
  constexpr int64_t kBatch = 20000;
  int64_t total = 0;
  for (;;) {
    int64_t numbered = 0;
    RG_TRY(db.Write([&](store::Tx& tx) -> Status {
      numbered = 0;
      RG_TRY(tx.Query("SELECT pg_advisory_xact_lock(727275)"));
      // The merchants with events to number, locked (no-key: foreign-key checks of writers
      // pass) and read at their latest: a bulk writer holding one (ReserveEventSeqs) is waited
      // for, so the numbering below continues after its seqs.
      RG_ASSIGN_OR_RETURN(
          store::Rows merchants,
          tx.Query("SELECT merchant_id FROM merchants WHERE merchant_id IN (SELECT DISTINCT "
                   "merchant_id FROM events WHERE seq IS NULL AND xid < "
                   "pg_snapshot_xmin(pg_current_snapshot())) ORDER BY merchant_id FOR NO KEY "
                   "UPDATE"));
      if (merchants.empty()) return {};
      std::string ids = "{";
      for (const store::Row& r : merchants) {
        if (ids.size() > 1) ids += ',';
        ids += std::to_string(r.Int(0));
      }
      ids += '}';
      // One snapshot: every transaction below its xmin has ended, so its events are all
      // visible here, and any event not visible yet belongs to a transaction at or above it and
      // will be numbered after these. By transaction, then insert order: one transaction's
      // events get adjacent seqs, in the order appended.
      RG_ASSIGN_OR_RETURN(
          store::Rows done,
          tx.Query(
              "WITH p AS (SELECT merchant_id, id, xid, gid FROM events WHERE seq IS NULL AND "
              "merchant_id = ANY (CAST(? AS BIGINT[])) AND xid < "
              "pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, gid LIMIT ?), "
              "n AS (SELECT p.merchant_id, p.id, m.last_event_seq + ROW_NUMBER() OVER "
              "(PARTITION BY p.merchant_id ORDER BY p.xid, p.gid) AS seq FROM p JOIN merchants m "
              "ON "
              "m.merchant_id = p.merchant_id), "
              "u AS (UPDATE events e SET seq = n.seq FROM n WHERE e.merchant_id = n.merchant_id "
              "AND e.id = n.id RETURNING e.merchant_id, e.seq) "
              "UPDATE merchants m SET last_event_seq = t.top FROM (SELECT merchant_id, MAX(seq) "
              "AS top, COUNT(*) AS n FROM u GROUP BY merchant_id) t WHERE m.merchant_id = "
              "t.merchant_id RETURNING t.n",
              {ids, kBatch}));
      for (const store::Row& r : done) numbered += r.Int(0);
      return {};
    }));
    total += numbered;
    if (numbered < kBatch) return total;
  }
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
