#include "insight/feature_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <unordered_set>

#include "events/event_repo.h"

namespace regulars::insight {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;

// ---------------------------------------------------------------------------------------------
// Dictionary

Dictionary::Dictionary() {
  names_.emplace_back();
  codes_.emplace(std::string(), 0);
}

uint32_t Dictionary::Code(std::string_view s) {
  if (s.empty()) return 0;
  if (auto it = codes_.find(std::string(s)); it != codes_.end()) return it->second;
  auto code = static_cast<uint32_t>(names_.size());
  names_.emplace_back(s);
  codes_.emplace(std::string(s), code);
  return code;
}

std::optional<uint32_t> Dictionary::Find(std::string_view s) const {
  if (auto it = codes_.find(std::string(s)); it != codes_.end()) return it->second;
  return std::nullopt;
}

const std::string& Dictionary::Name(uint32_t code) const {
  return code < names_.size() ? names_[code] : names_[0];
}

size_t Dictionary::MemoryBytes() const {
  size_t n = names_.capacity() * sizeof(std::string);
  for (const auto& s : names_)
    if (s.capacity() > 15) n += s.capacity();
  // Hash node: key string + code + next pointer and the bucket array.
  n += codes_.size() * (sizeof(std::string) + sizeof(uint32_t) + 2 * sizeof(void*));
  n += codes_.bucket_count() * sizeof(void*);
  for (const auto& [s, code] : codes_)
    if (s.capacity() > 15) n += s.capacity();
  return n;
}

// ---------------------------------------------------------------------------------------------
// MemberIndex

MemberIndex::MemberIndex(std::initializer_list<std::pair<Id, uint32_t>> entries) {
  for (const auto& [id, i] : entries) (*this)[id] = i;
}

MemberIndex::const_iterator MemberIndex::find(Id id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return end();
  return {this, static_cast<size_t>(it - ids_.begin())};
}

uint32_t MemberIndex::at(Id id) const {
  auto it = find(id);
  if (it == end()) throw std::out_of_range("member " + IdToString(id) + " not in the index");
  return it->second;
}

uint32_t& MemberIndex::operator[](Id id) {
  // New ids are the largest almost always (they sort by creation time): append.
  if (ids_.empty() || ids_.back() < id) {
    ids_.push_back(id);
    index_.push_back(0);
    return index_.back();
  }
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  auto k = static_cast<size_t>(it - ids_.begin());
  if (*it != id) {
    ids_.insert(it, id);
    index_.insert(index_.begin() + static_cast<ptrdiff_t>(k), 0);
  }
  return index_[k];
}

size_t MemberIndex::erase(Id id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return 0;
  auto k = it - ids_.begin();
  ids_.erase(it);
  index_.erase(index_.begin() + k);
  return 1;
}

// ---------------------------------------------------------------------------------------------
// OrderShapes

OrderShapes::OrderShapes() {
  start_ = {0, 1};
  words_ = {0};  // shape 0: branch 0, no codes
  Rehash(64);
}

uint64_t OrderShapes::Hash(uint32_t branch, std::span<const uint32_t> codes) {
  // FNV-1a over the words, then a final mix (the low bits pick the slot).
  uint64_t h = 0xcbf2'9ce4'8422'2325ull;
  auto mix = [&](uint32_t w) {
    h ^= w;
    h *= 0x0000'0100'0000'01b3ull;
  };
  mix(branch);
  for (uint32_t c : codes) mix(c);
  h ^= h >> 33;
  h *= 0xff51'afd7'ed55'8ccdull;
  h ^= h >> 33;
  return h;
}

void OrderShapes::Rehash(size_t slots) {
  slots_.assign(slots, kEmpty);
  const size_t mask = slots - 1;
  for (uint32_t s = 0; s < size(); ++s) {
    size_t k = Hash(Branch(s), Codes(s)) & mask;
    while (slots_[k] != kEmpty) k = (k + 1) & mask;
    slots_[k] = s;
  }
}

uint32_t OrderShapes::Intern(uint32_t branch, std::span<const uint32_t> codes) {
  const size_t mask = slots_.size() - 1;
  size_t k = Hash(branch, codes) & mask;
  for (; slots_[k] != kEmpty; k = (k + 1) & mask) {
    uint32_t s = slots_[k];
    if (Branch(s) != branch) continue;
    auto have = Codes(s);
    if (have.size() == codes.size() && std::equal(have.begin(), have.end(), codes.begin()))
      return s;
  }
  auto id = static_cast<uint32_t>(size());
  words_.push_back(branch);
  words_.insert(words_.end(), codes.begin(), codes.end());
  start_.push_back(static_cast<uint32_t>(words_.size()));
  slots_[k] = id;
  if (size() * 2 > slots_.size()) Rehash(slots_.size() * 2);  // load at most 1/2
  return id;
}

size_t OrderShapes::MemoryBytes() const {
  return (start_.capacity() + words_.capacity() + slots_.capacity()) * sizeof(uint32_t);
}

// ---------------------------------------------------------------------------------------------
// MerchantFeatures

namespace {

template <class T>
size_t VecBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

size_t BitmapsBytes(const std::vector<roaring::Roaring>& v) {
  size_t n = VecBytes(v);
  for (const auto& b : v) n += b.getSizeInBytes(false);
  return n;
}

// Calls fn on every per-member column (the vectors indexed by member index).
template <class F>
void ForEachColumn(MerchantFeatures& f, F&& fn) {
  fn(f.member_ids);
  fn(f.joined_at);
  fn(f.first_order_at);
  fn(f.last_order_at);
  fn(f.orders);
  fn(f.spend_minor);
  fn(f.birth_month);
  fn(f.birth_day);
  fn(f.region);
  fn(f.city);
  fn(f.gender);
  fn(f.language);
  fn(f.tier_rank);
  fn(f.tier_id);
  fn(f.points);
  fn(f.wallet_minor);
  fn(f.consent);
  fn(f.logs);
  fn(f.p_alive);
  fn(f.expected_purchases_90d);
  fn(f.expected_value_minor);
  fn(f.rfm_r);
  fn(f.rfm_f);
  fn(f.rfm_m);
  fn(f.rfm_group);
}

void Grow(std::vector<roaring::Roaring>& v, uint32_t code) {
  if (v.size() <= code) v.resize(code + 1);
}

// The distinct bitmap codes member i's order log touches.
struct LogCodes {
  std::set<uint32_t> categories, skus, branches;
};
LogCodes CodesOf(const MerchantFeatures& f, uint32_t i) {
  LogCodes c;
  for (const OrderFact& o : f.Orders(i)) {
    if (uint32_t b = f.Branch(o)) c.branches.insert(b);
    for (uint32_t code : f.Items(o)) {
      if (code & MerchantFeatures::kSkuCodeBit)
        c.skus.insert(code & ~MerchantFeatures::kSkuCodeBit);
      else
        c.categories.insert(code);
    }
  }
  return c;
}

// Unix seconds as an OrderFact keeps them (clamped to uint32).
uint32_t FactSeconds(int64_t at_s) {
  return static_cast<uint32_t>(
      std::clamp<int64_t>(at_s, 0, int64_t{std::numeric_limits<uint32_t>::max()}));
}

// Makes room in `v` for `n` elements: grows by a sixteenth (at least 4,096) rather than doubling,
// so a live order after the build does not double the array the store counts.
void Reserve(std::vector<OrderFact>& v, size_t n) {
  if (n <= v.capacity()) return;
  v.reserve(std::max(n, v.capacity() + std::max<size_t>(v.capacity() / 16, 4096)));
}

}  // namespace

std::vector<std::pair<std::string, size_t>> MerchantFeatures::MemoryBreakdown() const {
  std::vector<std::pair<std::string, size_t>> out;
  out.emplace_back("struct", sizeof(MerchantFeatures));
  out.emplace_back("order_facts", VecBytes(order_facts));
  out.emplace_back("logs", VecBytes(logs));
  out.emplace_back("big_nets", VecBytes(big_nets));
  out.emplace_back("shapes", shapes.MemoryBytes());
  out.emplace_back("index_of", index_of.MemoryBytes());
  out.emplace_back("member_ids", VecBytes(member_ids));
  out.emplace_back("joined_at", VecBytes(joined_at));
  out.emplace_back("first_order_at", VecBytes(first_order_at));
  out.emplace_back("last_order_at", VecBytes(last_order_at));
  out.emplace_back("orders", VecBytes(orders));
  out.emplace_back("spend_minor", VecBytes(spend_minor));
  out.emplace_back("birth_month+day", VecBytes(birth_month) + VecBytes(birth_day));
  out.emplace_back("region+city+gender+language",
                   VecBytes(region) + VecBytes(city) + VecBytes(gender) + VecBytes(language));
  out.emplace_back("tier_rank+tier_id", VecBytes(tier_rank) + VecBytes(tier_id));
  out.emplace_back("points+wallet_minor", VecBytes(points) + VecBytes(wallet_minor));
  out.emplace_back("consent", VecBytes(consent));
  out.emplace_back(
      "scores (p_alive, expected_*)",
      VecBytes(p_alive) + VecBytes(expected_purchases_90d) + VecBytes(expected_value_minor));
  out.emplace_back("rfm",
                   VecBytes(rfm_r) + VecBytes(rfm_f) + VecBytes(rfm_m) + VecBytes(rfm_group));
  size_t dicts = 0;
  for (const Dictionary* d :
       {&regions, &cities, &genders, &languages, &branches, &categories, &skus, &tags})
    dicts += d->MemoryBytes();
  out.emplace_back("dictionaries", dicts);
  out.emplace_back("bitmaps", BitmapsBytes(tag_members) + BitmapsBytes(category_members) +
                                  BitmapsBytes(sku_members) + BitmapsBytes(branch_members));
  return out;
}

size_t MerchantFeatures::MemoryBytes() const {
  size_t n = 0;
  for (const auto& [name, bytes] : MemoryBreakdown()) n += bytes;
  return n;
}

void MerchantFeatures::InsertOrder(uint32_t i, int64_t at_s, int64_t net_minor, uint32_t branch,
                                   std::span<const uint32_t> codes) {
  OrderFact fact;
  fact.at_s = FactSeconds(at_s);
  fact.shape = shapes.Intern(branch, codes);
  OrderLogRef& r = logs[i];
  if (r.start + r.count != order_facts.size()) {
    // Not the last slice: move the log to the end (the old copy is garbage).
    Reserve(order_facts, order_facts.size() + r.count + 1);
    const auto start = static_cast<uint32_t>(order_facts.size());
    for (uint32_t k = 0; k < r.count; ++k) order_facts.push_back(order_facts[r.start + k]);
    garbage_facts += r.count;
    r.start = start;
  } else {
    Reserve(order_facts, order_facts.size() + 1);
  }
  // After the facts at the same second (the log is oldest first).
  auto begin = order_facts.begin() + r.start;
  auto pos = std::upper_bound(begin, order_facts.end(), fact.at_s,
                              [](uint32_t at, const OrderFact& o) { return at < o.at_s; });
  auto k = static_cast<size_t>(pos - order_facts.begin());
  order_facts.insert(pos, fact);
  ++r.count;
  SetNet(k, net_minor);
  if (garbage_facts > kCompactMinGarbage && garbage_facts * kCompactFraction > order_facts.size())
    CompactOrderLogs();
}

void MerchantFeatures::SetNet(size_t k, int64_t net_minor) {
  OrderFact& o = order_facts[k];
  net_minor = std::max<int64_t>(0, net_minor);
  if (net_minor <= std::numeric_limits<int32_t>::max()) {
    o.net = static_cast<int32_t>(net_minor);
  } else if (o.net < 0) {
    big_nets[static_cast<size_t>(-(int64_t{o.net} + 1))] = net_minor;
  } else {
    big_nets.push_back(net_minor);
    o.net = static_cast<int32_t>(-static_cast<int64_t>(big_nets.size()));
  }
}

void MerchantFeatures::CompactOrderLogs() {
  std::vector<OrderFact> out;
  const size_t live = order_facts.size() - garbage_facts;
  out.reserve(live + live / 16);
  for (OrderLogRef& r : logs) {
    const auto start = static_cast<uint32_t>(out.size());
    out.insert(out.end(), order_facts.begin() + r.start, order_facts.begin() + r.start + r.count);
    r.start = start;
  }
  order_facts = std::move(out);
  garbage_facts = 0;
}

void RecomputeOrderTotals(MerchantFeatures& f, uint32_t i) {
  int32_t orders = 0;
  int64_t spend = 0;
  Micros first = 0, last = 0;
  for (const OrderFact& o : f.Orders(i)) {
    int64_t net = f.NetMinor(o);
    if (net <= 0) continue;
    ++orders;
    spend += net;
    Micros at = int64_t{o.at_s} * kMicrosPerSecond;
    if (first == 0 || at < first) first = at;
    if (at > last) last = at;
  }
  f.orders[i] = orders;
  f.spend_minor[i] = spend;
  f.first_order_at[i] = first;
  f.last_order_at[i] = last;
}

void ApplyOrder(MerchantFeatures& f, const OrderInput& order) {
  if (order.member_id == 0) return;
  auto it = f.index_of.find(order.member_id);
  if (it == f.index_of.end()) return;
  uint32_t i = it->second;

  const uint32_t branch = order.branch_id ? f.branches.Code(IdToString(order.branch_id)) : 0;
  // The order's distinct codes, sorted (small: a linear check beats a set).
  std::vector<uint32_t> codes;
  codes.reserve(order.items.size() * 2);
  auto add_code = [&](uint32_t code) {
    if (std::find(codes.begin(), codes.end(), code) != codes.end()) return false;
    codes.push_back(code);
    return true;
  };
  for (const auto& item : order.items) {
    if (!item.category.empty()) {
      uint32_t c = f.categories.Code(item.category);
      if (add_code(c)) {
        Grow(f.category_members, c);
        f.category_members[c].add(i);
      }
    }
    if (!item.sku.empty()) {
      uint32_t s = f.skus.Code(item.sku);
      if (add_code(s | MerchantFeatures::kSkuCodeBit)) {
        Grow(f.sku_members, s);
        f.sku_members[s].add(i);
      }
    }
  }
  std::sort(codes.begin(), codes.end());
  if (branch) {
    Grow(f.branch_members, branch);
    f.branch_members[branch].add(i);
  }
  const int64_t net = std::max<int64_t>(0, order.total_minor - order.refunded_minor);
  const int64_t at_s = FactSeconds(order.occurred_at / kMicrosPerSecond);
  f.InsertOrder(i, at_s, net, branch, codes);
  if (net > 0) {
    ++f.orders[i];
    f.spend_minor[i] += net;
    Micros at = at_s * kMicrosPerSecond;
    if (f.first_order_at[i] == 0 || at < f.first_order_at[i]) f.first_order_at[i] = at;
    if (at > f.last_order_at[i]) f.last_order_at[i] = at;
  }
}

bool ApplyRefund(MerchantFeatures& f, Id member_id, Micros occurred_at, int64_t net_before,
                 int64_t amount_minor) {
  auto it = f.index_of.find(member_id);
  if (it == f.index_of.end()) return false;
  uint32_t i = it->second;
  const uint32_t at_s = FactSeconds(occurred_at / kMicrosPerSecond);
  const OrderLogRef r = f.logs[i];
  for (size_t k = r.start + r.count; k-- > r.start;) {
    const OrderFact& o = f.order_facts[k];
    int64_t before = f.NetMinor(o);
    if (o.at_s != at_s || before != std::max<int64_t>(0, net_before)) continue;
    f.SetNet(k, before - amount_minor);
    int64_t after = f.NetMinor(f.order_facts[k]);
    if (before > 0 && after == 0) {
      RecomputeOrderTotals(f, i);
    } else {
      f.spend_minor[i] -= before - after;
    }
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Loading from the database

namespace {

struct TierInfo {
  int rank = 0;
  Id id = 0;
};

struct MerchantMeta {
  std::string timezone, currency;
  int64_t last_seq = 0;
  std::map<int, TierInfo> tiers;  // level -> rank, id
};

// One live member as read from the database.
struct MemberData {
  Id id = 0;
  Micros created_at = 0;
  int birth_month = 0, birth_day = 0;
  std::string gender, region, city, language;
  std::vector<std::string> tags;
  int tier_level = 0;
  int64_t points = 0;
  int64_t wallet = 0;
  uint8_t consent = 0;
  std::vector<OrderInput> orders;  // oldest first
};

std::string Placeholders(size_t n) {
  std::string s;
  for (size_t k = 0; k < n; ++k) s += k ? ", ?" : "?";
  return s;
}

Result<MerchantMeta> LoadMeta(Tx& tx, Id merchant_id) {
  MerchantMeta m;
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query("SELECT timezone, currency, last_event_seq FROM merchants WHERE merchant_id = ?",
               {merchant_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
  m.timezone = rows[0].Str(0);
  m.currency = rows[0].Str(1);
  m.last_seq = rows[0].Int(2);
  RG_ASSIGN_OR_RETURN(
      Rows tiers,
      tx.Query("SELECT level, id FROM tiers WHERE merchant_id = ? ORDER BY level", {merchant_id}));
  int rank = 0;
  for (const Row& t : tiers) m.tiers[static_cast<int>(t.Int(0))] = {++rank, t.Int(1)};
  return m;
}

// One page of a keyset walk over a merchant's members: the first `limit` live members with
// id > `after`, in id order.
struct MemberPage {
  Id after = 0;
  size_t limit = 0;
};

// Live (not erased, not merged) members of a merchant: those of `ids`, else those of `page`.
// For a page, the per-member tables are read for the id range the page's members span, so
// each query returns about one page's rows however large the merchant is.
Result<std::vector<MemberData>> LoadMembers(Tx& tx, Id merchant_id, const std::vector<Id>* ids,
                                            Micros now, MemberPage page = {}) {
  std::vector<MemberData> out;
  std::unordered_map<Id, size_t> at;
  Id range_lo = 0, range_hi = 0;  // page mode: the page's first and last member id
  auto scoped = [&](std::string_view sql, std::string_view member_col,
                    const std::vector<Id>& chunk) {
    std::string q(sql);
    std::vector<Value> params{merchant_id};
    if (ids) {
      q += fmt::format(" AND {} IN ({})", member_col, Placeholders(chunk.size()));
      for (Id id : chunk) params.emplace_back(id);
    } else if (range_hi != 0) {
      q += fmt::format(" AND {0} >= ? AND {0} <= ?", member_col);
      params.emplace_back(range_lo);
      params.emplace_back(range_hi);
    }
    return std::make_pair(q, params);
  };
  // Chunks of ids (or one pass over the whole merchant).
  std::vector<std::vector<Id>> chunks;
  if (ids) {
    for (size_t k = 0; k < ids->size(); k += 400)
      chunks.emplace_back(ids->begin() + static_cast<ptrdiff_t>(k),
                          ids->begin() + static_cast<ptrdiff_t>(std::min(ids->size(), k + 400)));
  } else {
    chunks.emplace_back();
  }
  for (const auto& chunk : chunks) {
    if (ids && chunk.empty()) continue;
    auto [q, p] = scoped(
        "SELECT id, created_at, birth_month, birth_day, gender, region, city, language, tags "
        "FROM members WHERE merchant_id = ? AND erased_at IS NULL AND merged_into IS NULL",
        "id", chunk);
    if (!ids && page.limit > 0) {
      q += " AND id > ? ORDER BY id LIMIT ?";
      p.emplace_back(page.after);
      p.emplace_back(static_cast<int64_t>(page.limit));
    } else {
      q += " ORDER BY id";
    }
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(q, p));
    for (const Row& r : rows) {
      MemberData m;
      m.id = r.Int(0);
      m.created_at = r.Int(1);
      m.birth_month = static_cast<int>(r.Int(2));
      m.birth_day = static_cast<int>(r.Int(3));
      m.gender = r.Str(4);
      m.region = r.Str(5);
      m.city = r.Str(6);
      m.language = r.Str(7);
      auto tags = nlohmann::json::parse(r.Str(8), nullptr, false);
      if (tags.is_array())
        for (const auto& t : tags)
          if (t.is_string()) m.tags.push_back(t.get<std::string>());
      at[m.id] = out.size();
      out.push_back(std::move(m));
    }
  }
  if (out.empty()) return out;
  if (!ids && page.limit > 0) {
    range_lo = out.front().id;
    range_hi = out.back().id;
  }
  auto find = [&](Id id) -> MemberData* {
    auto it = at.find(id);
    return it == at.end() ? nullptr : &out[it->second];
  };
  for (const auto& chunk : chunks) {
    if (ids && chunk.empty()) continue;
    {
      auto [q, p] =
          scoped("SELECT member_id, channel, granted FROM member_consents WHERE merchant_id = ?",
                 "member_id", chunk);
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(q, p));
      for (const Row& r : rows) {
        MemberData* m = find(r.Int(0));
        if (!m || !r.Bool(2)) continue;
        std::string ch = r.Str(1);
        if (ch == "sms") m->consent |= 1;
        if (ch == "email") m->consent |= 2;
        if (ch == "line") m->consent |= 4;
      }
    }
    {
      auto [q, p] = scoped(
          "SELECT member_id, level, override_level, override_until FROM member_tiers WHERE "
          "merchant_id = ?",
          "member_id", chunk);
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(q, p));
      for (const Row& r : rows) {
        MemberData* m = find(r.Int(0));
        if (!m) continue;
        int level = static_cast<int>(r.Int(1));
        auto o = r.OptInt(2);
        auto until = r.OptInt(3);
        if (o && (!until || now < *until)) level = static_cast<int>(*o);
        m->tier_level = level;
      }
    }
    {
      auto [q, p] = scoped(
          "SELECT member_id, balance FROM point_balances WHERE merchant_id = ? AND point_type_id "
          "NOT IN (SELECT point_type_id FROM stamp_cards WHERE merchant_id = point_balances."
          "merchant_id)",
          "member_id", chunk);
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(q, p));
      for (const Row& r : rows)
        if (MemberData* m = find(r.Int(0))) m->points += r.Int(1);
    }
    {
      auto [q, p] = scoped(
          "SELECT member_id, paid_minor + bonus_minor FROM wallet_balances WHERE merchant_id = ?",
          "member_id", chunk);
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(q, p));
      for (const Row& r : rows)
        if (MemberData* m = find(r.Int(0))) m->wallet = r.Int(1);
    }
    {
      auto [q, p] = scoped(
          "SELECT o.id, o.member_id, o.branch_id, o.occurred_at, o.total_minor, o.refunded_minor, "
          "i.sku, i.category FROM orders o LEFT JOIN order_items i ON i.merchant_id = "
          "o.merchant_id AND i.order_id = o.id WHERE o.merchant_id = ? AND o.member_id IS NOT "
          "NULL",
          "o.member_id", chunk);
      RG_ASSIGN_OR_RETURN(Rows rows,
                          tx.Query(q + " ORDER BY o.member_id, o.occurred_at, o.id, i.line", p));
      MemberData* m = nullptr;
      for (const Row& r : rows) {
        Id oid = r.Int(0);
        Id mid = r.Int(1);
        if (!m || m->id != mid) m = find(mid);
        if (!m) continue;
        if (m->orders.empty() || m->orders.back().order_id != oid) {
          OrderInput o;
          o.order_id = oid;
          o.member_id = mid;
          o.branch_id = r.Int(2);
          o.occurred_at = r.Int(3);
          o.total_minor = r.Int(4);
          o.refunded_minor = r.Int(5);
          m->orders.push_back(std::move(o));
        }
        if (!r.IsNull(6)) m->orders.back().items.push_back({r.Str(6), r.Str(7)});
      }
    }
  }
  return out;
}

void ResizeColumns(MerchantFeatures& f, size_t n) {
  ForEachColumn(f, [&](auto& v) { v.resize(n); });
}

// Fills member index i (columns already sized, its log empty) from `m`; scores are left.
void FillMember(MerchantFeatures& f, const MerchantMeta& meta, uint32_t i, MemberData&& m) {
  f.member_ids[i] = m.id;
  f.joined_at[i] = m.created_at;
  f.birth_month[i] = static_cast<int8_t>(m.birth_month);
  f.birth_day[i] = static_cast<int8_t>(m.birth_day);
  f.region[i] = f.regions.Code(m.region);
  f.city[i] = f.cities.Code(m.city);
  f.gender[i] = f.genders.Code(m.gender);
  f.language[i] = f.languages.Code(m.language);
  f.tier_rank[i] = 0;
  f.tier_id[i] = 0;
  if (auto t = meta.tiers.find(m.tier_level); m.tier_level > 0 && t != meta.tiers.end()) {
    f.tier_rank[i] = t->second.rank;
    f.tier_id[i] = t->second.id;
  }
  f.points[i] = m.points;
  f.wallet_minor[i] = m.wallet;
  f.consent[i] = m.consent;
  f.orders[i] = 0;
  f.spend_minor[i] = 0;
  f.first_order_at[i] = f.last_order_at[i] = 0;
  for (const auto& tag : m.tags) {
    uint32_t c = f.tags.Code(tag);
    if (c == 0) continue;
    Grow(f.tag_members, c);
    f.tag_members[c].add(i);
  }
  for (const auto& o : m.orders) ApplyOrder(f, o);
}

// Appends a live member (index = size) with its orders.
void AddMember(MerchantFeatures& f, const MerchantMeta& meta, MemberData&& m) {
  auto i = static_cast<uint32_t>(f.member_ids.size());
  ResizeColumns(f, i + 1);
  f.index_of[m.id] = i;
  f.logs[i] = {static_cast<uint32_t>(f.order_facts.size()), 0};
  f.p_alive[i] = f.expected_purchases_90d[i] = f.expected_value_minor[i] =
      std::numeric_limits<float>::quiet_NaN();
  FillMember(f, meta, i, std::move(m));
}

// Takes member index `idx` out of every bitmap; with `to` set, puts `*to` in its place.
void DropFromBitmaps(MerchantFeatures& f, uint32_t idx, std::optional<uint32_t> to) {
  LogCodes codes = CodesOf(f, idx);
  auto fix = [&](std::vector<roaring::Roaring>& v, uint32_t c) {
    if (c >= v.size()) return;
    v[c].remove(idx);
    if (to) v[c].add(*to);
  };
  for (uint32_t c : codes.categories) fix(f.category_members, c);
  for (uint32_t c : codes.skus) fix(f.sku_members, c);
  for (uint32_t c : codes.branches) fix(f.branch_members, c);
  for (auto& b : f.tag_members)
    if (b.contains(idx)) {
      b.remove(idx);
      if (to) b.add(*to);
    }
}

// Reloads member index i in place from `m` (same id): the index and the scores stay.
void ReloadMember(MerchantFeatures& f, const MerchantMeta& meta, uint32_t i, MemberData&& m) {
  DropFromBitmaps(f, i, std::nullopt);
  f.garbage_facts += f.logs[i].count;
  f.logs[i] = {static_cast<uint32_t>(f.order_facts.size()), 0};
  FillMember(f, meta, i, std::move(m));
}

// Removes member index i (swap with the last index, keeping the columns dense).
void RemoveMember(MerchantFeatures& f, uint32_t i) {
  auto last = static_cast<uint32_t>(f.member_ids.size() - 1);
  DropFromBitmaps(f, i, std::nullopt);
  f.garbage_facts += f.logs[i].count;
  if (i != last) {
    DropFromBitmaps(f, last, i);
    ForEachColumn(f, [&](auto& v) { std::swap(v[i], v[last]); });
    f.index_of[f.member_ids[i]] = i;
  }
  f.index_of.erase(f.member_ids[last]);
  ForEachColumn(f, [&](auto& v) { v.pop_back(); });
}

}  // namespace

