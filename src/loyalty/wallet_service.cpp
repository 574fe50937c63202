#include "loyalty/wallet_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "events/event_repo.h"
#include "members/member_repo.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Row;
using store::Rows;
using store::Value;

// ---------------------------------------------------------------------------------------------
// Rows

constexpr std::string_view kEntryCols[] = {"merchant_id",
                                           "id",
                                           "member_id",
                                           "seq",
                                           "kind",
                                           "paid_minor",
                                           "bonus_minor",
                                           "paid_after",
                                           "bonus_after",
                                           "currency",
                                           "scheme_id",
                                           "order_id",
                                           "related_entry_id",
                                           "payment_method",
                                           "reason",
                                           "branch_id",
                                           "staff_id",
                                           "actor",
                                           "created_at"};

// The entry columns, each prefixed ("e." or "").
std::string EntryCols(std::string_view prefix) {
  std::string out;
  for (std::string_view c : kEntryCols) {
    if (!out.empty()) out += ", ";
    out += prefix;
    out += c;
  }
  return out;
}

WalletEntry EntryFromRow(const Row& r) {
  WalletEntry e;
  e.merchant_id = r.Int(0);
  e.id = r.Int(1);
  e.member_id = r.Int(2);
  e.seq = r.Int(3);
  e.kind = ParseWalletEntryKind(r.Str(4)).value_or(WalletEntryKind::kAdjust);
  e.paid_minor = r.Int(5);
  e.bonus_minor = r.Int(6);
  e.paid_after = r.Int(7);
  e.bonus_after = r.Int(8);
  e.currency = r.Str(9);
  e.scheme_id = r.OptInt(10);
  e.order_id = r.OptStr(11);
  e.related_entry_id = r.OptInt(12);
  e.payment_method = r.OptStr(13);
  e.reason = r.OptStr(14);
  e.branch_id = r.OptInt(15);
  e.staff_id = r.OptInt(16);
  e.actor = r.Str(17);
  e.created_at = r.Int(18);
  return e;
}

constexpr std::string_view kSchemeCols =
    "merchant_id, id, name, pay_minor, bonus_minor, repeats, valid_from, valid_to, active, "
    "created_at, updated_at";

BonusScheme SchemeFromRow(const Row& r) {
  BonusScheme s;
  s.merchant_id = r.Int(0);
  s.id = r.Int(1);
  s.name = r.Str(2);
  s.pay_minor = r.Int(3);
  s.bonus_minor = r.Int(4);
  s.repeats = r.Bool(5);
  s.valid_from = r.OptInt(6);
  s.valid_to = r.OptInt(7);
  s.active = r.Bool(8);
  s.created_at = r.Int(9);
  s.updated_at = r.Int(10);
  return s;
}

Result<std::optional<BonusScheme>> LoadScheme(store::Tx& tx, Id merchant_id, Id scheme_id) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM wallet_bonus_schemes WHERE merchant_id "
                                           "= ? AND id = ?",
                                           kSchemeCols),
                               {merchant_id, scheme_id}));
  if (rows.empty()) return std::optional<BonusScheme>{};
  return std::optional<BonusScheme>(SchemeFromRow(rows[0]));
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the use cases

Status RequireManager(const Actor& a, std::string_view what) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, fmt::format("only an owner or manager may {}", what));
  return {};
}

// The member, or not_found. A change to a merged-away member is refused (its wallet moved to
// the survivor); top-ups to an erased member too (nobody can be identified as them any more),
// while charges, refunds and adjustments may still settle what is left.
enum class Use { kRead, kSpend, kTopUp };
Status RequireMember(store::Tx& tx, const Actor& actor, Id member_id, Use use) {
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, member_id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  if (use == Use::kRead) return {};
  if (m->merged_into)
    return Fail(MakeError(Code::kFailedPrecondition, "member was merged into another member")
                    .WithDetail("member_id", IdToString(*m->merged_into)));
  if (use == Use::kTopUp && m->erased_at)
    return Fail(Code::kFailedPrecondition, "member was erased");
  return {};
}

