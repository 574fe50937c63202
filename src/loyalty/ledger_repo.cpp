#include "loyalty/ledger_repo.h"

#include <fmt/format.h>

#include <algorithm>

namespace regulars::loyalty {
namespace {

using store::Opt;
using store::Rows;
using store::Value;

struct Locked {
  int64_t balance = 0;
  int64_t debt = 0;
};

// Creates the balance row if needed and locks it, in one statement: the upsert's DO UPDATE
// row-locks an existing row on PostgreSQL (and waits for a concurrent insert of the same key),
// and RETURNING gives the balance as it is under that lock.
Result<Locked> Lock(store::Tx& tx, Id merchant_id, Id member_id, Id point_type_id, Micros now) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query("INSERT INTO point_balances (merchant_id, member_id, point_type_id, balance, "
               "debt, earned_total, updated_at) VALUES (?, ?, ?, 0, 0, 0, ?) "
               "ON CONFLICT (merchant_id, member_id, point_type_id) DO UPDATE SET updated_at = "
               "excluded.updated_at RETURNING balance, debt",
               {merchant_id, member_id, point_type_id, now}));
  if (rows.empty()) return Fail(Code::kInternal, "balance row vanished");
  return Locked{rows[0].Int(0), rows[0].Int(1)};
}

Status Store(store::Tx& tx, Id merchant_id, const EntryInput& in, const Locked& after,
             int64_t earned_delta) {
  RG_TRY(tx.Exec(
      "UPDATE point_balances SET balance = ?, debt = ?, earned_total = earned_total "
      "+ ? WHERE merchant_id = ? AND member_id = ? AND point_type_id = ?",
      {after.balance, after.debt, earned_delta, merchant_id, in.member_id, in.point_type_id}));
  return {};
}

Result<Entry> Append(store::Tx& tx, Id merchant_id, const EntryInput& in, int64_t signed_amount,
                     int64_t balance_after) {
  Entry e;
  e.merchant_id = merchant_id;
  e.id = NewId();
  e.member_id = in.member_id;
  e.point_type_id = in.point_type_id;
  e.kind = in.kind;
  e.amount = signed_amount;
  e.balance_after = balance_after;
  e.reason = in.reason;
  e.source_type = in.source_type;
  e.source_id = in.source_id;
  e.branch_id = in.branch_id;
  e.staff_id = in.staff_id;
  e.created_at = in.now;
  RG_TRY(tx.Exec(
      "INSERT INTO ledger_entries (merchant_id, id, member_id, point_type_id, kind, "
      "amount, balance_after, reason, source_type, source_id, branch_id, staff_id, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {merchant_id, e.id, e.member_id, e.point_type_id, e.kind, e.amount, e.balance_after, e.reason,
       e.source_type, Opt(e.source_id), Opt(e.branch_id), Opt(e.staff_id), e.created_at}));
  return e;
}

Status MoveLot(store::Tx& tx, Id merchant_id, Id entry_id, Id lot_id, int64_t delta) {
  RG_TRY(tx.Exec("UPDATE point_lots SET remaining = remaining + ? WHERE merchant_id = ? AND id = ?",
                 {delta, merchant_id, lot_id}));
  RG_TRY(
      tx.Exec("INSERT INTO lot_moves (merchant_id, entry_id, lot_id, amount) VALUES (?, ?, ?, ?)",
              {merchant_id, entry_id, lot_id, delta}));
  return {};
}

constexpr std::string_view kEntryCols =
    "merchant_id, id, member_id, point_type_id, kind, amount, balance_after, reason, "
    "source_type, source_id, branch_id, staff_id, created_at";

Entry EntryFromRow(const store::Row& r) {
  return Entry{r.Int(0), r.Int(1), r.Int(2),    r.Int(3),     r.Str(4),     r.Int(5), r.Int(6),
               r.Str(7), r.Str(8), r.OptInt(9), r.OptInt(10), r.OptInt(11), r.Int(12)};
}

}  // namespace