Result<MerchantFeatures> BuildMerchantFeatures(Tx& tx, Id merchant_id, Micros now,
                                               const BuildOptions& options) {
  if (options.members_per_chunk == 0)
    return InvalidField("members_per_chunk", "must be at least 1");
  RG_ASSIGN_OR_RETURN(MerchantMeta meta, LoadMeta(tx, merchant_id));
  MerchantFeatures f;
  f.merchant_id = merchant_id;
  f.timezone = meta.timezone;
  f.currency = meta.currency;
  f.last_seq = meta.last_seq;
  // Keyset pagination by member id, all in `tx` (one snapshot): only one chunk of rows and
  // member records is held besides the growing columns.
  RG_ASSIGN_OR_RETURN(Rows count, tx.Query("SELECT COUNT(*) FROM members WHERE merchant_id = ? "
                                           "AND erased_at IS NULL AND merged_into IS NULL",
                                           {merchant_id}));
  auto expected = static_cast<size_t>(count.empty() ? 0 : count[0].Int(0));
  f.index_of.reserve(expected);
  ForEachColumn(f, [&](auto& v) { v.reserve(expected); });
  MemberPage page{0, options.members_per_chunk};
  for (;;) {
    RG_ASSIGN_OR_RETURN(auto members, LoadMembers(tx, merchant_id, nullptr, now, page));
    for (auto& m : members) AddMember(f, meta, std::move(m));
    if (members.size() < page.limit) break;
    page.after = f.member_ids.back();
  }
  f.order_facts.shrink_to_fit();  // the growth's headroom (up to a sixteenth)
  return f;
}