Status CheckBranch(store::Tx& tx, const Actor& actor, std::optional<Id> branch_id) {
  if (!branch_id) return {};
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT 1 FROM branches WHERE merchant_id = ? AND id = ?",
                                          {actor.merchant_id, *branch_id}));
  if (rows.empty()) return InvalidField("branch_id", "branch not found");
  if (!actor.MayUseBranch(*branch_id))
    return Fail(Code::kPermissionDenied, "branch_id: you may not act for this branch", "branch_id");
  return {};
}

Result<std::optional<int64_t>> ParseCursor(const std::optional<std::string>& cursor) {
  if (!cursor || cursor->empty()) return std::optional<int64_t>{};
  auto v = ParseId(*cursor);
  if (!v) return InvalidField("cursor", "is not a cursor this list gave out");
  return std::optional<int64_t>(*v);
}

// ---------------------------------------------------------------------------------------------
// The write path: lock, read, (decide), write entry + balance + event.

struct Locked {
  WalletBalance balance;
  int64_t last_seq = 0;
};

// Takes the wallet's row lock (creating an empty wallet first if there is none) and reads the
// balance as of the lock: at READ COMMITTED every statement after the UPDATE sees what the
// previous holder of the lock committed.
Result<Locked> LockWallet(store::Tx& tx, const Actor& actor, Id member_id) {
  RG_TRY(
      tx.Exec("INSERT INTO wallet_balances (merchant_id, member_id, paid_minor, bonus_minor, "
              "last_seq, updated_at) VALUES (?, ?, 0, 0, 0, ?) "
              "ON CONFLICT (merchant_id, member_id) DO NOTHING",
              {actor.merchant_id, member_id, actor.now}));
  RG_ASSIGN_OR_RETURN(int64_t locked,
                      tx.Exec("UPDATE wallet_balances SET updated_at = ? WHERE merchant_id = ? "
                              "AND member_id = ?",
                              {actor.now, actor.merchant_id, member_id}));
  if (locked != 1) return Fail(Code::kInternal, "wallet row vanished");
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT paid_minor, bonus_minor, last_seq FROM wallet_balances "
                               "WHERE merchant_id = ? AND member_id = ?",
                               {actor.merchant_id, member_id}));
  if (rows.empty()) return Fail(Code::kInternal, "wallet row vanished");
  return Locked{{rows[0].Int(0), rows[0].Int(1)}, rows[0].Int(2)};
}

std::string_view EventType(WalletEntryKind kind) {
  switch (kind) {
    case WalletEntryKind::kTopUp:
      return "wallet_topped_up";
    case WalletEntryKind::kCharge:
      return "wallet_charged";
    case WalletEntryKind::kRefund:
      return "wallet_refunded";
    case WalletEntryKind::kAdjust:
      return "wallet_adjusted";
    case WalletEntryKind::kMerge:
      return "wallet_merged";
  }
  return "wallet_adjusted";
}