Result<Entry> Credit(store::Tx& tx, Id merchant_id, const EntryInput& in,
                     std::optional<Micros> expires_at) {
  if (in.amount <= 0) return Fail(Code::kInternal, "credit of a non-positive amount");
  const int64_t earned = in.kind == "earn" ? in.amount : 0;
  // Without debt (the usual case) the whole amount is added in the statement that creates or
  // locks the row; SET sees the row as it was, so `debt = 0` there is the debt before. With
  // debt the row is only locked, and the debt is paid first below.
  RG_ASSIGN_OR_RETURN(
      Rows locked,
      tx.Query("INSERT INTO point_balances (merchant_id, member_id, point_type_id, balance, "
               "debt, earned_total, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?) "
               "ON CONFLICT (merchant_id, member_id, point_type_id) DO UPDATE SET "
               "balance = CASE WHEN point_balances.debt = 0 THEN point_balances.balance + "
               "excluded.balance ELSE point_balances.balance END, "
               "earned_total = CASE WHEN point_balances.debt = 0 THEN "
               "point_balances.earned_total + excluded.earned_total ELSE "
               "point_balances.earned_total END, updated_at = excluded.updated_at "
               "RETURNING balance, debt",
               {merchant_id, in.member_id, in.point_type_id, in.amount, earned, in.now}));
  if (locked.empty()) return Fail(Code::kInternal, "balance row vanished");
  const bool added = locked[0].Int(1) == 0;
  Locked cur{locked[0].Int(0) - (added ? in.amount : 0), locked[0].Int(1)};
  int64_t pay_debt = std::min(cur.debt, in.amount);
  Locked after{cur.balance + in.amount, cur.debt - pay_debt};
  RG_ASSIGN_OR_RETURN(Entry e, Append(tx, merchant_id, in, in.amount, after.balance));
  if (int64_t lot = in.amount - pay_debt; lot > 0) {
    // The lot is born holding its amount, with the move that put it there.
    Id lot_id = NewId();
    RG_TRY(
        tx.Exec("INSERT INTO point_lots (merchant_id, id, member_id, point_type_id, earned_at, "
                "expires_at, original, remaining, entry_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {merchant_id, lot_id, in.member_id, in.point_type_id, in.now, Opt(expires_at), lot,
                 lot, e.id}));
    RG_TRY(
        tx.Exec("INSERT INTO lot_moves (merchant_id, entry_id, lot_id, amount) VALUES (?, ?, ?, ?)",
                {merchant_id, e.id, lot_id, lot}));
  }
  if (!added) RG_TRY(Store(tx, merchant_id, in, after, earned));
  return e;
}

Result<Entry> Debit(store::Tx& tx, Id merchant_id, const EntryInput& in, bool allow_shortfall,
                    const std::vector<Id>& prefer_entries) {
  if (in.amount <= 0) return Fail(Code::kInternal, "debit of a non-positive amount");
  RG_ASSIGN_OR_RETURN(Locked cur, Lock(tx, merchant_id, in.member_id, in.point_type_id, in.now));
  int64_t available = cur.balance + cur.debt;  // = open lots
  if (!allow_shortfall && in.amount > cur.balance)
    return Fail(
        MakeError(Code::kFailedPrecondition,
                  fmt::format("points: the balance is only {}", std::max<int64_t>(0, cur.balance)),
                  "points")
            .WithDetail("balance", std::to_string(cur.balance)));
  RG_ASSIGN_OR_RETURN(Rows lots,
                      tx.Query("SELECT id, remaining, entry_id FROM point_lots WHERE merchant_id "
                               "= ? AND member_id = ? AND point_type_id = ? AND remaining > 0 "
                               "ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, "
                               "expires_at, id",
                               {merchant_id, in.member_id, in.point_type_id}));
  std::vector<std::pair<Id, int64_t>> order;
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& r : lots) {
      bool preferred =
          std::find(prefer_entries.begin(), prefer_entries.end(), r.Int(2)) != prefer_entries.end();
      if ((pass == 0) == preferred) order.emplace_back(r.Int(0), r.Int(1));
    }
  int64_t take = std::min(in.amount, std::max<int64_t>(0, available));
  Locked after{cur.balance - in.amount, cur.debt + (in.amount - take)};
  RG_ASSIGN_OR_RETURN(Entry e, Append(tx, merchant_id, in, -in.amount, after.balance));
  for (const auto& [lot_id, remaining] : order) {
    if (take == 0) break;
    int64_t t = std::min(take, remaining);
    RG_TRY(MoveLot(tx, merchant_id, e.id, lot_id, -t));
    take -= t;
  }
  if (take != 0) return Fail(Code::kInternal, "lots do not cover the balance");
  RG_TRY(Store(tx, merchant_id, in, after, 0));
  return e;
}