// ---------------------------------------------------------------------------------------------
// FeatureStore

FeatureStore::FeatureStore(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

FeatureStore::~FeatureStore() { Stop(); }

size_t FeatureStore::ComputeBytesLocked() const {
  size_t n = sizeof(*this);
  size_t members = 0;
  for (const auto& [id, f] : merchants_) {
    n += f->MemoryBytes();
    members += f->size();
  }
  const_cast<std::atomic<size_t>&>(members_).store(members, std::memory_order_relaxed);
  return n;
}

size_t FeatureStore::MemoryBytes() const { return bytes_.load(std::memory_order_relaxed); }
size_t FeatureStore::MemberCount() const { return members_.load(std::memory_order_relaxed); }

std::vector<Id> FeatureStore::MerchantIds() const {
  std::shared_lock lock(mu_);
  std::vector<Id> out;
  for (const auto& [id, f] : merchants_) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

Status FeatureStore::Build() {
  std::lock_guard apply(apply_mu_);
  std::unordered_map<Id, std::unique_ptr<MerchantFeatures>> built;
  Micros now = clock_.Now();
  RG_TRY(db_.Read([&](Tx& tx) -> Status {
    built.clear();
    RG_ASSIGN_OR_RETURN(Rows ids, tx.Query("SELECT merchant_id FROM merchants ORDER BY 1"));
    for (const Row& r : ids) {
      RG_ASSIGN_OR_RETURN(MerchantFeatures f, BuildMerchantFeatures(tx, r.Int(0), now));
      built[r.Int(0)] = std::make_unique<MerchantFeatures>(std::move(f));
    }
    return {};
  }));
  std::unique_lock lock(mu_);
  merchants_ = std::move(built);
  bytes_.store(ComputeBytesLocked(), std::memory_order_relaxed);
  return {};
}

namespace {

// What one event asks of the store, prepared outside the exclusive lock.
struct Op {
  enum Kind { kOrder, kRefund } kind;
  Id member_id = 0;
  Id order_id = 0;
  int64_t amount = 0;          // refund
  int64_t refunded_after = 0;  // refund
};

int64_t JsonInt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) return std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
  return 0;
}

}  // namespace

