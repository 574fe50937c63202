#pragma once

// A segment definition compiled to one SQL query over the raw tables (members, orders,
// order_items, point_balances, stamp_cards, wallet_balances, member_tiers, tiers,
// member_consents) that returns the matching member ids in ascending order. It states the
// language's meaning a second way, independent of the feature store: the differential test
// (segment_diff_test.cpp) and the benchmark's SQL peers run it; the server never does.
//
// Meaning, as in the feature store: erased and merged members are absent; an order counts in
// `orders` and in first/last order when its net (total - refunded) is above zero, while every
// order of the member (refunded or not) counts as a purchase for category / sku / branch and
// for weekday / day_of_month; a window of N days keeps orders at or after
// (floor(now in seconds) - N * 86400) seconds. Calendar predicates use the merchant's zone:
// its UTC offsets are written into the query as a CASE over the zone's transitions.
//
// Not compiled (invalid_argument naming the node): the model outputs p_alive,
// expected_purchases_90d, expected_value_minor and rfm_group, which live only in memory.

#include <string>
#include <vector>

#include "base/error.h"
#include "insight/segment.h"
#include "store/db.h"

namespace regulars::insight {

struct SegmentSql {
  std::string sql;                   // "SELECT m.id FROM members m WHERE ... ORDER BY m.id"
  std::vector<store::Value> params;  // for the `?` placeholders, in order
};

struct SegmentSqlContext {
  store::Dialect dialect = store::Dialect::kSqlite;
  Id merchant_id = 0;
  Micros now = 0;
  std::string timezone = "UTC";  // the merchant's IANA zone
  SegmentResolver resolve;       // saved segments referenced by the tree (may be empty)
};

Result<SegmentSql> CompileSegmentSql(const SegmentNode& node, const SegmentSqlContext& ctx);

}  // namespace regulars::insight
