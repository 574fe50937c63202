#include "insight/rfm.h"

#include <algorithm>
#include <numeric>

#include "insight/feature_store.h"

namespace regulars::insight {

namespace {

constexpr std::array<std::string_view, 11> kNames = {
    "champions",      "loyal",     "potential_loyalist",
    "new_customers",  "promising", "need_attention",
    "about_to_sleep", "at_risk",   "cant_lose",
    "hibernating",    "lost"};

using G = RfmGroup;
// kGrid[r - 1][fm - 1]: the table in rfm.h.
constexpr G kGrid[5][5] = {
    {G::kLost, G::kLost, G::kAtRisk, G::kAtRisk, G::kCantLose},
    {G::kHibernating, G::kHibernating, G::kAtRisk, G::kAtRisk, G::kCantLose},
    {G::kAboutToSleep, G::kAboutToSleep, G::kNeedAttention, G::kLoyal, G::kLoyal},
    {G::kPromising, G::kPotentialLoyalist, G::kPotentialLoyalist, G::kLoyal, G::kLoyal},
    {G::kNewCustomers, G::kPotentialLoyalist, G::kPotentialLoyalist, G::kChampions, G::kChampions},
};

}  // namespace

std::string_view RfmGroupName(RfmGroup g) {
  auto i = static_cast<size_t>(g);
  return i == 0 || i > kNames.size() ? std::string_view() : kNames[i - 1];
}

std::optional<RfmGroup> ParseRfmGroup(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<RfmGroup>(i + 1);
  return std::nullopt;
}

const std::array<std::string_view, 11>& RfmGroupNames() { return kNames; }

RfmGroup GroupOf(int r, int f, int m) {
  if (r < 1 || r > 5 || f < 1 || f > 5 || m < 1 || m > 5) return RfmGroup::kNone;
  int fm = (f + m + 1) / 2;
  return kGrid[r - 1][fm - 1];
}

std::vector<uint8_t> QuintileScores(const std::vector<int64_t>& values) {
  size_t n = values.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<uint8_t> out(n, 0);
  size_t run_start = 0;
  for (size_t p = 0; p < n; ++p) {
    if (p > 0 && values[order[p]] != values[order[p - 1]]) run_start = p;
    out[order[p]] = static_cast<uint8_t>(1 + (5 * run_start) / n);
  }
  return out;
}

std::vector<RfmScore> ScoreRfm(const std::vector<RfmInput>& buyers) {
  std::vector<int64_t> rv, fv, mv;
  rv.reserve(buyers.size());
  fv.reserve(buyers.size());
  mv.reserve(buyers.size());
  for (const auto& b : buyers) {
    rv.push_back(-b.days_since_last_order);  // more recent, higher score
    fv.push_back(b.orders);
    mv.push_back(b.spend_minor);
  }
  auto r = QuintileScores(rv), f = QuintileScores(fv), m = QuintileScores(mv);
  std::vector<RfmScore> out(buyers.size());
  for (size_t i = 0; i < buyers.size(); ++i) out[i] = {r[i], f[i], m[i], GroupOf(r[i], f[i], m[i])};
  return out;
}

void ApplyRfm(MerchantFeatures& f, Micros now) {
  size_t n = f.member_ids.size();
  std::vector<RfmInput> in;
  std::vector<uint32_t> who;
  for (uint32_t i = 0; i < n; ++i) {
    if (f.orders[i] <= 0) continue;
    Micros since = now - f.last_order_at[i];
    int64_t days =
        since >= 0 ? since / kMicrosPerDay : -((-since + kMicrosPerDay - 1) / kMicrosPerDay);
    in.push_back({days, f.orders[i], f.spend_minor[i]});
    who.push_back(i);
  }
  auto scores = ScoreRfm(in);
  f.rfm_r.assign(n, 0);
  f.rfm_f.assign(n, 0);
  f.rfm_m.assign(n, 0);
  f.rfm_group.assign(n, 0);
  for (size_t k = 0; k < who.size(); ++k) {
    uint32_t i = who[k];
    f.rfm_r[i] = scores[k].r;
    f.rfm_f[i] = scores[k].f;
    f.rfm_m[i] = scores[k].m;
    f.rfm_group[i] = static_cast<uint8_t>(scores[k].group);
  }
}

}  // namespace regulars::insight