json IdOrNull(const std::optional<Id>& id) { return id ? json(IdToString(*id)) : json(nullptr); }
template <class T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Writes `e` (kind, paid_minor, bonus_minor and the optional facts filled in by the caller) as
// the wallet's next entry, moves the balance with a compare-and-set on last_seq, and appends
// the event.
Result<WalletChange> Record(store::Tx& tx, const Actor& actor, const WalletContext& wc,
                            const Locked& locked, WalletEntry e) {
  e.merchant_id = actor.merchant_id;
  e.id = NewId();
  e.seq = locked.last_seq + 1;
  e.paid_after = locked.balance.paid_minor + e.paid_minor;
  e.bonus_after = locked.balance.bonus_minor + e.bonus_minor;
  if (e.paid_after < 0 || e.bonus_after < 0)
    return Fail(Code::kInternal, "a wallet change would go below zero");
  e.currency = wc.currency;
  e.staff_id = actor.staff_id;
  e.actor = actor.Label();
  e.created_at = actor.now;
  RG_TRY(tx.Exec(fmt::format("INSERT INTO wallet_entries ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                             "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             EntryCols("")),
                 {e.merchant_id, e.id, e.member_id, e.seq, std::string(WalletEntryKindName(e.kind)),
                  e.paid_minor, e.bonus_minor, e.paid_after, e.bonus_after, e.currency,
                  Opt(e.scheme_id), Opt(e.order_id), Opt(e.related_entry_id), Opt(e.payment_method),
                  Opt(e.reason), Opt(e.branch_id), Opt(e.staff_id), e.actor, e.created_at}));
  RG_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE wallet_balances SET paid_minor = ?, bonus_minor = ?, last_seq = ?, "
              "updated_at = ? WHERE merchant_id = ? AND member_id = ? AND last_seq = ?",
              {e.paid_after, e.bonus_after, e.seq, actor.now, e.merchant_id, e.member_id,
               locked.last_seq}));
  // Cannot happen while the row lock is held; if it ever does, run the whole thing again.
  if (changed != 1) return Fail(Code::kAborted, "the wallet changed under us; retrying");

  json data = {{"entry_id", IdToString(e.id)},
               {"kind", WalletEntryKindName(e.kind)},
               {"amount_minor", e.amount_minor()},
               {"paid_minor", e.paid_minor},
               {"bonus_minor", e.bonus_minor},
               {"balance",
                {{"paid_minor", e.paid_after},
                 {"bonus_minor", e.bonus_after},
                 {"total_minor", e.paid_after + e.bonus_after}}},
               {"currency", e.currency},
               {"branch_id", IdOrNull(e.branch_id)},
               {"staff_id", IdOrNull(e.staff_id)}};
  if (e.scheme_id) data["scheme_id"] = IdToString(*e.scheme_id);
  if (e.order_id) data["order_id"] = *e.order_id;
  if (e.related_entry_id && e.kind == WalletEntryKind::kRefund)
    data["charge_id"] = IdToString(*e.related_entry_id);
  if (e.payment_method) data["payment_method"] = *e.payment_method;
  if (e.reason) data["reason"] = *e.reason;
  RG_TRY(events::AppendEvent(
      tx, actor.merchant_id, actor.now,
      {std::string(EventType(e.kind)), e.member_id, actor.Label(), data.dump()}));
  return WalletChange{e, e.after()};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Use cases

Result<WalletChange> TopUpWallet(store::Tx& tx, const Actor& actor, const WalletContext& wc,
                                 Id member_id, const WalletTopUpInput& in) {
  RG_TRY(RequireMember(tx, actor, member_id, Use::kTopUp));
  RG_TRY(ValidateWalletTopUp(in));
  RG_TRY(CheckBranch(tx, actor, in.branch_id));
  int64_t amount = *in.amount_minor;
  BonusChoice bonus;
  if (in.scheme_id) {
    RG_ASSIGN_OR_RETURN(auto scheme, LoadScheme(tx, actor.merchant_id, *in.scheme_id));
    if (!scheme) return InvalidField("scheme_id", "bonus scheme not found");
    RG_ASSIGN_OR_RETURN(bonus, ApplyScheme(*scheme, amount, actor.now));
  } else {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM wallet_bonus_schemes WHERE "
                                                        "merchant_id = ? AND active = 1",
                                                        kSchemeCols),
                                            {actor.merchant_id}));
    std::vector<BonusScheme> schemes;
    for (const Row& r : rows) schemes.push_back(SchemeFromRow(r));
    bonus = ChooseBonus(schemes, amount, actor.now);
  }
  RG_ASSIGN_OR_RETURN(Locked locked, LockWallet(tx, actor, member_id));
  WalletEntry e;
  e.member_id = member_id;
  e.kind = WalletEntryKind::kTopUp;
  e.paid_minor = amount;
  e.bonus_minor = bonus.bonus_minor;
  e.scheme_id = bonus.scheme_id;
  e.payment_method = in.payment_method;
  e.reason = in.note;
  e.branch_id = in.branch_id;
  return Record(tx, actor, wc, locked, std::move(e));
}