Result<int64_t> FeatureStore::CatchUp() {
  std::lock_guard apply(apply_mu_);
  int64_t applied = 0;
  std::map<Id, int64_t> heads;
  RG_TRY(db_.Read([&](Tx& tx) -> Status {
    heads.clear();
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT merchant_id, last_event_seq FROM merchants"));
    for (const Row& r : rows) heads[r.Int(0)] = r.Int(1);
    return {};
  }));
  for (const auto& [mid, head] : heads) {
    bool known = false;
    int64_t seq = 0;
    {
      std::shared_lock lock(mu_);
      auto it = merchants_.find(mid);
      if (it != merchants_.end()) {
        known = true;
        seq = it->second->last_seq;
      }
    }
    if (known && seq >= head) continue;
    if (!known) {
      // A merchant created after Build(): build it whole.
      std::unique_ptr<MerchantFeatures> f;
      Micros now = clock_.Now();
      RG_TRY(db_.Read([&](Tx& tx) -> Status {
        RG_ASSIGN_OR_RETURN(MerchantFeatures b, BuildMerchantFeatures(tx, mid, now));
        f = std::make_unique<MerchantFeatures>(std::move(b));
        return {};
      }));
      std::unique_lock lock(mu_);
      merchants_[mid] = std::move(f);
      bytes_.store(ComputeBytesLocked(), std::memory_order_relaxed);
      continue;
    }
    RG_ASSIGN_OR_RETURN(int64_t n, CatchUpMerchant(mid));
    applied += n;
  }
  return applied;
}

