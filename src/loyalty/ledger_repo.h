#pragma once

// The points ledger's primitives, each inside the caller's transaction. Every primitive first
// takes the (member, point type) balance row with an UPDATE, which on PostgreSQL row-locks it
// until commit (SQLite has one writer), so concurrent changes to one balance are serialised and
// can never overdraw it. Entries are append-only. Invariant, for every balance row:
//   balance = SUM(entries.amount) = SUM(open lots.remaining) - debt.

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "store/db.h"

namespace regulars::loyalty {

struct EntryInput {
  Id member_id = 0;
  Id point_type_id = 0;
  std::string kind;    // earn, redeem, reserve, release, adjust, expire, reverse, merge, import
  int64_t amount = 0;  // magnitude for Credit/Debit; the entry stores it signed
  std::string reason;
  std::string source_type;  // order, refund, redemption, staff, campaign, system, merge
  std::optional<Id> source_id;
  std::optional<Id> branch_id;
  std::optional<Id> staff_id;
  Micros now = 0;
};

struct Entry {
  Id merchant_id = 0;
  Id id = 0;
  Id member_id = 0;
  Id point_type_id = 0;
  std::string kind;
  int64_t amount = 0;
  int64_t balance_after = 0;
  std::string reason;
  std::string source_type;
  std::optional<Id> source_id;
  std::optional<Id> branch_id;
  std::optional<Id> staff_id;
  Micros created_at = 0;
};

struct Balance {
  Id point_type_id = 0;
  int64_t balance = 0;
  int64_t debt = 0;
  int64_t earned_total = 0;
};

struct Lot {
  Id id = 0;
  Micros earned_at = 0;
  std::optional<Micros> expires_at;
  int64_t original = 0;
  int64_t remaining = 0;
};

// Adds points: pays any debt first, the rest becomes a lot expiring at `expires_at`.
Result<Entry> Credit(store::Tx& tx, Id merchant_id, const EntryInput& in,
                     std::optional<Micros> expires_at);

// Takes points from lots, soonest-expiring first (lots created by `prefer_entries` first).
// Without `allow_shortfall`, more than the balance is failed_precondition
// ("points: the balance is only N"); with it, what lots cannot cover becomes debt.
Result<Entry> Debit(store::Tx& tx, Id merchant_id, const EntryInput& in, bool allow_shortfall,
                    const std::vector<Id>& prefer_entries = {});

// Gives back to exactly the lots that `original_entry` took from (releasing a reservation).
Result<Entry> Restore(store::Tx& tx, Id merchant_id, const EntryInput& in, Id original_entry);

// Records an entry of amount 0 (a reservation committed as a redemption).
Result<Entry> Mark(store::Tx& tx, Id merchant_id, const EntryInput& in);

// Expires every due lot of a merchant (expires_at <= now). Running it twice changes nothing.
// Returns the number of points expired.
Result<int64_t> ExpireDueLots(store::Tx& tx, Id merchant_id, Micros now, int max_lots = 10000);

Result<std::vector<Balance>> LoadBalances(store::Tx& tx, Id merchant_id, Id member_id);
Result<std::vector<Lot>> OpenLots(store::Tx& tx, Id merchant_id, Id member_id, Id point_type_id);
// Entries newest first with id < before (0: from the newest).
Result<std::vector<Entry>> LoadEntries(store::Tx& tx, Id merchant_id, Id member_id, Id before,
                                       int limit);
Result<std::vector<Entry>> EntriesForSource(store::Tx& tx, Id merchant_id,
                                            const std::string& source_type, Id source_id);

// Audits every balance of every merchant against its entries and lots; appends one line per
// mismatch to `problems`.
Status CheckLedger(store::Tx& tx, std::vector<std::string>* problems);

}  // namespace regulars::loyalty