Result<WalletChange> ChargeWallet(store::Tx& tx, const Actor& actor, const WalletContext& wc,
                                  Id member_id, const WalletChargeInput& in) {
  RG_TRY(RequireMember(tx, actor, member_id, Use::kSpend));
  RG_TRY(ValidateWalletCharge(in));
  RG_TRY(CheckBranch(tx, actor, in.branch_id));
  RG_ASSIGN_OR_RETURN(Locked locked, LockWallet(tx, actor, member_id));
  RG_ASSIGN_OR_RETURN(WalletSplit split, SplitCharge(locked.balance, *in.amount_minor));
  WalletEntry e;
  e.member_id = member_id;
  e.kind = WalletEntryKind::kCharge;
  e.paid_minor = -split.paid_minor;
  e.bonus_minor = -split.bonus_minor;
  e.order_id = in.order_id;
  e.reason = in.note;
  e.branch_id = in.branch_id;
  return Record(tx, actor, wc, locked, std::move(e));
}

Result<WalletChange> RefundWalletCharge(store::Tx& tx, const Actor& actor, const WalletContext& wc,
                                        Id member_id, const WalletRefundInput& in) {
  RG_TRY(RequireMember(tx, actor, member_id, Use::kSpend));
  RG_TRY(ValidateWalletRefund(in));
  RG_TRY(CheckBranch(tx, actor, in.branch_id));
  // Lock first: the refunds already made are read under the lock, so two refunds of one charge
  // at the same time cannot both take what is left.
  RG_ASSIGN_OR_RETURN(Locked locked, LockWallet(tx, actor, member_id));
  RG_ASSIGN_OR_RETURN(
      Rows charge,
      tx.Query("SELECT paid_minor, bonus_minor, order_id FROM wallet_entries WHERE merchant_id = "
               "? AND id = ? AND member_id = ? AND kind = 'charge'",
               {actor.merchant_id, *in.charge_id, member_id}));
  if (charge.empty()) return Fail(Code::kNotFound, "charge_id: charge not found", "charge_id");
  RG_ASSIGN_OR_RETURN(
      Rows refunded,
      tx.Query("SELECT CAST(COALESCE(SUM(paid_minor), 0) AS BIGINT), "
               "CAST(COALESCE(SUM(bonus_minor), 0) AS BIGINT) FROM wallet_entries WHERE "
               "merchant_id = ? AND related_entry_id = ? AND kind = 'refund'",
               {actor.merchant_id, *in.charge_id}));
  WalletSplit charged{-charge[0].Int(0), -charge[0].Int(1)};
  WalletSplit already{refunded[0].Int(0), refunded[0].Int(1)};
  RG_ASSIGN_OR_RETURN(WalletSplit split, SplitRefund(charged, already, in.amount_minor));
  WalletEntry e;
  e.member_id = member_id;
  e.kind = WalletEntryKind::kRefund;
  e.paid_minor = split.paid_minor;
  e.bonus_minor = split.bonus_minor;
  e.related_entry_id = *in.charge_id;
  e.order_id = charge[0].OptStr(2);
  e.reason = in.note;
  e.branch_id = in.branch_id;
  return Record(tx, actor, wc, locked, std::move(e));
}

