#pragma once

// The insight feature store: per merchant, one column array per member feature (orders, spend,
// recency, demographics, tier, points, wallet, consent), a compact per-order log for
// time-window predicates, and roaring bitmaps of member indexes for set predicates (tags,
// categories, skus, branches). Built once from the database, then kept current by tailing the
// event log (`events`, seq > last_seq per merchant). Segments (segment.h), reports (reports.h)
// and the member features route read it under a shared lock.
//
// Contract (docs/architecture.md "insight/"):
//   - Erased and merged members are absent (member_ids holds live members only).
//   - A refund lowers its order's net_minor and the member's spend_minor; a fully refunded
//     order (net 0) no longer counts in `orders` (and not in first/last_order_at).
//   - Anonymous orders (no member) are in no member's log.
//   - After CatchUp() returns, the features equal a fresh BuildMerchantFeatures() of the same
//     snapshot (model outputs and RFM aside, which are recomputed by scores.h / rfm.h): the same
//     members, columns, order logs (fact by fact) and bitmaps, whatever the member indexes and
//     wherever a log sits in order_facts.
//   - Readers see a member's orders only through Orders(i) / NetMinor / Branch / Items.

#include <roaring/roaring.hh>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "store/db.h"

// CRoaring before 0.3 (Debian's 0.2.66) declares its C++ class in the global namespace; later
// releases in namespace roaring. Name it roaring::Roaring either way.
namespace roaring {
using ::Roaring;
}

namespace regulars::insight {

// Interns strings as dense codes; code 0 is "" (unknown). Codes are stable while the process
// runs (never reused or renumbered).
class Dictionary {
 public:
  Dictionary();
  // The code of `s`, adding it when new. "" is 0.
  uint32_t Code(std::string_view s);
  std::optional<uint32_t> Find(std::string_view s) const;
  // The string of `code`; "" for 0 or an unknown code.
  const std::string& Name(uint32_t code) const;
  // Number of codes including 0.
  size_t size() const { return names_.size(); }
  size_t MemoryBytes() const;

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> codes_;
};

// Member id -> dense member index. The ids are kept sorted in one array with their indexes
// beside it (12 bytes a member, against ~40 for a hash node and its bucket); lookups are a
// binary search. Ids sort by creation time (base/ids.h), so a new member appends at the end;
// erasing a member shifts the entries after it (rare: erasure and merges). The interface is
// the subset of std::unordered_map<Id, uint32_t> the readers use (find / end / it->second,
// contains, at, operator[], erase, size).
class MemberIndex {
 public:
  struct Entry {
    Id first = 0;
    uint32_t second = 0;
  };
  class const_iterator {
   public:
    const_iterator() = default;
    const Entry& operator*() const { return cur_; }
    const Entry* operator->() const { return &cur_; }
    const_iterator& operator++() {
      Load(pos_ + 1);
      return *this;
    }
    bool operator==(const const_iterator& o) const { return pos_ == o.pos_; }

   private:
    friend class MemberIndex;
    const_iterator(const MemberIndex* m, size_t pos) : m_(m) { Load(pos); }
    void Load(size_t pos) {
      pos_ = pos;
      if (m_ && pos < m_->ids_.size()) cur_ = {m_->ids_[pos], m_->index_[pos]};
    }
    const MemberIndex* m_ = nullptr;
    size_t pos_ = 0;
    Entry cur_;
  };

  MemberIndex() = default;
  MemberIndex(std::initializer_list<std::pair<Id, uint32_t>> entries);
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, ids_.size()}; }
  const_iterator find(Id id) const;
  bool contains(Id id) const { return find(id) != end(); }
  // The index of `id`; throws std::out_of_range when absent (as the map did).
  uint32_t at(Id id) const;
  // The index of `id`, inserted as 0 when absent.
  uint32_t& operator[](Id id);
  // Removes `id` (no-op when absent); returns how many entries were removed (0 or 1).
  size_t erase(Id id);
  size_t size() const { return ids_.size(); }
  void reserve(size_t n) {
    ids_.reserve(n);
    index_.reserve(n);
  }
  size_t MemoryBytes() const { return ids_.capacity() * sizeof(Id) + index_.capacity() * 4; }

 private:
  std::vector<Id> ids_;          // ascending
  std::vector<uint32_t> index_;  // index_[k] is the member index of ids_[k]
};