Result<Entry> Restore(store::Tx& tx, Id merchant_id, const EntryInput& in, Id original_entry) {
  RG_ASSIGN_OR_RETURN(Locked cur, Lock(tx, merchant_id, in.member_id, in.point_type_id, in.now));
  RG_ASSIGN_OR_RETURN(Rows moves, tx.Query("SELECT lot_id, amount FROM lot_moves WHERE "
                                           "merchant_id = ? AND entry_id = ?",
                                           {merchant_id, original_entry}));
  int64_t total = 0;
  for (const auto& m : moves) total -= m.Int(1);
  if (total != in.amount)
    return Fail(Code::kInternal, "restore amount does not match the lots taken");
  Locked after{cur.balance + total, cur.debt};
  RG_ASSIGN_OR_RETURN(Entry e, Append(tx, merchant_id, in, total, after.balance));
  for (const auto& m : moves) RG_TRY(MoveLot(tx, merchant_id, e.id, m.Int(0), -m.Int(1)));
  RG_TRY(Store(tx, merchant_id, in, after, 0));
  return e;
}

Result<Entry> Mark(store::Tx& tx, Id merchant_id, const EntryInput& in) {
  RG_ASSIGN_OR_RETURN(Locked cur, Lock(tx, merchant_id, in.member_id, in.point_type_id, in.now));
  return Append(tx, merchant_id, in, 0, cur.balance);
}

Result<int64_t> ExpireDueLots(store::Tx& tx, Id merchant_id, Micros now, int max_lots) {
  RG_ASSIGN_OR_RETURN(Rows due,
                      tx.Query("SELECT id, member_id, point_type_id, remaining FROM point_lots "
                               "WHERE merchant_id = ? AND expires_at <= ? AND remaining > 0 "
                               "ORDER BY expires_at, id LIMIT ?",
                               {merchant_id, now, int64_t{max_lots}}));
  int64_t expired = 0;
  for (const auto& lot : due) {
    EntryInput in;
    in.member_id = lot.Int(1);
    in.point_type_id = lot.Int(2);
    in.kind = "expire";
    in.reason = "points expired";
    in.source_type = "system";
    in.now = now;
    RG_ASSIGN_OR_RETURN(Locked cur, Lock(tx, merchant_id, in.member_id, in.point_type_id, now));
    // Re-read under the lock: another transaction may have spent from this lot meanwhile.
    RG_ASSIGN_OR_RETURN(Rows fresh, tx.Query("SELECT remaining FROM point_lots WHERE merchant_id "
                                             "= ? AND id = ?",
                                             {merchant_id, lot.Int(0)}));
    int64_t remaining = fresh.empty() ? 0 : fresh[0].Int(0);
    if (remaining <= 0) continue;
    Locked after{cur.balance - remaining, cur.debt};
    RG_ASSIGN_OR_RETURN(Entry e, Append(tx, merchant_id, in, -remaining, after.balance));
    RG_TRY(MoveLot(tx, merchant_id, e.id, lot.Int(0), -remaining));
    RG_TRY(Store(tx, merchant_id, in, after, 0));
    expired += remaining;
  }
  return expired;
}

Result<std::vector<Balance>> LoadBalances(store::Tx& tx, Id merchant_id, Id member_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT point_type_id, balance, debt, earned_total FROM "
                                          "point_balances WHERE merchant_id = ? AND member_id = ?",
                                          {merchant_id, member_id}));
  std::vector<Balance> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Int(1), r.Int(2), r.Int(3)});
  return out;
}