Result<WalletChange> AdjustWallet(store::Tx& tx, const Actor& actor, const WalletContext& wc,
                                  Id member_id, const WalletAdjustInput& in) {
  RG_TRY(RequireManager(actor, "adjust a wallet"));
  RG_TRY(RequireMember(tx, actor, member_id, Use::kSpend));
  RG_TRY(ValidateWalletAdjust(in));
  RG_TRY(CheckBranch(tx, actor, in.branch_id));
  RG_ASSIGN_OR_RETURN(Locked locked, LockWallet(tx, actor, member_id));
  int64_t dp = in.paid_minor.value_or(0), db = in.bonus_minor.value_or(0);
  RG_TRY(ApplyWalletAdjustment(locked.balance, dp, db));
  WalletEntry e;
  e.member_id = member_id;
  e.kind = WalletEntryKind::kAdjust;
  e.paid_minor = dp;
  e.bonus_minor = db;
  e.reason = in.reason;
  e.branch_id = in.branch_id;
  return Record(tx, actor, wc, locked, std::move(e));
}

Status MergeWallets(store::Tx& tx, const Actor& actor, const WalletContext& wc, Id into, Id from) {
  if (into == from) return InvalidField("from_member_id", "cannot merge a member into itself");
  RG_TRY(RequireMember(tx, actor, into, Use::kRead));
  RG_TRY(RequireMember(tx, actor, from, Use::kRead));
  RG_ASSIGN_OR_RETURN(Locked first, LockWallet(tx, actor, std::min(into, from)));
  RG_ASSIGN_OR_RETURN(Locked second, LockWallet(tx, actor, std::max(into, from)));
  const Locked& from_wallet = from < into ? first : second;
  const Locked& into_wallet = from < into ? second : first;
  if (from_wallet.balance.total_minor() == 0) return {};
  WalletEntry out;
  out.member_id = from;
  out.kind = WalletEntryKind::kMerge;
  out.paid_minor = -from_wallet.balance.paid_minor;
  out.bonus_minor = -from_wallet.balance.bonus_minor;
  out.reason = fmt::format("merged into member {}", into);
  RG_ASSIGN_OR_RETURN(WalletChange moved_out, Record(tx, actor, wc, from_wallet, std::move(out)));
  WalletEntry in;
  in.member_id = into;
  in.kind = WalletEntryKind::kMerge;
  in.paid_minor = from_wallet.balance.paid_minor;
  in.bonus_minor = from_wallet.balance.bonus_minor;
  in.related_entry_id = moved_out.entry.id;
  in.reason = fmt::format("merged from member {}", from);
  RG_TRY(Record(tx, actor, wc, into_wallet, std::move(in)));
  return {};
}

Result<WalletView> GetWallet(store::Tx& tx, const Actor& actor, Id member_id,
                             std::optional<std::string> cursor, int limit) {
  RG_TRY(RequireMember(tx, actor, member_id, Use::kRead));
  RG_ASSIGN_OR_RETURN(auto before, ParseCursor(cursor));
  WalletView view;
  view.member_id = member_id;
  RG_ASSIGN_OR_RETURN(Rows bal, tx.Query("SELECT paid_minor, bonus_minor FROM wallet_balances "
                                         "WHERE merchant_id = ? AND member_id = ?",
                                         {actor.merchant_id, member_id}));
  if (!bal.empty()) view.balance = {bal[0].Int(0), bal[0].Int(1)};
  std::vector<Value> params = {actor.merchant_id, member_id};
  std::string sql = fmt::format(
      "SELECT {}, CAST((SELECT COALESCE(SUM(r.paid_minor + r.bonus_minor), 0) FROM "
      "wallet_entries r WHERE r.merchant_id = e.merchant_id AND r.related_entry_id = e.id AND "
      "r.kind = 'refund') AS BIGINT) FROM wallet_entries e WHERE e.merchant_id = ? AND "
      "e.member_id = ?",
      EntryCols("e."));
  if (before) {
    sql += " AND e.seq < ?";
    params.push_back(*before);
  }
  sql += " ORDER BY e.seq DESC LIMIT ?";
  params.push_back(int64_t{limit} + 1);
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  for (const Row& r : rows) {
    if (static_cast<int>(view.entries.size()) == limit) {
      view.next_cursor = std::to_string(view.entries.back().seq);
      break;
    }
    WalletEntry e = EntryFromRow(r);
    e.refunded_minor = r.Int(std::size(kEntryCols));
    view.entries.push_back(std::move(e));
  }
  return view;
}

