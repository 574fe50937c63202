#include "events/event_repo.h"

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
  tx.BeforeCommit([e](store::Tx& t) { return InsertNumbered(t, e); });
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
  // After the events this transaction appended so far, which are written at its end too.
  tx.BeforeCommit([=](store::Tx& t) -> Status {
    RG_TRY(t.Exec("UPDATE events SET member_id = ? WHERE merchant_id = ? AND member_id = ?",
                  {to_member, merchant_id, from_member}));
    return {};
  });
  return {};
}

}  // namespace regulars::events
