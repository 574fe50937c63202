#pragma once

// RFM scoring: recency, frequency and monetary value as quintile scores 1..5 per merchant over
// the members who bought, and the eleven named groups those scores fall into. Pure functions.
//
// Scores. Members who never bought (no order with a net amount > 0) get 0 everywhere and no
// group. The others are ranked ascending by each measure: R by days since the last order
// (descending, so the most recent rank last and score 5), F by orders, M by spend (net of
// refunds). A member at rank position p (0-based) of n scores 1 + floor(5p / n). Ties share a
// score: every member of a run of equal values takes the score of the run's first position, so
// the result depends only on the values, never on member order or ids.
//
// Groups (the widely used 11-segment RFM map, on R and FM = round-half-up((F + M) / 2)):
//
//   R \ FM |  1               2                 3                 4          5
//   -------+------------------------------------------------------------------------------
//     5    |  new_customers   potential_loyalist potential_loyalist champions  champions
//     4    |  promising       potential_loyalist potential_loyalist loyal      loyal
//     3    |  about_to_sleep  about_to_sleep    need_attention    loyal      loyal
//     2    |  hibernating     hibernating       at_risk           at_risk    cant_lose
//     1    |  lost            lost              at_risk           at_risk    cant_lose

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/time.h"

namespace regulars::insight {

struct MerchantFeatures;

enum class RfmGroup : uint8_t {
  kNone = 0,  // never bought
  kChampions,
  kLoyal,
  kPotentialLoyalist,
  kNewCustomers,
  kPromising,
  kNeedAttention,
  kAboutToSleep,
  kAtRisk,
  kCantLose,
  kHibernating,
  kLost,
};

// "champions", "loyal", ...; "" for kNone.
std::string_view RfmGroupName(RfmGroup g);
std::optional<RfmGroup> ParseRfmGroup(std::string_view name);
// The eleven group names, in enum order.
const std::array<std::string_view, 11>& RfmGroupNames();

// The group of scores r, f, m in 1..5 (kNone if any is 0).
RfmGroup GroupOf(int r, int f, int m);

// One buyer's measures.
struct RfmInput {
  int64_t days_since_last_order = 0;
  int64_t orders = 0;
  int64_t spend_minor = 0;
};
struct RfmScore {
  uint8_t r = 0, f = 0, m = 0;
  RfmGroup group = RfmGroup::kNone;
};

// Quintile scores of `values` ascending (higher value, higher score), ties sharing a score.
std::vector<uint8_t> QuintileScores(const std::vector<int64_t>& values);
// Scores of every buyer (same order as `buyers`).
std::vector<RfmScore> ScoreRfm(const std::vector<RfmInput>& buyers);

// Scores every member of `f` as of `now` (fills rfm_r, rfm_f, rfm_m, rfm_group). Recency in
// whole days: floor((now - last_order_at) / 1 day).
void ApplyRfm(MerchantFeatures& f, Micros now);

}  // namespace regulars::insight