Result<Page<BonusScheme>> ListBonusSchemes(store::Tx& tx, const Actor& actor,
                                           std::optional<std::string> cursor, int limit) {
  RG_ASSIGN_OR_RETURN(auto after, ParseCursor(cursor));
  std::vector<Value> params = {actor.merchant_id};
  std::string sql =
      fmt::format("SELECT {} FROM wallet_bonus_schemes WHERE merchant_id = ?", kSchemeCols);
  if (after) {
    sql += " AND id > ?";
    params.push_back(*after);
  }
  sql += " ORDER BY id LIMIT ?";
  params.push_back(int64_t{limit} + 1);
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  Page<BonusScheme> page;
  for (const Row& r : rows) {
    if (static_cast<int>(page.items.size()) == limit) {
      page.next_cursor = IdToString(page.items.back().id);
      break;
    }
    page.items.push_back(SchemeFromRow(r));
  }
  return page;
}

Result<BonusScheme> GetBonusScheme(store::Tx& tx, const Actor& actor, Id scheme_id) {
  RG_ASSIGN_OR_RETURN(auto s, LoadScheme(tx, actor.merchant_id, scheme_id));
  if (!s) return Fail(Code::kNotFound, "bonus scheme not found");
  return std::move(*s);
}

Result<BonusScheme> CreateBonusScheme(store::Tx& tx, const Actor& actor,
                                      const BonusSchemeInput& in) {
  RG_TRY(RequireManager(actor, "manage bonus schemes"));
  BonusScheme s;
  s.merchant_id = actor.merchant_id;
  s.id = NewId();
  s.created_at = s.updated_at = actor.now;
  RG_TRY(ApplySchemeInput(s, in, true));
  RG_TRY(tx.Exec(
      fmt::format("INSERT INTO wallet_bonus_schemes ({}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?)",
                  kSchemeCols),
      {s.merchant_id, s.id, s.name, s.pay_minor, s.bonus_minor, int64_t{s.repeats ? 1 : 0},
       Opt(s.valid_from), Opt(s.valid_to), int64_t{s.active ? 1 : 0}, s.created_at, s.updated_at}));
  return s;
}

