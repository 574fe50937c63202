#pragma once

// Loyalty reports: what the merchant owes (points and prepaid liability, with estimated value)
// and what moved (points earned and redeemed per branch and local day).

#include <optional>
#include <string>
#include <vector>

#include "accounts/account.h"
#include "store/db.h"

namespace regulars::loyalty {

struct LiabilityRow {
  std::string kind;             // "points" or "wallet"
  std::string point_type;       // code for points; "paid" / "bonus" for the wallet
  std::optional<Id> branch_id;  // the members' home branch
  int64_t members = 0;
  int64_t outstanding = 0;  // points, or minor units
  int64_t value_minor = 0;  // estimated value in minor units
};
Result<std::vector<LiabilityRow>> LiabilityReport(store::Tx& tx, const accounts::Actor& actor);

struct ActivityRow {
  std::string day;  // local YYYY-MM-DD
  std::optional<Id> branch_id;
  std::string point_type;
  int64_t earned = 0;
  int64_t redeemed = 0;  // reserved and not released, incl. committed
  int64_t expired = 0;
  int64_t reversed = 0;
};
// [from, to) in UTC; days are the merchant's local days (the zone's offset at `from`).
Result<std::vector<ActivityRow>> PointsActivityReport(store::Tx& tx, const accounts::Actor& actor,
                                                      Micros from, Micros to,
                                                      std::optional<Id> branch_id);

// RFC 4180 CSV of a report.
std::string LiabilityCsv(const std::vector<LiabilityRow>& rows);
std::string ActivityCsv(const std::vector<ActivityRow>& rows);

}  // namespace regulars::loyalty