// The distinct (branch, item codes) combinations of a merchant's orders, interned: an order
// fact names its combination by id, so a basket that recurs (most do: the same few items at the
// same branch) is stored once. Shape 0 is "no branch, no items". Ids are stable while the
// process runs (shapes are never removed or renumbered); a shape no fact uses any more stays.
class OrderShapes {
 public:
  OrderShapes();
  // The id of (branch, codes), adding it when new. `codes` must be sorted and distinct.
  uint32_t Intern(uint32_t branch, std::span<const uint32_t> codes);
  uint32_t Branch(uint32_t shape) const { return words_[start_[shape]]; }
  std::span<const uint32_t> Codes(uint32_t shape) const {
    return {words_.data() + start_[shape] + 1, words_.data() + start_[shape + 1]};
  }
  size_t size() const { return start_.size() - 1; }  // number of shapes, including shape 0
  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kEmpty = 0xFFFF'FFFFu;
  static uint64_t Hash(uint32_t branch, std::span<const uint32_t> codes);
  void Rehash(size_t slots);
  std::vector<uint32_t> start_;  // shape -> its first word in words_; one more entry at the end
  std::vector<uint32_t> words_;  // per shape: the branch code, then the item codes
  std::vector<uint32_t> slots_;  // open addressing (linear probing) of shape ids, power of two
};

// One order in a member's log: 12 bytes (read the net with MerchantFeatures::NetMinor and the
// branch and items with Branch / Items).
struct OrderFact {
  uint32_t at_s = 0;   // occurred_at in Unix seconds UTC; clamped to 1970-01-01 .. 2106-02-07
  int32_t net = 0;     // net minor units (total - refunded, never negative) when >= 0; a net
                       //   above INT32_MAX is MerchantFeatures::big_nets[-(net + 1)]
  uint32_t shape = 0;  // MerchantFeatures::shapes id: the order's branch and item codes
  bool operator==(const OrderFact&) const = default;
};
static_assert(sizeof(OrderFact) == 12);

// A member's slice of MerchantFeatures::order_facts.
struct OrderLogRef {
  uint32_t start = 0;
  uint32_t count = 0;
  bool operator==(const OrderLogRef&) const = default;
};

// One merchant's features: column arrays indexed by a dense member index 0..n-1.
struct MerchantFeatures {
  Id merchant_id = 0;
  std::string timezone;        // merchant's IANA zone
  std::string currency;        // merchant's currency (ISO 4217)
  std::vector<Id> member_ids;  // index -> member id (erased/merged members absent)
  MemberIndex index_of;        // member id -> index
  // Per member (same length as member_ids):
  std::vector<Micros> joined_at;
  std::vector<Micros> first_order_at, last_order_at;     // 0 = never bought
  std::vector<int32_t> orders;                           // orders not fully refunded
  std::vector<int64_t> spend_minor;                      // net of refunds
  std::vector<int8_t> birth_month, birth_day;            // 0 = unknown
  std::vector<uint32_t> region, city, gender, language;  // dictionary codes, 0 = unknown
  std::vector<int32_t> tier_rank;                        // 0 = no tier, 1 = lowest ...
  std::vector<Id> tier_id;                               // 0 = none
  std::vector<int64_t> points;                           // sum over point types (not stamps)
  std::vector<int64_t> wallet_minor;                     // prepaid balance (paid + bonus)
  std::vector<uint8_t> consent;                          // bit 0 sms, 1 email, 2 line
  std::vector<OrderLogRef> logs;  // per member: its order log in order_facts, oldest first
  // The order log: every member's facts in one array, one contiguous slice per member (CSR).
  // A fresh build lays the slices out in member order with nothing between them. An order
  // applied live to a member whose slice is not the last one moves that slice to the end
  // (the old copy becomes garbage_facts); CompactOrderLogs() rewrites the array without
  // garbage once it exceeds a sixteenth of it (and kCompactMinGarbage facts), so live orders
  // cost amortised O(log length); with the array's growth by a sixteenth its capacity stays
  // within ~13% of the facts held (the store's bound under 300 MB at 1M members / 10M orders
  // counts on it: docs/benchmarks.md).
  static constexpr size_t kCompactMinGarbage = 4096;
  static constexpr size_t kCompactFraction = 16;  // compact when garbage > size / this
  std::vector<OrderFact> order_facts;
  size_t garbage_facts = 0;       // facts in order_facts that no member's slice covers
  std::vector<int64_t> big_nets;  // nets above INT32_MAX (OrderFact::net < 0 points here)
  OrderShapes shapes;             // the orders' (branch, item codes)
  // Item codes of a shape: its distinct category codes (dictionary `categories`, as is) and its
  // distinct sku codes (dictionary `skus`) with kSkuCodeBit set, sorted, so each entry names
  // its kind: test `c == cat` or `c == (kSkuCodeBit|sku)`.
  static constexpr uint32_t kSkuCodeBit = 0x8000'0000u;
  // Dictionaries (code -> string; code 0 is "" / unknown). Codes are stable while the process
  // runs. `branches` interns branch ids written in decimal.
  Dictionary regions, cities, genders, languages, branches, categories, skus, tags;
  // Member sets as roaring bitmaps of member indexes:
  std::vector<roaring::Roaring> tag_members;       // by tag code
  std::vector<roaring::Roaring> category_members;  // by category code: ever bought
  std::vector<roaring::Roaring> sku_members;       // by sku code: ever bought
  std::vector<roaring::Roaring> branch_members;    // by branch code: ever visited
  // Model outputs (scores.h), NaN until a fit was applied:
  std::vector<float> p_alive, expected_purchases_90d, expected_value_minor;
  std::vector<uint8_t> rfm_r, rfm_f, rfm_m;  // 1..5, 0 = never bought
  std::vector<uint8_t> rfm_group;            // RfmGroup enum (rfm.h)
  int64_t last_seq = 0;                      // last event applied
  // Kind and time of the fitted model applied (empty / 0 when none).
  std::string model_kind;
  Micros model_fitted_at = 0;