Result<BonusScheme> UpdateBonusScheme(store::Tx& tx, const Actor& actor, Id scheme_id,
                                      const BonusSchemeInput& in) {
  RG_TRY(RequireManager(actor, "manage bonus schemes"));
  RG_ASSIGN_OR_RETURN(BonusScheme s, GetBonusScheme(tx, actor, scheme_id));
  RG_TRY(ApplySchemeInput(s, in, false));
  s.updated_at = actor.now;
  RG_TRY(
      tx.Exec("UPDATE wallet_bonus_schemes SET name = ?, pay_minor = ?, bonus_minor = ?, "
              "repeats = ?, valid_from = ?, valid_to = ?, active = ?, updated_at = ? WHERE "
              "merchant_id = ? AND id = ?",
              {s.name, s.pay_minor, s.bonus_minor, int64_t{s.repeats ? 1 : 0}, Opt(s.valid_from),
               Opt(s.valid_to), int64_t{s.active ? 1 : 0}, s.updated_at, s.merchant_id, s.id}));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Audit

Status CheckWallets(store::Tx& tx, std::vector<std::string>* problems) {
  // 1. Each balance row against the sum of its entries (and entries with no balance row).
  RG_ASSIGN_OR_RETURN(
      Rows sums,
      tx.Query("SELECT merchant_id, member_id, CAST(SUM(bp) AS BIGINT), CAST(SUM(bb) AS BIGINT), "
               "CAST(SUM(ep) AS BIGINT), CAST(SUM(eb) AS BIGINT), CAST(SUM(bs) AS BIGINT), "
               "CAST(SUM(n) AS BIGINT), CAST(SUM(rows_) AS BIGINT) FROM ("
               "SELECT merchant_id, member_id, paid_minor AS bp, bonus_minor AS bb, 0 AS ep, "
               "0 AS eb, last_seq AS bs, 0 AS n, 1 AS rows_ FROM wallet_balances "
               "UNION ALL SELECT merchant_id, member_id, 0, 0, paid_minor, bonus_minor, 0, 1, 0 "
               "FROM wallet_entries) x GROUP BY merchant_id, member_id "
               "HAVING SUM(bp) <> SUM(ep) OR SUM(bb) <> SUM(eb) OR SUM(bp) < 0 OR SUM(bb) < 0 "
               "OR SUM(bs) <> SUM(n) OR SUM(rows_) <> 1 ORDER BY merchant_id, member_id"));
  for (const Row& r : sums) {
    std::string who = fmt::format("merchant {} member {}", r.Int(0), r.Int(1));
    if (r.Int(8) != 1) {
      problems->push_back(fmt::format("{}: wallet has entries but no balance row", who));
      continue;
    }
    if (r.Int(2) < 0 || r.Int(3) < 0)
      problems->push_back(fmt::format("{}: wallet balance is negative (paid {}, bonus {})", who,
                                      r.Int(2), r.Int(3)));
    if (r.Int(2) != r.Int(4) || r.Int(3) != r.Int(5))
      problems->push_back(fmt::format(
          "{}: wallet balance is paid {} bonus {} but its entries sum to paid {} bonus {}", who,
          r.Int(2), r.Int(3), r.Int(4), r.Int(5)));
    if (r.Int(6) != r.Int(7))
      problems->push_back(
          fmt::format("{}: wallet last_seq is {} but it has {} entries", who, r.Int(6), r.Int(7)));
  }

  // 2. The chain of each wallet: seq 1, 2, 3, ...; *_after = previous *_after + change, never
  // negative; signs that fit the kind.
  RG_ASSIGN_OR_RETURN(
      Rows chain,
      tx.Query("SELECT merchant_id, member_id, id, seq, kind, paid_minor, bonus_minor, "
               "paid_after, bonus_after, related_entry_id, prev_seq, prev_paid, prev_bonus FROM ("
               "SELECT merchant_id, member_id, id, seq, kind, paid_minor, bonus_minor, "
               "paid_after, bonus_after, related_entry_id, LAG(seq) OVER w AS prev_seq, "
               "LAG(paid_after) OVER w AS prev_paid, LAG(bonus_after) OVER w AS prev_bonus "
               "FROM wallet_entries WINDOW w AS (PARTITION BY merchant_id, member_id ORDER BY "
               "seq)) x WHERE paid_after < 0 OR bonus_after < 0 "
               "OR COALESCE(prev_seq, 0) <> seq - 1 "
               "OR COALESCE(prev_paid, 0) + paid_minor <> paid_after "
               "OR COALESCE(prev_bonus, 0) + bonus_minor <> bonus_after "
               "OR kind NOT IN ('top_up', 'charge', 'refund', 'adjust', 'merge') "
               "OR (kind = 'top_up' AND (paid_minor <= 0 OR bonus_minor < 0)) "
               "OR (kind = 'charge' AND (paid_minor > 0 OR bonus_minor > 0 OR "
               "paid_minor + bonus_minor = 0)) "
               "OR (kind = 'refund' AND (paid_minor < 0 OR bonus_minor < 0 OR "
               "related_entry_id IS NULL)) "
               "ORDER BY merchant_id, member_id, seq"));
  for (const Row& r : chain) {
    std::string who = fmt::format("merchant {} member {} wallet entry {} (seq {}, {})", r.Int(0),
                                  r.Int(1), r.Int(2), r.Int(3), r.Str(4));
    int64_t prev_seq = r.OptInt(10).value_or(0);
    int64_t prev_paid = r.OptInt(11).value_or(0), prev_bonus = r.OptInt(12).value_or(0);
    if (r.Int(7) < 0 || r.Int(8) < 0)
      problems->push_back(fmt::format("{}: balance after is negative (paid {}, bonus {})", who,
                                      r.Int(7), r.Int(8)));
    if (prev_seq != r.Int(3) - 1)
      problems->push_back(fmt::format("{}: follows seq {}", who, prev_seq));
    if (prev_paid + r.Int(5) != r.Int(7) || prev_bonus + r.Int(6) != r.Int(8))
      problems->push_back(fmt::format(
          "{}: previous balance paid {} bonus {} plus change paid {} bonus {} is not the "
          "balance after, paid {} bonus {}",
          who, prev_paid, prev_bonus, r.Int(5), r.Int(6), r.Int(7), r.Int(8)));
    auto kind = ParseWalletEntryKind(r.Str(4));
    bool sign_ok = true;
    if (!kind)
      sign_ok = false;
    else if (*kind == WalletEntryKind::kTopUp)
      sign_ok = r.Int(5) > 0 && r.Int(6) >= 0;
    else if (*kind == WalletEntryKind::kCharge)
      sign_ok = r.Int(5) <= 0 && r.Int(6) <= 0 && r.Int(5) + r.Int(6) != 0;
    else if (*kind == WalletEntryKind::kRefund)
      sign_ok = r.Int(5) >= 0 && r.Int(6) >= 0 && !r.IsNull(9);
    if (!sign_ok)
      problems->push_back(fmt::format("{}: change paid {} bonus {} does not fit its kind", who,
                                      r.Int(5), r.Int(6)));
  }

  // 3. Refunds: each gives back a charge of the same member, never beyond what it took.
  RG_ASSIGN_OR_RETURN(
      Rows orphans,
      tx.Query("SELECT r.merchant_id, r.member_id, r.id FROM wallet_entries r LEFT JOIN "
               "wallet_entries c ON c.merchant_id = r.merchant_id AND c.id = r.related_entry_id "
               "AND c.member_id = r.member_id AND c.kind = 'charge' WHERE r.kind = 'refund' AND "
               "c.id IS NULL ORDER BY r.merchant_id, r.id"));
  for (const Row& r : orphans)
    problems->push_back(
        fmt::format("merchant {} member {} wallet refund {}: refunds no charge of this member",
                    r.Int(0), r.Int(1), r.Int(2)));
  RG_ASSIGN_OR_RETURN(
      Rows over,
      tx.Query("SELECT c.merchant_id, c.member_id, c.id, c.paid_minor, c.bonus_minor, "
               "CAST(SUM(r.paid_minor) AS BIGINT), CAST(SUM(r.bonus_minor) AS BIGINT) FROM "
               "wallet_entries c JOIN wallet_entries r ON r.merchant_id = c.merchant_id AND "
               "r.related_entry_id = c.id AND r.kind = 'refund' WHERE c.kind = 'charge' "
               "GROUP BY c.merchant_id, c.member_id, c.id, c.paid_minor, c.bonus_minor "
               "HAVING SUM(r.paid_minor) > -c.paid_minor OR SUM(r.bonus_minor) > -c.bonus_minor "
               "ORDER BY c.merchant_id, c.id"));
  for (const Row& r : over)
    problems->push_back(fmt::format(
        "merchant {} member {} wallet charge {}: took paid {} bonus {} but refunds gave back "
        "paid {} bonus {}",
        r.Int(0), r.Int(1), r.Int(2), -r.Int(3), -r.Int(4), r.Int(5), r.Int(6)));
  return {};
}

}  // namespace regulars::loyalty
