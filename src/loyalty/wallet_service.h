#pragma once

// Prepaid wallet use cases. Each runs inside the caller's transaction: it writes one ledger
// entry, moves the materialised balance and appends its domain event there, so the three
// commit together or not at all. Every function filters by actor.merchant_id: another
// merchant's member, charge or scheme is not_found.
//
// Concurrency: every change first takes the member's wallet_balances row lock with an UPDATE,
// then reads the balance, decides (wallet.h) and writes the new balance with a compare-and-set
// on the wallet's entry seq. On PostgreSQL at READ COMMITTED this serialises the changes of one
// wallet (a waiting transaction reads the balance its predecessor committed); on SQLite the
// single writer does. A wallet never goes below zero, whatever runs at the same time.
//
// Events (the e-receipt facts messaging consumes): wallet_topped_up, wallet_charged,
// wallet_refunded, wallet_adjusted, each with the entry id, the amounts (paid and bonus), the
// balance after, the currency, and where applicable scheme, order, charge, branch and staff.
//
// The SQL lives in wallet_service.cpp (there is no wallet_repo: the tables are used only here).

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "loyalty/wallet.h"
#include "store/db.h"

namespace regulars::loyalty {

// What the wallet needs to know about the merchant.
struct WalletContext {
  std::string currency = "TWD";  // ISO 4217, recorded on every entry and event
};

// A change and the balance right after it.
struct WalletChange {
  WalletEntry entry;
  WalletBalance balance;
};

// Adds paid value and the bonus of the best scheme in force (or of in.scheme_id). Any role.
// An erased or merged-away member is failed_precondition.
Result<WalletChange> TopUpWallet(store::Tx& tx, const accounts::Actor& actor,
                                 const WalletContext& wc, Id member_id, const WalletTopUpInput& in);

// Takes amount_minor, split between paid and bonus value (wallet.h). Any role. More than the
// wallet holds is failed_precondition "amount_minor: the wallet holds only N"; nothing is
// written then.
Result<WalletChange> ChargeWallet(store::Tx& tx, const accounts::Actor& actor,
                                  const WalletContext& wc, Id member_id,
                                  const WalletChargeInput& in);

// Gives back (part of) a charge of this member, to the parts it took from. Any role. An unknown
// charge is not_found (field charge_id); beyond what is left of it is failed_precondition.
Result<WalletChange> RefundWalletCharge(store::Tx& tx, const accounts::Actor& actor,
                                        const WalletContext& wc, Id member_id,
                                        const WalletRefundInput& in);

// Signed corrections to paid and/or bonus value, with a reason. Owner or manager only. Never
// below zero.
Result<WalletChange> AdjustWallet(store::Tx& tx, const accounts::Actor& actor,
                                  const WalletContext& wc, Id member_id,
                                  const WalletAdjustInput& in);

// Moves the whole wallet of `from` to `into` after members::MergeMembers, in the same
// transaction: a "merge" entry taking everything from `from` and one giving it to `into`, paid
// and bonus value kept apart (wallet_merged events). Both wallets are locked in id order, so
// two merges cannot deadlock. Refunds of charges made by `from` are no longer possible (its
// wallet refuses changes once merged). Nothing happens when `from` holds nothing.
Status MergeWallets(store::Tx& tx, const accounts::Actor& actor, const WalletContext& wc, Id into,
                    Id from);

// The balance (zero for a member who never had a wallet) and one page of entries, newest
// first. `cursor` is opaque (from next_cursor of the previous page).
struct WalletView {
  Id member_id = 0;
  WalletBalance balance;
  std::vector<WalletEntry> entries;
  std::optional<std::string> next_cursor;
};
Result<WalletView> GetWallet(store::Tx& tx, const accounts::Actor& actor, Id member_id,
                             std::optional<std::string> cursor, int limit);

// Bonus schemes. Everyone may list them (the counter shows them); owners and managers change
// them. There is no delete: `active: false` retires a scheme and keeps history readable.
Result<Page<BonusScheme>> ListBonusSchemes(store::Tx& tx, const accounts::Actor& actor,
                                           std::optional<std::string> cursor, int limit);
Result<BonusScheme> GetBonusScheme(store::Tx& tx, const accounts::Actor& actor, Id scheme_id);
Result<BonusScheme> CreateBonusScheme(store::Tx& tx, const accounts::Actor& actor,
                                      const BonusSchemeInput& in);
Result<BonusScheme> UpdateBonusScheme(store::Tx& tx, const accounts::Actor& actor, Id scheme_id,
                                      const BonusSchemeInput& in);

// Audits the wallets of every merchant and appends one line per problem found: a balance that
// differs from the sum of its entries, a negative balance or entry balance, a broken seq chain
// (an entry whose *_after is not the previous one's plus its change), an entry whose sign does
// not fit its kind, a charge refunded beyond what it took. Read-only; for `regulars check`.
Status CheckWallets(store::Tx& tx, std::vector<std::string>* problems);

}  // namespace regulars::loyalty