Result<int64_t> FeatureStore::CatchUpMerchant(Id mid) {
  int64_t from = 0;
  auto knows = [&](Id member) {
    std::shared_lock lock(mu_);
    const auto& f = *merchants_.at(mid);
    return f.index_of.contains(member);
  };
  {
    std::shared_lock lock(mu_);
    from = merchants_.at(mid)->last_seq;
  }
  // Everything is read in one snapshot: the members reloaded reflect exactly the events read.
  std::vector<Op> ops;
  std::set<Id> reload;
  bool tiers_created = false;  // a new tier can shift the ranks of the tiers above it
  std::unordered_map<Id, OrderInput> order_rows;
  std::vector<MemberData> reloaded;
  std::unordered_map<Id, int64_t> points;  // member -> points after the events
  MerchantMeta meta;
  int64_t last = from, count = 0;
  Micros now = clock_.Now();
  RG_TRY(db_.Read([&](Tx& tx) -> Status {
    ops.clear();
    reload.clear();
    tiers_created = false;
    order_rows.clear();
    reloaded.clear();
    points.clear();
    last = from;
    count = 0;
    RG_ASSIGN_OR_RETURN(meta, LoadMeta(tx, mid));
    std::set<Id> order_ids;
    while (true) {
      RG_ASSIGN_OR_RETURN(auto page, events::ReadEvents(tx, mid, last, 2000));
      if (page.empty()) break;
      for (const auto& e : page) {
        last = e.seq;
        ++count;
        if (!e.member_id) {
          if (e.type == "tier_created") tiers_created = true;
          continue;
        }
        // Segment membership events change no feature (membership is evaluated from the
        // features): the first fill of a big segment must not reload all its members.
        if (e.type == "segment_entered" || e.type == "segment_exited") continue;
        Id member = *e.member_id;
        if (reload.contains(member)) continue;
        if (e.type == "order_created" || e.type == "order_refunded") {
          if (!knows(member)) {
            reload.insert(member);
            continue;
          }
          auto data = nlohmann::json::parse(e.data, nullptr, false);
          Op op{e.type == "order_created" ? Op::kOrder : Op::kRefund, member, 0, 0, 0};
          if (data.is_object()) {
            op.order_id = JsonInt(data, "order_id");
            op.amount = JsonInt(data, "amount_minor");
            op.refunded_after = JsonInt(data, "refunded_minor");
          }
          if (op.order_id == 0) {
            reload.insert(member);
            continue;
          }
          order_ids.insert(op.order_id);
          ops.push_back(op);
        } else {
          reload.insert(member);
          if (e.type == "member_merged") {
            auto data = nlohmann::json::parse(e.data, nullptr, false);
            if (data.is_object())
              if (Id from_member = JsonInt(data, "from_member_id")) reload.insert(from_member);
          }
        }
      }
    }
    // The orders the events name (point reads by key, in chunks).
    std::vector<Id> ids(order_ids.begin(), order_ids.end());
    for (size_t k = 0; k < ids.size(); k += 400) {
      size_t n = std::min<size_t>(400, ids.size() - k);
      std::vector<Value> p{mid};
      for (size_t j = 0; j < n; ++j) p.emplace_back(ids[k + j]);
      RG_ASSIGN_OR_RETURN(
          Rows rows, tx.Query(fmt::format("SELECT id, member_id, branch_id, occurred_at, "
                                          "total_minor FROM orders WHERE merchant_id = ? AND id "
                                          "IN ({})",
                                          Placeholders(n)),
                              p));
      for (const Row& r : rows) {
        OrderInput o;
        o.order_id = r.Int(0);
        o.member_id = r.Int(1);
        o.branch_id = r.Int(2);
        o.occurred_at = r.Int(3);
        o.total_minor = r.Int(4);
        order_rows[o.order_id] = std::move(o);
      }
      RG_ASSIGN_OR_RETURN(
          Rows items, tx.Query(fmt::format("SELECT order_id, sku, category FROM order_items WHERE "
                                           "merchant_id = ? AND order_id IN ({}) ORDER BY "
                                           "order_id, line",
                                           Placeholders(n)),
                               p));
      for (const Row& r : items)
        if (auto it = order_rows.find(r.Int(0)); it != order_rows.end())
          it->second.items.push_back({r.Str(1), r.Str(2)});
    }
    // Orders and refunds earn and take back points: the balances of their members as of this
    // snapshot (members reloaded whole are read below).
    std::vector<Id> buyers;
    for (const Op& op : ops)
      if (!reload.contains(op.member_id)) buyers.push_back(op.member_id);
    std::sort(buyers.begin(), buyers.end());
    buyers.erase(std::unique(buyers.begin(), buyers.end()), buyers.end());
    for (size_t k = 0; k < buyers.size(); k += 400) {
      size_t n = std::min<size_t>(400, buyers.size() - k);
      std::vector<Value> p{mid};
      for (size_t j = 0; j < n; ++j) {
        p.emplace_back(buyers[k + j]);
        points[buyers[k + j]] = 0;
      }
      RG_ASSIGN_OR_RETURN(
          Rows rows,
          tx.Query(fmt::format("SELECT member_id, balance FROM point_balances WHERE merchant_id = "
                               "? AND member_id IN ({}) AND point_type_id NOT IN (SELECT "
                               "point_type_id FROM stamp_cards WHERE merchant_id = "
                               "point_balances.merchant_id)",
                               Placeholders(n)),
                   p));
      for (const Row& r : rows) points[r.Int(0)] += r.Int(1);
    }
    std::vector<Id> members(reload.begin(), reload.end());
    RG_ASSIGN_OR_RETURN(reloaded, LoadMembers(tx, mid, &members, now));
    return {};
  }));

  std::unique_lock lock(mu_);
  MerchantFeatures& f = *merchants_.at(mid);
  f.timezone = meta.timezone;
  f.currency = meta.currency;
  for (const Op& op : ops) {
    if (reload.contains(op.member_id)) continue;
    auto row = order_rows.find(op.order_id);
    if (row == order_rows.end()) continue;
    const OrderInput& o = row->second;
    if (op.kind == Op::kOrder) {
      ApplyOrder(f, o);  // refunds arrive as their own events
    } else {
      int64_t before = o.total_minor - (op.refunded_after - op.amount);
      ApplyRefund(f, o.member_id, o.occurred_at, before, op.amount);
    }
  }
  for (const auto& [member, value] : points)
    if (auto it = f.index_of.find(member); it != f.index_of.end() && !reload.contains(member))
      f.points[it->second] = value;
  // Members reloaded whole: in place when still live (index and scores kept), removed when
  // erased or merged away, appended when new.
  std::set<Id> live;
  for (const auto& m : reloaded) live.insert(m.id);
  for (Id member : reload)
    if (auto it = f.index_of.find(member); it != f.index_of.end() && !live.contains(member))
      RemoveMember(f, it->second);
  for (auto& m : reloaded) {
    if (auto it = f.index_of.find(m.id); it != f.index_of.end())
      ReloadMember(f, meta, it->second, std::move(m));
    else
      AddMember(f, meta, std::move(m));
  }
  if (tiers_created) {
    // Ranks count the merchant's levels: re-rank every member's tier as of this snapshot.
    std::unordered_map<Id, int32_t> rank_of;
    for (const auto& [level, t] : meta.tiers) rank_of[t.id] = t.rank;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f.tier_id[i] == 0) continue;
      auto it = rank_of.find(f.tier_id[i]);
      f.tier_rank[i] = it == rank_of.end() ? 0 : it->second;
    }
  }
  if (f.garbage_facts > MerchantFeatures::kCompactMinGarbage &&
      f.garbage_facts * MerchantFeatures::kCompactFraction > f.order_facts.size())
    f.CompactOrderLogs();
  f.last_seq = last;
  bytes_.store(ComputeBytesLocked(), std::memory_order_relaxed);
  return count;
}

void FeatureStore::Start(int poll_ms) {
  Stop();
  {
    std::lock_guard g(wake_mu_);
    stop_ = false;
    wake_ = false;
  }
  tailer_ = std::thread([this, poll_ms] {
    while (true) {
      {
        std::unique_lock g(wake_mu_);
        wake_cv_.wait_for(g, std::chrono::milliseconds(poll_ms), [&] { return stop_ || wake_; });
        if (stop_) return;
        wake_ = false;
      }
      if (auto r = CatchUp(); !r)
        spdlog::warn("insight: feature store catch-up: {}", r.error().ToString());
    }
  });
}

void FeatureStore::Stop() {
  {
    std::lock_guard g(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (tailer_.joinable()) tailer_.join();
}

void FeatureStore::Nudge() {
  {
    std::lock_guard g(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

}  // namespace regulars::insight
