#pragma once

// Migration 6: indexes found missing by measurement.

#include <string_view>

namespace regulars::store::schema {

// `regulars check` sums lot_moves per lot; without this it scanned every move of the merchant
// for every lot (quadratic).
inline constexpr std::string_view kIndexes = R"sql(
CREATE INDEX lot_moves_lot ON lot_moves (merchant_id, lot_id);
)sql";

}  // namespace regulars::store::schema