Result<std::vector<Lot>> OpenLots(store::Tx& tx, Id merchant_id, Id member_id, Id point_type_id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT id, earned_at, expires_at, original, remaining FROM "
                               "point_lots WHERE merchant_id = ? AND member_id = ? AND "
                               "point_type_id = ? AND remaining > 0 ORDER BY CASE WHEN "
                               "expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id",
                               {merchant_id, member_id, point_type_id}));
  std::vector<Lot> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Int(1), r.OptInt(2), r.Int(3), r.Int(4)});
  return out;
}

Result<std::vector<Entry>> LoadEntries(store::Tx& tx, Id merchant_id, Id member_id, Id before,
                                       int limit) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM ledger_entries WHERE merchant_id = ? "
                           "AND member_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                           kEntryCols),
               {merchant_id, member_id, before > 0 ? before : INT64_MAX, int64_t{limit}}));
  std::vector<Entry> out;
  for (const auto& r : rows) out.push_back(EntryFromRow(r));
  return out;
}

Result<std::vector<Entry>> EntriesForSource(store::Tx& tx, Id merchant_id,
                                            const std::string& source_type, Id source_id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM ledger_entries WHERE merchant_id = ? "
                                           "AND source_type = ? AND source_id = ? ORDER BY id",
                                           kEntryCols),
                               {merchant_id, source_type, source_id}));
  std::vector<Entry> out;
  for (const auto& r : rows) out.push_back(EntryFromRow(r));
  return out;
}

Status CheckLedger(store::Tx& tx, std::vector<std::string>* problems) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(
          "SELECT b.merchant_id, b.member_id, b.point_type_id, b.balance, b.debt, "
          "(SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e WHERE e.merchant_id = "
          "b.merchant_id AND e.member_id = b.member_id AND e.point_type_id = b.point_type_id), "
          "(SELECT COALESCE(SUM(l.remaining), 0) FROM point_lots l WHERE l.merchant_id = "
          "b.merchant_id AND l.member_id = b.member_id AND l.point_type_id = b.point_type_id), "
          "(SELECT e.balance_after FROM ledger_entries e WHERE e.merchant_id = b.merchant_id "
          "AND e.member_id = b.member_id AND e.point_type_id = b.point_type_id ORDER BY e.id "
          "DESC LIMIT 1) FROM point_balances b"));
  for (const auto& r : rows) {
    std::string where =
        fmt::format("merchant {} member {} point type {}", r.Int(0), r.Int(1), r.Int(2));
    int64_t balance = r.Int(3), debt = r.Int(4), entries = r.Int(5), lots = r.Int(6);
    if (balance != entries)
      problems->push_back(
          fmt::format("{}: balance {} but entries sum to {}", where, balance, entries));
    if (balance != lots - debt)
      problems->push_back(fmt::format("{}: balance {} but open lots {} minus debt {} is {}", where,
                                      balance, lots, debt, lots - debt));
    if (debt < 0) problems->push_back(fmt::format("{}: negative debt {}", where, debt));
    if (!r.IsNull(7) && r.Int(7) != balance)
      problems->push_back(fmt::format("{}: last entry says balance {} but the balance is {}", where,
                                      r.Int(7), balance));
  }
  RG_ASSIGN_OR_RETURN(Rows bad_lots,
                      tx.Query("SELECT merchant_id, id, remaining, original FROM "
                               "point_lots WHERE remaining < 0 OR remaining > original"));
  for (const auto& r : bad_lots)
    problems->push_back(fmt::format("merchant {} lot {}: remaining {} outside 0..{}", r.Int(0),
                                    r.Int(1), r.Int(2), r.Int(3)));
  RG_ASSIGN_OR_RETURN(
      Rows moves,
      tx.Query("SELECT l.merchant_id, l.id, l.remaining, (SELECT COALESCE(SUM(m.amount), 0) "
               "FROM lot_moves m WHERE m.merchant_id = l.merchant_id AND m.lot_id = "
               "l.id) FROM point_lots l"));
  for (const auto& r : moves)
    if (r.Int(2) != r.Int(3))
      problems->push_back(fmt::format("merchant {} lot {}: remaining {} but its moves sum to {}",
                                      r.Int(0), r.Int(1), r.Int(2), r.Int(3)));
  return {};
}

}  // namespace regulars::loyalty