  size_t size() const { return member_ids.size(); }
  size_t MemoryBytes() const;
  // MemoryBytes() by part ("order_facts", "shapes", "index_of", each column, ...), for the
  // benchmark's breakdown; the parts sum to MemoryBytes().
  std::vector<std::pair<std::string, size_t>> MemoryBreakdown() const;

  // Member i's order log, oldest first (valid until the next change to the store).
  std::span<const OrderFact> Orders(uint32_t i) const {
    const OrderLogRef r = logs[i];
    return {order_facts.data() + r.start, r.count};
  }
  int64_t NetMinor(const OrderFact& o) const {
    return o.net >= 0 ? int64_t{o.net} : big_nets[static_cast<size_t>(-(int64_t{o.net} + 1))];
  }
  uint32_t Branch(const OrderFact& o) const { return shapes.Branch(o.shape); }  // 0 = none
  std::span<const uint32_t> Items(const OrderFact& o) const { return shapes.Codes(o.shape); }

  // Adds one fact to member i's log, keeping it sorted by time (after the facts at the same
  // second); touches neither the totals nor the bitmaps (ApplyOrder does those). `codes` as
  // OrderShapes::Intern wants them. For ApplyOrder and for tests that lay out a store by hand.
  void InsertOrder(uint32_t i, int64_t at_s, int64_t net_minor, uint32_t branch,
                   std::span<const uint32_t> codes);
  // Sets the net of the fact at order_facts[k].
  void SetNet(size_t k, int64_t net_minor);
  // Rewrites order_facts in member order without garbage (garbage_facts becomes 0).
  void CompactOrderLogs();
};

// One order as the store applies it (from the database or an order_created event).
struct OrderInput {
  Id order_id = 0;
  Id member_id = 0;  // 0 = anonymous
  Id branch_id = 0;  // 0 = none
  Micros occurred_at = 0;
  int64_t total_minor = 0;
  int64_t refunded_minor = 0;
  struct Item {
    std::string sku;
    std::string category;  // "" = none
  };
  std::vector<Item> items;
};

// Adds one order to its member's features (a no-op for anonymous orders or members not in
// `f`). Pure: touches only `f`. Keeps the member's order log sorted by time.
void ApplyOrder(MerchantFeatures& f, const OrderInput& order);
// Applies a refund of `amount_minor` to the order of `member_id` that happened at
// `occurred_at` with net `net_before` (identifies the order fact). Returns false when the order
// is not in the member's log.
bool ApplyRefund(MerchantFeatures& f, Id member_id, Micros occurred_at, int64_t net_before,
                 int64_t amount_minor);
// Recomputes orders / spend / first and last order of member index `i` from its order log.
void RecomputeOrderTotals(MerchantFeatures& f, uint32_t i);

namespace detail {
template <typename R>
struct ReadResultOf {
  using type = Result<R>;
};
template <>
struct ReadResultOf<void> {
  using type = Status;
};
template <typename T>
struct ReadResultOf<Result<T>> {
  using type = Result<T>;
};
template <typename R>
using ReadResult = typename ReadResultOf<R>::type;
}  // namespace detail

// Thread-safe holder of all merchants' features. Readers take a shared lock for one
// evaluation; the tailer applies events under the exclusive lock.
class FeatureStore {
 public:
  explicit FeatureStore(store::Database& db, const Clock& clock);
  ~FeatureStore();
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  Status Build();                 // from the database, all merchants
  Result<int64_t> CatchUp();      // applies events after last_seq; returns how many
  void Start(int poll_ms = 200);  // background tailer (CatchUp in a loop), Stop()
  void Stop();
  // Wakes the tailer at once (after a write committed).
  void Nudge();

  // Runs fn(const MerchantFeatures&) with a shared lock on one merchant's features
  // (not_found if unknown merchant). Returns Status for a void fn, fn's own Result<T> when it
  // returns one, else Result<R>.
  template <typename Fn>
  auto Read(Id merchant_id, Fn&& fn)
      -> detail::ReadResult<std::invoke_result_t<Fn, const MerchantFeatures&>> {
    using R = std::invoke_result_t<Fn, const MerchantFeatures&>;
    std::shared_lock lock(mu_);
    auto it = merchants_.find(merchant_id);
    if (it == merchants_.end())
      return Fail(Code::kNotFound, "merchant " + IdToString(merchant_id) + " has no features yet");
    if constexpr (std::is_void_v<R>) {
      fn(static_cast<const MerchantFeatures&>(*it->second));
      return {};
    } else {
      return fn(static_cast<const MerchantFeatures&>(*it->second));
    }
  }
  // Runs fn(MerchantFeatures&) under the exclusive lock (model outputs, tests). not_found if
  // the merchant is unknown.
  template <typename Fn>
  Status Update(Id merchant_id, Fn&& fn) {
    std::unique_lock lock(mu_);
    auto it = merchants_.find(merchant_id);
    if (it == merchants_.end())
      return Fail(Code::kNotFound, "merchant " + IdToString(merchant_id) + " has no features yet");
    fn(*it->second);
    bytes_.store(ComputeBytesLocked(), std::memory_order_relaxed);
    return {};
  }

  size_t MemoryBytes() const;  // approximate bytes held (for /metrics)
  size_t MemberCount() const;  // live members over all merchants (for /metrics)
  std::vector<Id> MerchantIds() const;

 private:
  Result<int64_t> CatchUpMerchant(Id merchant_id);
  size_t ComputeBytesLocked() const;

  store::Database& db_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<Id, std::unique_ptr<MerchantFeatures>> merchants_;
  std::atomic<size_t> bytes_{0};
  std::atomic<size_t> members_{0};
  // Serialises Build / CatchUp (the tailer and callers).
  std::mutex apply_mu_;

  std::thread tailer_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stop_ = false;
};

struct BuildOptions {
  // Members read per chunk (keyset pagination by member id); bounds the rows held at once.
  // At 100k members / 1M orders the peak RSS is 142 MB with 5,000, 263 MB with 20,000 (the
  // chunk's order-line rows dominate), against a 78 MB store (docs/benchmarks.md).
  size_t members_per_chunk = 5'000;
};

// Builds one merchant's features from the database inside `tx` (used by tests and Build()).
// last_seq is the merchant's last event seq read in the same snapshot. Members are read in
// chunks of options.members_per_chunk (all in `tx`), so the memory besides the result is about
// one chunk's rows; the result does not depend on the chunk size. Error: members_per_chunk 0
// (invalid_argument, field "members_per_chunk").
Result<MerchantFeatures> BuildMerchantFeatures(store::Tx& tx, Id merchant_id, Micros now,
                                               const BuildOptions& options = {});

}  // namespace regulars::insight
