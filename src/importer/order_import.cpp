// The order-history import engine. See order_import.h for the contract; the rules for odd lines
// are listed at ParseLine.
//
// Shape: lines are streamed and grouped by order id; each finished group is kept in a batch;
// a full batch is planned and written in one transaction: which orders / returns already exist
// (one query per 500 ids), members resolved from in-memory maps loaded once, new members,
// orders, items, returns and events written with prepared INSERTs of fixed shapes (multi-row on
// PostgreSQL, one row on SQLite: see Inserter). Two batches are in hand at a time: one written
// by a helper thread while the caller's thread parses and plans the next (see Engine::Run and
// BatchPlan; a plan that the write finds out of date is made again inside the write).
//
// State kept in memory for the whole run (what bounds memory): the member keys (customer id,
// phone, e-mail → member), the order ids seen in the file, and for every member order line of the
// run its (member, sku) and unrefunded quantity, so that a return finds its order whether or not
// earlier batches were committed (dry runs commit nothing). A transaction that is retried or
// fails undoes its changes to that state through an undo log, so the state always mirrors what
// was committed (or, in a dry run, what would have been).

#include "importer/order_import.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "accounts/account.h"
#include "base/money.h"
#include "base/phone.h"
#include "base/text.h"
#include "base/zone.h"
#include "events/event_repo.h"
#include "loyalty/earning.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/point_type.h"
#include "loyalty/tier_service.h"
#include "members/member_repo.h"

namespace regulars::importer {
namespace {

using store::Value;

constexpr Micros kFutureSlack = 5 * 60 * kMicrosPerSecond;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// ---- Values in the file -------------------------------------------------------------------

// "6", "-6", "+6", "6.0": an integer quantity.
std::optional<int64_t> ParseQuantity(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > 1'000'000'000'000) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    for (++i; i < s.size(); ++i)
      if (s[i] != '0') return std::nullopt;
  }
  return neg ? -v : v;
}

// A decimal amount in major units ("2.55", "-11062.06", "3") to minor units with `exponent`
// decimals. Errors say why in words that follow the column name.
Result<int64_t> ParseAmount(std::string_view s, int exponent, std::string_view currency) {
  bool neg = false;
  std::string_view orig = s;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int64_t v = 0;
  int digits = 0, decimals = -1;
  for (char c : s) {
    if (c == '.') {
      if (decimals >= 0) return Fail(Code::kInvalidArgument, "");
      decimals = 0;
      continue;
    }
    if (c < '0' || c > '9') return Fail(Code::kInvalidArgument, "");
    if (decimals >= 0) {
      if (decimals >= exponent) {
        if (c != '0')
          return Fail(
              Code::kInvalidArgument,
              fmt::format("{} has more decimals than {} allows ({})", orig, currency, exponent));
        continue;
      }
      ++decimals;
    }
    if (v > 100'000'000'000'000) return Fail(Code::kInvalidArgument, "");
    v = v * 10 + (c - '0');
    ++digits;
  }
  if (digits == 0) return Fail(Code::kInvalidArgument, "");
  for (int d = std::max(decimals, 0); d < exponent; ++d) v *= 10;
  return neg ? -v : v;
}

int Digits(std::string_view s, size_t& i, int max) {
  int v = 0, n = 0;
  while (i < s.size() && n < max && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  return n == 0 ? -1 : v;
}

// "2011-12-09 12:50:00", "2011-12-09T12:50", "2011-12-09", RFC 3339 with Z or an offset,
// "2024-01-15 10:23:45 +0800" (Shopify), "12/9/2011 12:50" (month first). Without an offset the
// time is local to `tz`.
Result<Micros> ParseTime(std::string_view s, std::string_view tz) {
  size_t i = 0;
  int y, mo, d;
  int a = Digits(s, i, 4);
  if (a < 0) return Fail(Code::kInvalidArgument, "");
  if (i == 4 && i < s.size() && s[i] == '-') {
    y = a;
    ++i;
    mo = Digits(s, i, 2);
    if (i >= s.size() || s[i] != '-') return Fail(Code::kInvalidArgument, "");
    ++i;
    d = Digits(s, i, 2);
  } else if (i <= 2 && i < s.size() && s[i] == '/') {
    mo = a;
    ++i;
    d = Digits(s, i, 2);
    if (i >= s.size() || s[i] != '/') return Fail(Code::kInvalidArgument, "");
    ++i;
    size_t before = i;
    y = Digits(s, i, 4);
    if (i - before == 2) y += 2000;
  } else {
    return Fail(Code::kInvalidArgument, "");
  }
  if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > 31) return Fail(Code::kInvalidArgument, "");
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDays[mo - 1] || (mo == 2 && d == 29 && !IsLeapYear(y)))
    return Fail(Code::kInvalidArgument, "");
  int h = 0, mi = 0, sec = 0;
  int64_t frac_us = 0;
  std::optional<int> offset_min;
  if (i < s.size() && (s[i] == ' ' || s[i] == 'T' || s[i] == 't')) {
    ++i;
    h = Digits(s, i, 2);
    if (i >= s.size() || s[i] != ':') return Fail(Code::kInvalidArgument, "");
    ++i;
    mi = Digits(s, i, 2);
    if (i < s.size() && s[i] == ':') {
      ++i;
      sec = Digits(s, i, 2);
      if (i < s.size() && s[i] == '.') {
        ++i;
        int64_t scale = 100000;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          frac_us += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
      }
    }
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
      return Fail(Code::kInvalidArgument, "");
    if (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        offset_min = 0;
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        ++i;
        int oh = Digits(s, i, 2);
        if (i < s.size() && s[i] == ':') ++i;
        int om = Digits(s, i, 2);
        if (oh < 0 || om < 0) return Fail(Code::kInvalidArgument, "");
        offset_min = sign * (oh * 60 + om);
      }
    }
  }
  if (i != s.size()) return Fail(Code::kInvalidArgument, "");
  if (offset_min) {
    int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - *offset_min * 60;
    return secs * kMicrosPerSecond + frac_us;
  }
  RG_ASSIGN_OR_RETURN(Micros t, FromLocal(y, mo, d, h, mi, sec, tz));
  return t + frac_us;
}

// "17850.0" → "17850": spreadsheets turn numeric ids into floats.
std::string CleanCustomerId(std::string_view s) {
  size_t dot = s.find('.');
  if (dot != std::string_view::npos && dot > 0) {
    bool digits =
        std::all_of(s.begin(), s.begin() + dot, [](char c) { return c >= '0' && c <= '9'; });
    bool zeros = std::all_of(s.begin() + dot + 1, s.end(), [](char c) { return c == '0'; });
    if (digits && zeros) return std::string(s.substr(0, dot));
  }
  return std::string(s);
}

bool Truthy(std::string_view v) {
  std::string l;
  for (char c : v) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return !(l.empty() || l == "0" || l == "false" || l == "no" || l == "n" || l == "f");
}

// ---- Lines and groups ---------------------------------------------------------------------

struct Columns {
  int order_id = -1, occurred_at = -1, sku = -1, name = -1, category = -1, quantity = -1,
      unit_price = -1, line_total = -1, customer_id = -1, phone = -1, email = -1,
      customer_name = -1, country = -1, city = -1, branch = -1, currency = -1, cancelled = -1;
  std::vector<std::string> header;
};

struct ItemLine {
  int64_t line = 0;  // in the file
  std::string sku;
  std::string name;
  std::optional<std::string> category;
  int64_t quantity = 0;  // positive; for returns the quantity returned
  int64_t unit_price_minor = 0;
};

// Consecutive lines with one order id.
struct Group {
  std::string external_id;
  int64_t first_line = 0;
  int64_t last_line = 0;
  bool has_time = false;
  Micros occurred_at = 0;
  bool cancel_doc = false;  // the id carries the cancel prefix: every line is a return
  bool cancelled = false;   // the cancelled column: the order and then its full refund
  std::string customer_id, phone, email, customer_name, country, city;
  bool has_branch = false;
  std::optional<Id> branch_id;
  std::vector<ItemLine> sales, returns;
};

// An order line of a member order of this run (or an earlier one read back): where returns look.
// Kept per member with the SKU interned, so a line costs 40 bytes and no allocation.
struct LineRef {
  Id order_id = 0;
  Micros occurred_at = 0;
  int32_t line = 0;
  uint32_t sku = 0;
  int64_t quantity = 0;
  int64_t refunded = 0;
};
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// The order ids of the file seen so far, each with the last line of its group: one slot per id in
// an open-addressing table (linear probing, at most 3/4 full) of the id's 64-bit hash, its line
// and where its bytes are in one arena; an id is compared byte for byte on a hash match. An id
// costs no allocation of its own (a node map allocated a node per id, and a string per look-up
// of a long id). Ids are never removed.
class SeenOrders {
 public:
  // The last line of `id`'s group, or nullopt when `id` was not inserted.
  std::optional<int64_t> Find(std::string_view id) const {
    if (slots_.empty()) return std::nullopt;
    uint64_t h = HashOf(id);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return std::nullopt;
      if (s.hash == h && std::string_view(ids_).substr(s.offset, s.size) == id) return s.last_line;
    }
  }
  // Records `id` (not inserted before) with the last line of its group.
  void Insert(std::string_view id, int64_t last_line) {
    if ((count_ + 1) * 4 > slots_.size() * 3) Grow();
    Slot s{HashOf(id), last_line, ids_.size(), static_cast<uint32_t>(id.size())};
    ids_.append(id);
    Place(s);
    ++count_;
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty
    int64_t last_line = 0;
    size_t offset = 0;  // into ids_
    uint32_t size = 0;
  };
  static uint64_t HashOf(std::string_view id) {
    uint64_t h = std::hash<std::string_view>{}(id);
    return h == 0 ? 1 : h;
  }
  void Place(const Slot& s) {
    size_t i = s.hash & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? size_t{1} << 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old)
      if (s.hash != 0) Place(s);
  }
  std::vector<Slot> slots_;  // a power of two of them
  size_t mask_ = 0;
  size_t count_ = 0;
  std::string ids_;
};

struct OrderRef {
  std::string external_id;
  int64_t total_minor = 0;
  int64_t refunded_minor = 0;
  std::optional<Id> branch_id;
};

// A nullable integer column's value. Both drivers type a parameter by its value, and the
// PostgreSQL driver prepares one statement per type signature, so an id that is sometimes NULL
// would make every 100-row statement a new one. As text (or NULL) the type stays the same and
// both databases store it as the column's integer. SQLite's one-row statements have no type
// signature, so there the id is bound as an integer (no text to convert back).
Value IdOrNull(std::optional<int64_t> v, store::Dialect dialect = store::Dialect::kPostgres) {
  if (!v) return Value();
  if (dialect == store::Dialect::kSqlite) return int64_t{*v};
  return std::to_string(*v);
}

std::string LineKey(Id member, std::string_view sku) {
  std::string k(reinterpret_cast<const char*>(&member), sizeof member);
  k.append(sku);
  return k;
}

// INSERTs of one table's rows, written at Flush. On PostgreSQL: multi-row statements of 100, 10
// and 1 rows (three shapes per table for the driver's statement cache; one round trip per 100
// rows). On SQLite: the one-row statement once per row. SQLite gives a multi-row INSERT into a
// table with a UNIQUE index or a foreign key a statement journal, and ending each such statement
// inside the batch's savepoint walks the whole in-memory sub-journal, which grows with every page
// the batch has touched: the cost per batch grew with the batch squared and with the size of the
// randomly-filled indexes (62% of the time on 1M generated lines). A one-row INSERT needs no
// statement journal, and a cached prepared statement costs SQLite no more per row.
class Inserter {
 public:
  Inserter(std::string head, size_t cols) : head_(std::move(head)), cols_(cols) {}
  template <class... A>
  void Add(A&&... row) {
    (values_.emplace_back(std::forward<A>(row)), ...);
  }
  size_t rows() const { return values_.size() / cols_; }
  Status Flush(store::Tx& tx, bool write) {
    size_t rows = values_.size() / cols_;
    size_t done = 0;
    const bool one_by_one = tx.dialect() == store::Dialect::kSqlite;
    while (write && done < rows) {
      size_t left = rows - done;
      size_t n = one_by_one ? 1 : left >= 100 ? 100 : left >= 10 ? 10 : 1;
      params_.assign(std::make_move_iterator(values_.begin() + done * cols_),
                     std::make_move_iterator(values_.begin() + (done + n) * cols_));
      RG_TRY(tx.Exec(Sql(n), params_));
      done += n;
    }
    values_.clear();
    return {};
  }

 private:
  const std::string& Sql(size_t n) {
    std::string& s = sql_[n];
    if (s.empty()) {
      std::string row = "(";
      for (size_t c = 0; c < cols_; ++c) row += c ? ", ?" : "?";
      row += ")";
      s = head_;
      for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + row;
    }
    return s;
  }
  std::string head_;
  size_t cols_;
  std::vector<Value> values_;
  std::vector<Value> params_;  // one statement's, reused
  std::map<size_t, std::string> sql_;
};

// JSON string literal of valid UTF-8 `s`, escaped as nlohmann::json::dump() escapes it (", \,
// \b \f \n \r \t, other control bytes as \u00xx; everything else as is).
void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out.push_back(ch);
    }
  }
  out.push_back('"');
}

// The order_created event's data, byte for byte what nlohmann::json::dump() makes of the same
// object (keys in sorted order), without building the object: one such event per order.
std::string OrderCreatedData(Id order_id, std::string_view external_id, Micros occurred_at,
                             int64_t total_minor, std::string_view currency, size_t items,
                             std::string_view source, std::optional<Id> branch_id) {
  std::string out;
  out.reserve(200);
  out += '{';
  if (branch_id) {
    out += "\"branch_id\":";
    AppendJsonString(out, IdToString(*branch_id));
    out += ',';
  }
  out += "\"currency\":";
  AppendJsonString(out, currency);
  out += ",\"external_id\":";
  AppendJsonString(out, external_id);
  out += fmt::format(",\"items\":{},\"occurred_at\":", items);
  AppendJsonString(out, FormatRfc3339(occurred_at));
  out += ",\"order_id\":";
  AppendJsonString(out, IdToString(order_id));
  out += ",\"source\":";
  AppendJsonString(out, source);
  out += fmt::format(",\"total_minor\":{}}}", total_minor);
  return out;
}

struct BatchCounts {
  int64_t lines_imported = 0, orders_created = 0, orders_existing = 0, anonymous_orders = 0,
          refunds = 0, standalone_returns = 0, returns_existing = 0, members_created = 0,
          members_matched = 0, revenue_minor = 0, refunded_minor = 0, points_awarded = 0;
  void AddTo(ImportReport& r) const {
    r.lines_imported += lines_imported;
    r.orders_created += orders_created;
    r.orders_existing += orders_existing;
    r.anonymous_orders += anonymous_orders;
    r.refunds += refunds;
    r.standalone_returns += standalone_returns;
    r.returns_existing += returns_existing;
    r.members_created += members_created;
    r.members_matched += members_matched;
    r.revenue_minor += revenue_minor;
    r.refunded_minor += refunded_minor;
    r.points_awarded += points_awarded;
  }
};

constexpr std::string_view kOrdersInsert =
    "INSERT INTO orders (merchant_id, id, external_id, member_id, branch_id, staff_id, "
    "occurred_at, currency, total_minor, refunded_minor, source, created_at) VALUES ";
constexpr std::string_view kItemsInsert =
    "INSERT INTO order_items (merchant_id, order_id, line, sku, name, category, quantity, "
    "unit_price_minor, refunded_quantity) VALUES ";
constexpr std::string_view kReturnsInsert =
    "INSERT INTO order_returns (merchant_id, id, external_id, member_id, branch_id, "
    "occurred_at, currency, amount_minor, standalone_minor, source, created_at) VALUES ";
constexpr std::string_view kReturnItemsInsert =
    "INSERT INTO order_return_items (merchant_id, return_id, line, sku, name, quantity, "
    "unit_price_minor, order_id, order_line) VALUES ";
constexpr std::string_view kRefundsInsert =
    "INSERT INTO refunds (merchant_id, id, order_id, amount_minor, reason, created_at, "
    "return_id) VALUES ";

// One batch: its groups and, once planned (Engine::Plan), everything its transaction writes,
// built from the engine's in-memory state as the batches before it left it. Applying a plan
// (Engine::Apply) only checks which orders and returns exist and runs the INSERTs and UPDATEs;
// the plan is valid for the existence sets it was made with (existing_orders, existing_returns)
// and nothing else of the database. `undo` / `appended` undo the plan's changes to the engine's
// state (see Engine::UndoAll), newest last.
struct BatchPlan {
  std::vector<Group> groups;
  bool planned = false;  // made ahead on the caller's thread, to be applied as is
  std::unordered_set<std::string> existing_orders, existing_returns;
  std::vector<members::Member> new_members;
  std::vector<members::NewIdentity> new_identities;
  Inserter orders{std::string(kOrdersInsert), 12};
  Inserter items{std::string(kItemsInsert), 9};
  Inserter returns{std::string(kReturnsInsert), 11};
  Inserter return_items{std::string(kReturnItemsInsert), 9};
  Inserter refunds{std::string(kRefundsInsert), 7};
  struct NewEvent {
    std::string type;
    std::optional<Id> member_id;
    std::string data;
  };
  std::vector<NewEvent> events;
  struct ToScore {
    Id order_id;
    Id member_id;
    size_t group;
  };
  std::vector<ToScore> to_score;
  struct RefundDone {
    Id order_id;
    int64_t amount;
    Id refund_id;
  };
  std::vector<RefundDone> refunds_done;
  std::map<std::pair<Id, int>, int64_t> item_refunded;  // (order, line) → refunded quantity after
  std::map<Id, int64_t> order_refunded;                 // order → refunded_minor after
  BatchCounts counts;
  std::vector<std::function<void()>> undo;
  std::vector<Id> appended;

  // Forgets everything planned; keeps the groups.
  void Clear() {
    std::vector<Group> g = std::move(groups);
    *this = BatchPlan{};
    groups = std::move(g);
  }
};

// SQLite: while a real import runs, the writer connection's page cache is kBulkCacheKib instead
// of the driver's 64 MiB, and set back when the import ends (however it ends). An import inserts
// at random places of orders_member and events_member (one entry per order, keyed by member),
// which outgrow 64 MiB from about a million orders on; with the larger cache their pages stay in
// memory instead of being read back from the file for every insert. Pages are allocated only as
// they are used. Other commands that the writer runs meanwhile share the larger cache.
class BulkCache {
 public:
  static constexpr int64_t kBulkCacheKib = 512 * 1024;
  BulkCache(store::Database& db, bool enable) : db_(db) {
    if (!enable || db.dialect() != store::Dialect::kSqlite) return;
    auto s = db_.Write([&](store::Tx& tx) -> Status {
      RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query("PRAGMA cache_size"));
      if (rows.empty()) return {};
      int64_t before = rows[0].Int(0);
      // Negative: KiB; positive: pages. Only ever raised.
      if (before < 0 && -before >= kBulkCacheKib) return {};
      RG_TRY(tx.ExecScript(fmt::format("PRAGMA cache_size = {}", -kBulkCacheKib)));
      restore_ = before;
      return {};
    });
    (void)s;  // best effort: the import is correct with any cache size
  }
  ~BulkCache() {
    if (!restore_) return;
    (void)db_.Write([&](store::Tx& tx) {
      return tx.ExecScript(fmt::format("PRAGMA cache_size = {}", *restore_));
    });
  }
  BulkCache(const BulkCache&) = delete;
  BulkCache& operator=(const BulkCache&) = delete;

 private:
  store::Database& db_;
  std::optional<int64_t> restore_;
};

class Engine {
 public:
  Engine(store::Database& db, const accounts::Actor& actor, const ImportOptions& options)
      : db_(db), actor_(actor), options_(options) {}

  Result<ImportReport> Run(CsvReader& reader, const ProgressFn& progress, bool validate_only);

 private:
  Status LoadState();
  Status ResolveColumns(const std::vector<std::string_view>& header);
  void Reject(int64_t line, std::string column, std::string reason);
  // Reads one record into the current group (or rejects it).
  void ParseLine(const std::vector<std::string_view>& f, int64_t line);
  void EndGroup();
  // Plans and writes p in one transaction (a read one in a dry run), leaving its counts in
  // p.counts: the path for batches not planned ahead. Runs on a helper thread while the
  // caller's thread parses the next batch: it touches only the member, order and line state
  // below, never what ParseLine uses.
  Status WriteBatch(BatchPlan& p);
  // Writes a batch planned ahead (PlanAhead): one transaction that checks that the orders and
  // returns the plan skips as existing still exist and applies it (the others' INSERTs fail on
  // the unique external ids if any appeared). Touches no engine state (a helper thread runs it
  // while the caller's thread parses and plans the next batch). Any error, a skipped one gone, or a
  // second run of the transaction fails it; the caller then undoes the plan (and any planned
  // after it) and writes the batch through WriteBatch instead.
  Status WritePlanned(BatchPlan& p);
  // Plans p in a read transaction of its own, on the caller's thread, from the state the batch
  // before it leaves (whose write may still be in flight). Leaves p.planned false when planning
  // failed (its changes undone): WriteBatch then plans it inside its transaction.
  void PlanAhead(BatchPlan& p);
  // Which of `ids` (external ids) `table` (orders, order_returns) has, added to out.
  Status LookupIds(store::Tx& tx, std::string_view table, const std::vector<std::string>& ids,
                   std::unordered_set<std::string>& out);
  // Which of the groups' orders and returns the database has.
  Status Lookup(store::Tx& tx, const std::vector<Group>& groups,
                std::unordered_set<std::string>& existing_orders,
                std::unordered_set<std::string>& existing_returns);
  // Fills p from p.groups and p.existing_*; changes the engine's state (undo_ logs it). Reads
  // the database only for members' earlier orders (LoadPriorLines); without tx, a plan that needs
  // them fails (unavailable).
  Status Plan(store::Tx* tx, BatchPlan& p);
  // Runs p's statements (write=false: none, only the dry run's points count).
  Status Apply(store::Tx& tx, BatchPlan& p, bool write);
  // Undoes a plan's changes to the engine's state (plans are undone newest first) and forgets
  // the plan. undo_ must be empty (no plan of this thread's in progress).
  void Undo(BatchPlan& p) {
    undo_ = std::move(p.undo);
    appended_ = std::move(p.appended);
    UndoAll();
    p.Clear();  // not planned any more
  }
  Result<std::optional<Id>> ResolveMember(const Group& g, bool& created, bool& matched,
                                          std::vector<members::Member>& new_members,
                                          std::vector<members::NewIdentity>& new_identities);
  Status LoadPriorLines(store::Tx* tx, Id member, const std::string& sku);
  const std::string& Col(int idx) const {
    static const std::string kNone;
    return idx >= 0 ? cols_.header[idx] : kNone;
  }

  template <class Map, class K, class V>
  void Put(Map& m, const K& k, V v) {
    auto [it, inserted] = m.emplace(k, std::move(v));
    if (inserted) undo_.push_back([&m, k] { m.erase(k); });
  }
  template <class Set, class K>
  void PutKey(Set& m, const K& k) {
    if (m.insert(k).second) undo_.push_back([&m, k] { m.erase(k); });
  }
  void UndoAll() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
    undo_.clear();
    // After the refund undos above, which address lines by index.
    for (auto it = appended_.rbegin(); it != appended_.rend(); ++it) lines_[*it].pop_back();
    appended_.clear();
  }
  void AddLine(Id member, const LineRef& ref) {
    lines_[member].push_back(ref);
    appended_.push_back(member);
  }
  uint32_t SkuId(std::string_view sku) {
    auto it = skus_.find(sku);
    if (it != skus_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(skus_.size());
    skus_.emplace(std::string(sku), id);
    return id;
  }

  store::Database& db_;
  const accounts::Actor& actor_;
  const ImportOptions& options_;
  Columns cols_;
  ImportReport report_;
  loyalty::MerchantSettings settings_;
  std::string tz_;
  int exponent_ = 2;

  // Member keys → member id (survivors of merges).
  std::unordered_map<std::string, Id> by_customer_id_, by_phone_, by_email_;
  std::unordered_set<Id> new_members_;            // created by this run
  std::unordered_set<Id> matched_members_;        // pre-existing ones this run used
  std::unordered_map<std::string, Id> branches_;  // by code and by name
  // Phones as written in the file -> E.164 (empty: invalid). Customers repeat across orders, and
  // libphonenumber is the costliest step per order; bounded so a file of unique phones cannot
  // grow it without end.
  std::unordered_map<std::string, std::string> phone_cache_;
  static constexpr size_t kPhoneCacheMax = 1'000'000;
  // Order ids of the file → the last line of their group (a later line of one is rejected).
  SeenOrders seen_orders_;
  std::unordered_map<Id, std::vector<LineRef>> lines_;  // by member
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> skus_;
  std::vector<Id> appended_;  // members whose lines_ grew in this transaction, in order
  std::unordered_set<std::string> prior_loaded_;  // (member, sku) keys read from the database
  std::unordered_map<Id, OrderRef> orders_;       // member orders that returns may refund
  std::unordered_set<Id> touched_members_;
  std::unordered_set<Id> run_orders_;  // member orders this run created
  std::vector<std::function<void()>> undo_;

  std::optional<Group> group_;
  std::vector<Group> batch_;  // being parsed (the caller's thread)
  // PlanAhead looks up which orders and returns exist. false after a batch that found none:
  // the next plan assumes none exist either, and the write finds out otherwise (the INSERT of an
  // existing external id fails, and the batch is planned again in its write). Set again when a
  // batch is so written.
  bool lookup_ahead_ = true;
  size_t batch_lines_ = 0;
  std::string last_time_text_;
  Micros last_time_ = 0;
};

Status Engine::LoadState() {
  return db_.Read([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(settings_, loyalty::LoadMerchantSettings(tx, actor_.merchant_id));
    tz_ = options_.mapping.timezone.empty() ? settings_.timezone : options_.mapping.timezone;
    RG_TRY(ToLocal(0, tz_));
    exponent_ = CurrencyExponent(settings_.currency);
    if (exponent_ < 0) exponent_ = 2;
    RG_ASSIGN_OR_RETURN(
        store::Rows ms,
        tx.Query("SELECT id, phone, email, merged_into FROM members WHERE merchant_id = ? AND "
                 "erased_at IS NULL",
                 {actor_.merchant_id}));
    std::unordered_map<Id, Id> merged;
    for (const auto& r : ms)
      if (auto into = r.OptInt(3)) merged[r.Int(0)] = *into;
    auto survivor = [&](Id id) {
      for (int i = 0; i < 10; ++i) {
        auto it = merged.find(id);
        if (it == merged.end()) break;
        id = it->second;
      }
      return id;
    };
    for (const auto& r : ms) {
      Id id = survivor(r.Int(0));
      if (auto p = r.OptStr(1)) by_phone_.emplace(*p, id);
      if (auto e = r.OptStr(2)) by_email_.emplace(*e, id);
    }
    RG_ASSIGN_OR_RETURN(
        store::Rows ids,
        tx.Query("SELECT kind, value, member_id FROM member_identities WHERE merchant_id = ? AND "
                 "kind IN ('customer_id', 'phone', 'email')",
                 {actor_.merchant_id}));
    for (const auto& r : ids) {
      std::string kind = r.Str(0);
      Id id = survivor(r.Int(2));
      auto& map = kind == "customer_id" ? by_customer_id_ : kind == "phone" ? by_phone_ : by_email_;
      map.emplace(r.Str(1), id);
    }
    RG_ASSIGN_OR_RETURN(store::Rows bs,
                        tx.Query("SELECT id, code, name FROM branches WHERE merchant_id = ?",
                                 {actor_.merchant_id}));
    for (const auto& r : bs) {
      if (auto c = r.OptStr(1)) branches_.emplace(*c, r.Int(0));
      branches_.emplace(r.Str(2), r.Int(0));
    }
    return {};
  });
}

Status Engine::ResolveColumns(const std::vector<std::string_view>& header) {
  for (auto h : header) cols_.header.emplace_back(Trim(h));
  if (!cols_.header.empty() && cols_.header[0].starts_with("\xEF\xBB\xBF"))
    cols_.header[0] = cols_.header[0].substr(3);
  const Mapping& m = options_.mapping;
  struct F {
    std::string_view key;
    const std::string* column;
    int* idx;
  };
  std::vector<F> fields = {
      {"order_id", &m.order_id, &cols_.order_id},
      {"occurred_at", &m.occurred_at, &cols_.occurred_at},
      {"sku", &m.sku, &cols_.sku},
      {"name", &m.name, &cols_.name},
      {"category", &m.category, &cols_.category},
      {"quantity", &m.quantity, &cols_.quantity},
      {"unit_price", &m.unit_price, &cols_.unit_price},
      {"line_total", &m.line_total, &cols_.line_total},
      {"customer_id", &m.customer_id, &cols_.customer_id},
      {"phone", &m.phone, &cols_.phone},
      {"email", &m.email, &cols_.email},
      {"customer_name", &m.customer_name, &cols_.customer_name},
      {"country", &m.country, &cols_.country},
      {"city", &m.city, &cols_.city},
      {"branch", &m.branch, &cols_.branch},
      {"currency", &m.currency, &cols_.currency},
      {"cancelled", &m.cancelled, &cols_.cancelled},
  };
  for (const auto& f : fields) {
    bool required = f.key == "order_id" || f.key == "occurred_at" ||
                    std::find(m.required.begin(), m.required.end(), f.key) != m.required.end();
    if (f.column->empty()) {
      if (f.key == "order_id" || f.key == "occurred_at")
        return InvalidField(std::string(f.key), "the mapping must name this column");
      continue;
    }
    auto it = std::find(cols_.header.begin(), cols_.header.end(), *f.column);
    if (it != cols_.header.end()) {
      *f.idx = static_cast<int>(it - cols_.header.begin());
    } else if (required) {
      return InvalidField(std::string(f.key),
                          fmt::format("column \"{}\" is not in the file's header", *f.column));
    }
  }
  if (cols_.unit_price < 0 && cols_.line_total < 0)
    return InvalidField("unit_price",
                        fmt::format("the file has neither the unit price column \"{}\" nor the "
                                    "line total column \"{}\"",
                                    m.unit_price, m.line_total));
  return {};
}

void Engine::Reject(int64_t line, std::string column, std::string reason) {
  ++report_.lines_rejected;
  if (report_.rejected.size() < kMaxRejectedKept)
    report_.rejected.push_back({line, std::move(column), std::move(reason)});
}

// Rules for a line (UCI Online Retail's oddities included):
// - The order id is required. A line of an order whose lines ended earlier in the file is
//   rejected (the export must keep an order's lines together).
// - Order-level columns (time, customer, branch, currency, cancelled) are read from the first
//   line of the order that fills them; later lines inherit them (Shopify fills them once).
// - Quantity: an integer, default 1; 0 is rejected. Negative, or any line of an order whose id
//   has the cancel prefix ("C536379"), or of an order marked cancelled: a return.
// - Unit price in major units, at most the currency's decimals ("0.001" in GBP is rejected);
//   negative is rejected (UCI's "Adjust bad debt" lines). Without a unit price, line_total /
//   quantity (it must divide evenly). A negative quantity at price 0 outside a cancellation is a
//   stock adjustment (UCI's "damaged", "lost" lines): rejected, there is nothing to refund.
// - SKU empty: the name stands in; both empty: rejected. Name empty: the SKU stands in.
// - Customer id "17850.0" is read as "17850". A phone must be valid for the merchant's region (or
//   carry a country prefix), an e-mail must look like one.
// - Time in the future (more than 5 minutes) is rejected.
void Engine::ParseLine(const std::vector<std::string_view>& f, int64_t line) {
  auto get = [&](int idx) -> std::string_view {
    return idx >= 0 && static_cast<size_t>(idx) < f.size() ? Trim(f[idx]) : std::string_view{};
  };
  std::string_view oid = get(cols_.order_id);
  if (oid.empty()) return Reject(line, Col(cols_.order_id), "is empty");
  if (oid.size() > 100) return Reject(line, Col(cols_.order_id), "is longer than 100 bytes");
  if (!group_ || group_->external_id != oid) {
    if (auto last = seen_orders_.Find(oid))
      return Reject(line, Col(cols_.order_id),
                    fmt::format("order {} already ended at line {}; an order's lines must be "
                                "together",
                                oid, *last));
    EndGroup();
    group_.emplace();
    group_->external_id = std::string(oid);
    group_->first_line = line;
    group_->cancel_doc = !options_.mapping.cancel_prefix.empty() &&
                         oid.starts_with(options_.mapping.cancel_prefix) &&
                         oid.size() > options_.mapping.cancel_prefix.size();
  }
  Group& g = *group_;
  g.last_line = line;

  // Order-level columns, checked before they are taken so a bad value rejects its line only.
  Micros t = g.occurred_at;
  bool has_time = g.has_time;
  if (!has_time) {
    std::string_view v = get(cols_.occurred_at);
    if (v.empty()) return Reject(line, Col(cols_.occurred_at), "is empty");
    if (v == last_time_text_) {
      t = last_time_;
    } else {
      auto parsed = ParseTime(v, tz_);
      if (!parsed)
        return Reject(line, Col(cols_.occurred_at), fmt::format("not a date and time: \"{}\"", v));
      t = *parsed;
      last_time_text_ = std::string(v);
      last_time_ = t;
    }
    if (t > actor_.now + kFutureSlack)
      return Reject(line, Col(cols_.occurred_at), "is in the future");
  }
  std::string customer_id = g.customer_id, phone = g.phone, email = g.email;
  if (customer_id.empty()) {
    std::string_view v = get(cols_.customer_id);
    if (v.size() > 100) return Reject(line, Col(cols_.customer_id), "is longer than 100 bytes");
    customer_id = CleanCustomerId(v);
  }
  if (phone.empty()) {
    std::string_view v = get(cols_.phone);
    if (!v.empty()) {
      auto cached = phone_cache_.find(std::string(v));
      if (cached == phone_cache_.end()) {
        auto p = NormalizePhone(v, settings_.region, Col(cols_.phone));
        std::string e164 = p ? p->e164 : std::string();
        if (phone_cache_.size() >= kPhoneCacheMax) phone_cache_.clear();
        cached = phone_cache_.emplace(std::string(v), std::move(e164)).first;
      }
      if (cached->second.empty())
        return Reject(
            line, Col(cols_.phone),
            fmt::format("not a valid phone number for region {}: \"{}\"", settings_.region, v));
      phone = cached->second;
    }
  }
  if (email.empty()) {
    std::string_view v = get(cols_.email);
    if (!v.empty()) {
      auto e = accounts::NormalizeEmail(v, Col(cols_.email));
      if (!e)
        return Reject(line, Col(cols_.email), fmt::format("not an e-mail address: \"{}\"", v));
      email = *e;
    }
  }
  std::optional<Id> branch_id = g.branch_id;
  if (!g.has_branch) {
    std::string_view v = get(cols_.branch);
    if (!v.empty()) {
      auto it = branches_.find(std::string(v));
      if (it == branches_.end())
        return Reject(line, Col(cols_.branch),
                      fmt::format("no branch with code or name \"{}\"", v));
      branch_id = it->second;
    }
  }
  if (std::string_view cur = get(cols_.currency); !cur.empty() && cur != settings_.currency)
    return Reject(line, Col(cols_.currency),
                  fmt::format("{} is not this shop's currency ({})", cur, settings_.currency));

  // The line itself.
  ItemLine item;
  item.line = line;
  int64_t qty = 1;
  if (std::string_view v = get(cols_.quantity); !v.empty()) {
    auto q = ParseQuantity(v);
    if (!q) return Reject(line, Col(cols_.quantity), fmt::format("not a whole number: \"{}\"", v));
    qty = *q;
  }
  if (qty == 0) return Reject(line, Col(cols_.quantity), "must not be 0");
  if (qty > 1'000'000 || qty < -1'000'000)
    return Reject(line, Col(cols_.quantity), "must be within -1000000 to 1000000");
  std::string_view price_text = get(cols_.unit_price);
  if (!price_text.empty()) {
    auto p = ParseAmount(price_text, exponent_, settings_.currency);
    if (!p)
      return Reject(line, Col(cols_.unit_price),
                    p.error().message.empty() ? fmt::format("not an amount: \"{}\"", price_text)
                                              : p.error().message);
    if (*p < 0) return Reject(line, Col(cols_.unit_price), "must not be negative");
    item.unit_price_minor = *p;
  } else if (std::string_view v = get(cols_.line_total); !v.empty()) {
    auto p = ParseAmount(v, exponent_, settings_.currency);
    if (!p)
      return Reject(
          line, Col(cols_.line_total),
          p.error().message.empty() ? fmt::format("not an amount: \"{}\"", v) : p.error().message);
    int64_t total = *p;
    if (qty < 0) total = -total;  // a return's line total may be written negative or not
    if (total < 0) return Reject(line, Col(cols_.line_total), "must not be negative");
    int64_t aq = qty < 0 ? -qty : qty;
    if (total % aq != 0)
      return Reject(line, Col(cols_.line_total),
                    fmt::format("{} does not divide into {} equal units", v, aq));
    item.unit_price_minor = total / aq;
  } else {
    return Reject(line, Col(cols_.unit_price >= 0 ? cols_.unit_price : cols_.line_total),
                  "is empty");
  }
  bool is_return = g.cancel_doc || qty < 0;
  if (qty < 0 && item.unit_price_minor == 0 && !g.cancel_doc)
    return Reject(line, Col(cols_.quantity),
                  "negative at unit price 0: a stock adjustment, not a sale or a return");
  item.quantity = qty < 0 ? -qty : qty;
  std::string_view sku = get(cols_.sku), name = get(cols_.name);
  if (sku.empty() && name.empty())
    return Reject(line, Col(cols_.sku >= 0 ? cols_.sku : cols_.name),
                  "is empty (and so is the name)");
  if (sku.size() > 100) return Reject(line, Col(cols_.sku), "is longer than 100 bytes");
  if (name.size() > 300) return Reject(line, Col(cols_.name), "is longer than 300 bytes");
  if (sku.empty() && name.size() > 100)
    return Reject(line, Col(cols_.sku), "is empty and the name is too long to stand in");
  item.sku = std::string(sku.empty() ? name : sku);
  item.name = std::string(name.empty() ? sku : name);
  if (std::string_view c = get(cols_.category); !c.empty()) {
    if (c.size() > 100) return Reject(line, Col(cols_.category), "is longer than 100 bytes");
    item.category = std::string(c);
  }

  // Accepted: take the order-level values.
  g.has_time = true;
  g.occurred_at = t;
  g.customer_id = std::move(customer_id);
  g.phone = std::move(phone);
  g.email = std::move(email);
  if (!g.has_branch && branch_id) {
    g.has_branch = true;
    g.branch_id = branch_id;
  }
  if (g.customer_name.empty()) g.customer_name = std::string(get(cols_.customer_name));
  if (g.country.empty()) g.country = std::string(get(cols_.country));
  if (g.city.empty()) g.city = std::string(get(cols_.city));
  if (cols_.cancelled >= 0 && Truthy(get(cols_.cancelled))) g.cancelled = true;
  (is_return ? g.returns : g.sales).push_back(std::move(item));
  ++batch_lines_;
}

void Engine::EndGroup() {
  if (!group_) return;
  Group g = std::move(*group_);
  group_.reset();
  seen_orders_.Insert(g.external_id, g.last_line);  // ParseLine opens no group of a seen id
  if (g.sales.empty() && g.returns.empty()) return;
  batch_.push_back(std::move(g));
}

Result<std::optional<Id>> Engine::ResolveMember(const Group& g, bool& created, bool& matched,
                                                std::vector<members::Member>& new_members,
                                                std::vector<members::NewIdentity>& new_identities) {
  created = matched = false;
  std::optional<Id> id;
  auto find = [&](auto& map, const std::string& key) {
    if (id || key.empty()) return;
    if (auto it = map.find(key); it != map.end()) id = it->second;
  };
  find(by_customer_id_, g.customer_id);
  find(by_phone_, g.phone);
  find(by_email_, g.email);
  if (id) {
    if (!new_members_.contains(*id)) matched = true;
    // The store's id now finds this member directly.
    if (!g.customer_id.empty() && !by_customer_id_.contains(g.customer_id)) {
      Put(by_customer_id_, g.customer_id, *id);
      new_identities.push_back({*id, {"customer_id", g.customer_id, actor_.now}});
    }
    return id;
  }
  if (g.customer_id.empty() && g.phone.empty() && g.email.empty()) return std::optional<Id>{};
  if (!options_.create_members) return std::optional<Id>{};
  members::Member m;
  m.merchant_id = actor_.merchant_id;
  m.id = NewId();
  m.created_at = m.updated_at = actor_.now;
  if (!g.phone.empty()) m.phone = g.phone;
  if (!g.email.empty()) m.email = g.email;
  if (!g.customer_name.empty() && IsValidUtf8(g.customer_name) && g.customer_name.size() <= 200)
    m.name = g.customer_name;
  if (!g.country.empty() && g.country.size() <= 100) m.region = g.country;
  if (!g.city.empty() && g.city.size() <= 100) m.city = g.city;
  m.home_branch_id = g.branch_id;
  m.referral_code = members::NewMemberCode();
  new_members.push_back(m);
  PutKey(new_members_, m.id);
  if (!g.customer_id.empty()) {
    Put(by_customer_id_, g.customer_id, m.id);
    new_identities.push_back({m.id, {"customer_id", g.customer_id, actor_.now}});
  }
  if (!g.phone.empty()) Put(by_phone_, g.phone, m.id);
  if (!g.email.empty()) Put(by_email_, g.email, m.id);
  created = true;
  return std::optional<Id>(m.id);
}

Status Engine::LoadPriorLines(store::Tx* tx, Id member, const std::string& sku) {
  std::string key = LineKey(member, sku);
  if (prior_loaded_.contains(key)) return {};
  PutKey(prior_loaded_, key);
  if (new_members_.contains(member)) return {};
  if (!tx) return Fail(Code::kUnavailable, "import: planning needs a member's earlier orders");
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx->Query("SELECT o.id, o.occurred_at, o.external_id, o.total_minor, o.refunded_minor, "
                "o.branch_id, i.line, i.quantity, i.refunded_quantity FROM orders o JOIN "
                "order_items i ON i.merchant_id = o.merchant_id AND i.order_id = o.id WHERE "
                "o.merchant_id = ? AND o.member_id = ? AND i.sku = ? ORDER BY o.occurred_at, o.id, "
                "i.line",
                {actor_.merchant_id, member, sku}));
  for (const auto& r : rows) {
    Id oid = r.Int(0);
    // Orders this run wrote are in memory already (with their current refunds).
    if (run_orders_.contains(oid)) continue;
    if (!orders_.contains(oid))
      Put(orders_, oid, OrderRef{r.Str(2), r.Int(3), r.Int(4), r.OptInt(5)});
    AddLine(member,
            {oid, r.Int(1), static_cast<int32_t>(r.Int(6)), SkuId(sku), r.Int(7), r.Int(8)});
  }
  return {};
}

Status Engine::LookupIds(store::Tx& tx, std::string_view table, const std::vector<std::string>& ids,
                         std::unordered_set<std::string>& out) {
  const Id mid = actor_.merchant_id;
  if (tx.dialect() == store::Dialect::kPostgres) {
    // One indexed lookup per id: PostgreSQL plans a long IN list over a table that this very
    // import is filling (not yet analyzed) as a sequential scan, which grows with the table.
    std::string sql =
        fmt::format("SELECT external_id FROM {} WHERE merchant_id = ? AND external_id = ?", table);
    for (const auto& id : ids) {
      RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query(sql, {mid, id}));
      if (!rows.empty()) out.insert(id);
    }
    return {};
  }
  for (size_t start = 0; start < ids.size(); start += 500) {
    std::string in;
    std::vector<Value> params = {mid};
    for (size_t i = 0; i < 500; ++i) {  // one statement shape: the last id repeats
      in += i ? ", ?" : "?";
      params.push_back(ids[std::min(start + i, ids.size() - 1)]);
    }
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query(fmt::format("SELECT external_id FROM {} WHERE merchant_id = "
                                             "? AND external_id IN ({})",
                                             table, in),
                                 params));
    for (const auto& r : rows) out.insert(r.Str(0));
  }
  return {};
}

Status Engine::Lookup(store::Tx& tx, const std::vector<Group>& groups,
                      std::unordered_set<std::string>& existing_orders,
                      std::unordered_set<std::string>& existing_returns) {
  existing_orders.clear();
  existing_returns.clear();
  std::vector<std::string> order_ids, return_ids;
  for (const auto& g : groups) {
    if (!g.sales.empty()) order_ids.push_back(g.external_id);
    if (!g.returns.empty() || g.cancelled)
      return_ids.push_back(g.sales.empty() ? g.external_id : g.external_id + "/return");
  }
  RG_TRY(LookupIds(tx, "orders", order_ids, existing_orders));
  return LookupIds(tx, "order_returns", return_ids, existing_returns);
}

// The batch's plan. Everything it decides comes from the engine's state, p.existing_* and, for
// members' earlier orders, LoadPriorLines; nothing of it is written here.
Status Engine::Plan(store::Tx* tx, BatchPlan& p) {
  const Id mid = actor_.merchant_id;
  const store::Dialect dialect = db_.dialect();
  BatchCounts& c = p.counts;
  const auto& existing_orders = p.existing_orders;
  const auto& existing_returns = p.existing_returns;
  auto& new_members = p.new_members;
  auto& new_identities = p.new_identities;
  auto& orders = p.orders;
  auto& items = p.items;
  auto& returns = p.returns;
  auto& return_items = p.return_items;
  auto& refunds = p.refunds;
  auto& events = p.events;
  auto& to_score = p.to_score;
  auto& refunds_done = p.refunds_done;
  auto& item_refunded = p.item_refunded;
  auto& order_refunded = p.order_refunded;
  std::unordered_map<size_t, Id> self_order;  // group index → its own new order

  for (size_t gi = 0; gi < p.groups.size(); ++gi) {
    const Group& g = p.groups[gi];
    std::string return_id_text = g.sales.empty() ? g.external_id : g.external_id + "/return";
    bool order_new = !g.sales.empty() && !existing_orders.contains(g.external_id);
    bool has_return = !g.returns.empty() || (g.cancelled && !g.sales.empty());
    bool return_new = has_return && !existing_returns.contains(return_id_text);
    if (!g.sales.empty() && !order_new) ++c.orders_existing;
    if (has_return && !return_new) ++c.returns_existing;
    if (!order_new && !return_new) continue;

    bool created = false, matched = false;
    RG_ASSIGN_OR_RETURN(std::optional<Id> member,
                        ResolveMember(g, created, matched, new_members, new_identities));
    if (created) {
      ++c.members_created;
      events.push_back({"member_created", member, R"({"source":"import"})"});
    }
    if (matched && !matched_members_.contains(*member)) {
      ++c.members_matched;
      PutKey(matched_members_, *member);
    }
    if (member) touched_members_.insert(*member);

    if (order_new) {
      Id oid = NewId();
      int64_t total = 0;
      for (size_t i = 0; i < g.sales.size(); ++i) {
        const ItemLine& it = g.sales[i];
        total += it.quantity * it.unit_price_minor;
        items.Add(mid, oid, int64_t(i + 1), it.sku, it.name, store::Opt(it.category), it.quantity,
                  it.unit_price_minor, int64_t{0});
        if (member)
          AddLine(*member,
                  {oid, g.occurred_at, static_cast<int32_t>(i + 1), SkuId(it.sku), it.quantity, 0});
      }
      orders.Add(mid, oid, g.external_id, IdOrNull(member, dialect), IdOrNull(g.branch_id, dialect),
                 IdOrNull(actor_.staff_id, dialect), g.occurred_at, settings_.currency, total,
                 int64_t{0}, options_.source, actor_.now);
      if (member || g.cancelled) Put(orders_, oid, OrderRef{g.external_id, total, 0, g.branch_id});
      if (member) PutKey(run_orders_, oid);
      self_order[gi] = oid;
      ++c.orders_created;
      if (!member) ++c.anonymous_orders;
      c.revenue_minor += total;
      c.lines_imported += static_cast<int64_t>(g.sales.size());
      events.push_back(
          {"order_created", member,
           OrderCreatedData(oid, g.external_id, g.occurred_at, total, settings_.currency,
                            g.sales.size(), options_.source, g.branch_id)});
      if (member && options_.award_points) to_score.push_back({oid, *member, gi});
    }

    if (return_new) {
      // A cancelled order returns all its lines, first against itself.
      const std::vector<ItemLine>& lines = g.returns.empty() ? g.sales : g.returns;
      Id rid = NewId();
      int64_t amount = 0, standalone = 0;
      std::map<Id, int64_t> by_order;  // refund amount per order refunded
      for (size_t i = 0; i < lines.size(); ++i) {
        const ItemLine& it = lines[i];
        int64_t value = it.quantity * it.unit_price_minor;
        amount += value;
        std::optional<Id> target;
        int target_line = 0;
        auto take = [&](LineRef& ref, Id key, size_t idx) {
          target = ref.order_id;
          target_line = ref.line;
          ref.refunded += it.quantity;
          int64_t q = it.quantity;
          undo_.push_back([this, key, idx, q] { lines_[key][idx].refunded -= q; });
          item_refunded[{ref.order_id, ref.line}] = ref.refunded;
        };
        if (member) {
          Id key = *member;
          RG_TRY(LoadPriorLines(tx, *member, it.sku));
          uint32_t sku = SkuId(it.sku);
          auto& refs = lines_[key];
          auto self = g.cancelled ? self_order.find(gi) : self_order.end();
          // Most recent earlier order holding the SKU with enough left to refund.
          std::optional<size_t> best;
          for (size_t k = 0; k < refs.size(); ++k) {
            const LineRef& r = refs[k];
            if (r.sku != sku || r.occurred_at > g.occurred_at ||
                r.quantity - r.refunded < it.quantity)
              continue;
            if (self != self_order.end() && r.order_id == self->second) {
              best = k;
              break;
            }
            if (!best || r.occurred_at >= refs[*best].occurred_at) best = k;
          }
          if (best) take(refs[*best], key, *best);
        } else if (g.cancelled && self_order.contains(gi)) {
          // An anonymous cancelled order refunds itself.
          target = self_order[gi];
          target_line = static_cast<int>(i + 1);
          item_refunded[{*target, target_line}] = it.quantity;
        }
        int64_t matched_value = 0;
        if (target) {
          OrderRef& o = orders_.at(*target);
          matched_value = std::min(value, o.total_minor - o.refunded_minor);
          o.refunded_minor += matched_value;
          Id t = *target;
          undo_.push_back(
              [this, t, matched_value] { orders_.at(t).refunded_minor -= matched_value; });
          order_refunded[t] = o.refunded_minor;
          by_order[t] += matched_value;
        }
        standalone += value - matched_value;
        return_items.Add(mid, rid, int64_t(i + 1), it.sku, it.name, it.quantity,
                         it.unit_price_minor, IdOrNull(target, dialect),
                         target ? IdOrNull(target_line, dialect) : Value());
      }
      returns.Add(mid, rid, return_id_text, IdOrNull(member, dialect),
                  IdOrNull(g.branch_id, dialect), g.occurred_at, settings_.currency, amount,
                  standalone, options_.source, actor_.now);
      for (const auto& [oid, amt] : by_order) {
        Id refund_id = NewId();
        refunds.Add(mid, refund_id, oid, amt, "import: return " + return_id_text, actor_.now, rid);
        refunds_done.push_back({oid, amt, refund_id});
        ++c.refunds;
        nlohmann::json data = {
            {"order_id", IdToString(oid)},  {"refund_id", IdToString(refund_id)},
            {"amount_minor", amt},          {"refunded_minor", order_refunded[oid]},
            {"return_id", IdToString(rid)}, {"source", options_.source}};
        events.push_back({"order_refunded", member, data.dump()});
      }
      if (standalone > 0) {
        ++c.standalone_returns;
        nlohmann::json data = {{"return_id", IdToString(rid)},
                               {"external_id", return_id_text},
                               {"occurred_at", FormatRfc3339(g.occurred_at)},
                               {"amount_minor", standalone},
                               {"currency", settings_.currency},
                               {"source", options_.source}};
        events.push_back({"return_recorded", member, data.dump()});
      }
      c.refunded_minor += amount;
      c.lines_imported += static_cast<int64_t>(g.returns.size());
    }
  }
  return {};
}

// Writes, parents first.
Status Engine::Apply(store::Tx& tx, BatchPlan& p, bool write) {
  const Id mid = actor_.merchant_id;
  BatchCounts& c = p.counts;
  auto& new_members = p.new_members;
  auto& new_identities = p.new_identities;
  auto& events = p.events;
  auto& item_refunded = p.item_refunded;
  auto& order_refunded = p.order_refunded;
  if (write) {
    if (!new_members.empty()) {
      // Referral codes are random; replace the rare one already taken.
      std::vector<std::string> codes;
      for (const auto& m : new_members) codes.push_back(m.referral_code);
      for (int attempt = 0; attempt < 5; ++attempt) {
        RG_ASSIGN_OR_RETURN(auto taken, members::TakenReferralCodes(tx, mid, codes));
        std::set<std::string> seen;
        bool again = false;
        for (size_t i = 0; i < new_members.size(); ++i) {
          if (std::find(taken.begin(), taken.end(), codes[i]) != taken.end() ||
              !seen.insert(codes[i]).second) {
            new_members[i].referral_code = codes[i] = members::NewMemberCode();
            again = true;
          }
        }
        if (!again) break;
      }
      RG_TRY(members::InsertMembers(tx, new_members));
    }
    RG_TRY(members::AddIdentities(tx, mid, new_identities));
  }
  RG_TRY(p.orders.Flush(tx, write));
  RG_TRY(p.items.Flush(tx, write));
  RG_TRY(p.returns.Flush(tx, write));
  RG_TRY(p.return_items.Flush(tx, write));
  RG_TRY(p.refunds.Flush(tx, write));
  if (write) {
    for (const auto& [key, q] : item_refunded)
      RG_TRY(
          tx.Exec("UPDATE order_items SET refunded_quantity = ? WHERE merchant_id = ? AND "
                  "order_id = ? AND line = ?",
                  {q, mid, key.first, int64_t{key.second}}));
    for (const auto& [oid, r] : order_refunded)
      RG_TRY(tx.Exec("UPDATE orders SET refunded_minor = ? WHERE merchant_id = ? AND id = ?",
                     {r, mid, oid}));
  }

  // Points by today's rules, through the ledger primitives (the slower path; only on request).
  if (!p.to_score.empty()) {
    RG_ASSIGN_OR_RETURN(auto rules, loyalty::RulesInForce(tx, mid, actor_.now));
    RG_ASSIGN_OR_RETURN(auto types, loyalty::ListPointTypes(tx, actor_));
    std::map<Id, int> versions;
    for (const auto& r : rules) versions[r.id] = r.version;
    for (const auto& s : p.to_score) {
      const Group& g = p.groups[s.group];
      loyalty::OrderFacts f;
      for (const auto& it : g.sales) {
        f.lines.push_back({it.sku, it.category, it.quantity, it.unit_price_minor});
        f.total_minor += it.quantity * it.unit_price_minor;
      }
      f.branch_id = g.branch_id;
      RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(g.occurred_at, settings_.timezone));
      f.local_weekday = lt.weekday;
      f.local_date = Date{lt.year, lt.month, lt.day};
      loyalty::EarnResult earned = loyalty::ScoreOrder(rules, f);
      if (!write) {
        for (const auto& [pt, points] : earned.total_by_point_type)
          if (points > 0) c.points_awarded += points;
        continue;
      }
      for (size_t i = 0; i < earned.lines.size(); ++i) {
        const auto& l = earned.lines[i];
        RG_TRY(tx.Exec(
            "INSERT INTO order_earnings (merchant_id, order_id, line, member_id, occurred_at, "
            "rule_id, rule_version, point_type_id, points, explanation) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?)",
            {mid, s.order_id, int64_t(i + 1), s.member_id, g.occurred_at, l.rule_id,
             int64_t{versions[l.rule_id]}, l.point_type_id, l.points, l.explanation}));
      }
      for (const auto& [pt, points] : earned.total_by_point_type) {
        if (points <= 0) continue;
        std::optional<Micros> expiry;
        for (const auto& t : types)
          if (t.id == pt) {
            // Points for the past are earned today, so they expire counting from today.
            RG_ASSIGN_OR_RETURN(expiry,
                                loyalty::LotExpiry(t.expiry, actor_.now, settings_.timezone));
          }
        loyalty::EntryInput e{
            s.member_id, pt,         "earn",      points,          "order " + g.external_id,
            "order",     s.order_id, g.branch_id, actor_.staff_id, actor_.now};
        RG_TRY(loyalty::Credit(tx, mid, e, expiry));
        c.points_awarded += points;
      }
    }
  }
  // Refunds of orders that earned points take back their share.
  if (write && options_.award_points) {
    for (const auto& r : p.refunds_done) {
      const OrderRef& o = orders_.at(r.order_id);
      RG_ASSIGN_OR_RETURN(auto entries, loyalty::EntriesForSource(tx, mid, "order", r.order_id));
      std::map<Id, int64_t> earned, reversed;
      std::map<Id, Id> member_of;
      std::vector<Id> earn_entries;
      for (const auto& e : entries) {
        member_of[e.point_type_id] = e.member_id;
        if (e.kind == "earn") {
          earned[e.point_type_id] += e.amount;
          earn_entries.push_back(e.id);
        } else if (e.kind == "reverse") {
          reversed[e.point_type_id] += -e.amount;
        }
      }
      for (const auto& [pt, points] : earned) {
        int64_t take = loyalty::PointsToReverse(points, o.total_minor, order_refunded[r.order_id],
                                                reversed[pt]);
        if (take <= 0) continue;
        loyalty::EntryInput e{member_of[pt],
                              pt,
                              "reverse",
                              take,
                              "refund of order " + o.external_id,
                              "order",
                              r.order_id,
                              o.branch_id,
                              actor_.staff_id,
                              actor_.now};
        RG_TRY(loyalty::Debit(tx, mid, e, true, earn_entries));
      }
    }
  }

  // Events: the seq numbers for the whole batch are reserved at once.
  if (write && !events.empty()) {
    RG_ASSIGN_OR_RETURN(int64_t first,
                        events::ReserveEventSeqs(tx, mid, static_cast<int64_t>(events.size())));
    int64_t seq = first - 1;
    Inserter ev(
        "INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, actor, data) "
        "VALUES ",
        8);
    std::string label = actor_.Label();
    for (auto& e : events)
      ev.Add(mid, ++seq, NewId(), std::move(e.type), IdOrNull(e.member_id, tx.dialect()),
             actor_.now, label, std::move(e.data));
    RG_TRY(ev.Flush(tx, true));
  }
  return {};
}

Status Engine::WriteBatch(BatchPlan& p) {
  p.Clear();
  if (p.groups.empty()) return {};
  auto attempt = [&](store::Tx& tx, bool write) -> Status {
    UndoAll();  // a retried transaction starts again from the committed state
    p.Clear();
    RG_TRY(Lookup(tx, p.groups, p.existing_orders, p.existing_returns));
    RG_TRY(Plan(&tx, p));
    return Apply(tx, p, write);
  };
  Status s = options_.dry_run ? db_.Read([&](store::Tx& tx) { return attempt(tx, false); })
                              : db_.Write([&](store::Tx& tx) { return attempt(tx, true); });
  if (!s) {
    UndoAll();
    return s;
  }
  undo_.clear();  // committed (or, in a dry run, as good as): keep the state
  appended_.clear();
  return {};
}

void Engine::PlanAhead(BatchPlan& p) {
  p.Clear();
  if (p.groups.empty()) return;
  // The existence sets in a short read (or none, see lookup_ahead_), the plan outside any
  // transaction: reads beside the writer's transactions keep the checkpointer from resetting the
  // WAL, and a reader's page lookups slow down as the WAL grows (on 5M generated lines the WAL
  // had grown to 2.9 GB, and the plans' reads made this thread the slower one).
  Status s;
  if (lookup_ahead_) {
    s = db_.Read([&](store::Tx& tx) -> Status {
      return Lookup(tx, p.groups, p.existing_orders, p.existing_returns);
    });
  }
  if (s) s = Plan(nullptr, p);
  if (!s) {
    // A member's earlier orders are needed (or the read failed): plan inside a read.
    UndoAll();
    p.Clear();
    s = db_.Read([&](store::Tx& tx) -> Status {
      UndoAll();  // a read run again starts from the same state
      p.Clear();
      RG_TRY(Lookup(tx, p.groups, p.existing_orders, p.existing_returns));
      return Plan(&tx, p);
    });
  }
  if (!s) {
    UndoAll();
    p.Clear();
    return;
  }
  // A batch that found none of its orders and returns: the next ones are likely new too.
  lookup_ahead_ = !p.existing_orders.empty() || !p.existing_returns.empty();
  p.undo = std::move(undo_);
  p.appended = std::move(appended_);
  undo_.clear();
  appended_.clear();
  p.planned = true;
}

Status Engine::WritePlanned(BatchPlan& p) {
  int runs = 0;
  return db_.Write([&](store::Tx& tx) -> Status {
    // The plan's rows are consumed by the first run: a second one goes through WriteBatch.
    if (++runs > 1) return Fail(Code::kAborted, "import: the batch's transaction ran again");
    // The plan skips the orders and returns that its read found and inserts the rest. One of
    // the rest that appeared since fails its INSERT on the unique external ids (orders_external,
    // order_returns_external), so only the skipped ones are looked up again: still there, the
    // plan stands.
    std::unordered_set<std::string> orders, returns;
    RG_TRY(LookupIds(tx, "orders", {p.existing_orders.begin(), p.existing_orders.end()}, orders));
    RG_TRY(LookupIds(tx, "order_returns", {p.existing_returns.begin(), p.existing_returns.end()},
                     returns));
    if (orders.size() != p.existing_orders.size() || returns.size() != p.existing_returns.size())
      return Fail(Code::kAborted, "import: orders or returns of the batch went away meanwhile");
    return Apply(tx, p, true);
  });
}

Result<ImportReport> Engine::Run(CsvReader& reader, const ProgressFn& progress,
                                 bool validate_only) {
  auto started = std::chrono::steady_clock::now();
  report_ = ImportReport{};
  report_.dry_run = options_.dry_run;
  RG_TRY(LoadState());
  report_.currency = settings_.currency;
  BulkCache bulk_cache(db_, !validate_only && !options_.dry_run);
  std::vector<std::string_view> fields;
  auto first = reader.Next(fields);
  if (!first)
    return InvalidField("file",
                        fmt::format("line {}: {}", first.error().line, first.error().message));
  if (!*first) return InvalidField("file", "is empty (no header line)");
  RG_TRY(ResolveColumns(fields));
  report_.encoding = std::string(EncodingName(reader.encoding()));
  const size_t batch_orders = static_cast<size_t>(std::max(1, options_.batch_orders));

  // Two batches at a time: while the helper thread writes one, this thread reads, parses and
  // validates the next (CSV decoding, times, amounts, phone and e-mail normalisation) and, in a
  // real import without points, plans it too (PlanAhead: members matched and created, rows and
  // events built, from the state the batch in flight leaves), so that the write is only the
  // existence checks and the statements (WritePlanned). A batch in flight that fails or finds
  // other orders or returns than its plan assumed is written again through WriteBatch, which
  // plans it inside its transaction, after undoing both plans; the next one is planned again.
  // Dry runs and imports with points plan inside the write (WriteBatch) as before, and then the
  // next batch is only parsed meanwhile. What a caller sees is unchanged: the ProgressFn runs
  // after each batch's commit, on this thread and while no write of the import is in flight,
  // with the counts as they stood where that batch ended; when it stops the import, the batch
  // parsed meanwhile is dropped unwritten (its plan undone) and the report's line counts are set
  // back to that point.
  const bool plan_ahead = !validate_only && !options_.dry_run && !options_.award_points;
  struct Cut {  // where a batch ended in the file
    int64_t lines = 0, lines_rejected = 0, bytes_consumed = 0;
    size_t rejected_kept = 0;
  };
  auto cut_here = [&] {
    return Cut{report_.lines, report_.lines_rejected, reader.bytes_consumed(),
               report_.rejected.size()};
  };
  std::optional<Cut> in_flight;        // the batch handed to the helper thread, until settled
  std::unique_ptr<BatchPlan> writing;  // its plan
  std::future<Status> written;         // declared after bulk_cache: joined before it is restored
  // Waits for the batch in flight, adds its counts and reports progress. `next` (may be null) is
  // the batch parsed meanwhile, planned ahead or not. false: the ProgressFn stopped the import.
  auto settle = [&](BatchPlan* next) -> Result<bool> {
    if (!in_flight) return true;
    Cut at = *in_flight;
    in_flight.reset();
    if (written.valid()) {
      Status s = written.get();
      if (!s && writing->planned) {
        // Back to the state before the batch in flight, and that batch planned in its write.
        if (next && next->planned) Undo(*next);
        Undo(*writing);
        s = WriteBatch(*writing);
        lookup_ahead_ = true;
      }
      RG_TRY(s);
      writing->counts.AddTo(report_);
      writing.reset();
    }
    if (progress && !progress({at.lines, at.bytes_consumed, reader.total_bytes()})) {
      if (next && next->planned) Undo(*next);
      report_.lines = at.lines;
      report_.lines_rejected = at.lines_rejected;
      report_.rejected.resize(at.rejected_kept);
      return false;
    }
    return true;
  };
  // Takes batch_ as the next batch, plans it ahead when the batch in flight (if any) was planned
  // ahead too (one written through WriteBatch changes the state as it goes).
  auto take_batch = [&]() {
    auto next = std::make_unique<BatchPlan>();
    next->groups = std::move(batch_);
    batch_.clear();
    batch_lines_ = 0;
    if (plan_ahead && (!writing || writing->planned)) PlanAhead(*next);
    return next;
  };
  // Hands `next` to the helper thread (only validated in a validate_only run).
  auto launch = [&](std::unique_ptr<BatchPlan> next, Cut at) {
    if (!validate_only) {
      if (plan_ahead && !next->planned) PlanAhead(*next);  // nothing is in flight now
      writing = std::move(next);
      BatchPlan* p = writing.get();
      written = std::async(std::launch::async,
                           [this, p] { return p->planned ? WritePlanned(*p) : WriteBatch(*p); });
    }
    in_flight = at;
  };
  // Joins the helper thread on every way out of Run (its result is then ignored).
  struct Join {
    std::future<Status>& f;
    ~Join() {
      if (f.valid()) f.wait();
    }
  } join{written};

  bool stopped = false;
  while (true) {
    auto next = reader.Next(fields);
    if (!next) {
      const CsvError& e = next.error();
      ++report_.lines;
      std::string column = e.column > 0 && static_cast<size_t>(e.column) <= cols_.header.size()
                               ? cols_.header[e.column - 1]
                               : "";
      Reject(e.line, column, e.message);
      if (e.fatal) break;
      continue;
    }
    if (!*next) break;
    ++report_.lines;
    // Blank lines are no records.
    if (fields.size() == 1 && Trim(fields[0]).empty()) {
      --report_.lines;
      continue;
    }
    ParseLine(fields, reader.record_line());
    if (batch_.size() >= batch_orders) {
      Cut at = cut_here();
      auto batch = take_batch();
      RG_ASSIGN_OR_RETURN(bool go_on, settle(batch.get()));
      if (!go_on) {
        stopped = true;
        break;
      }
      launch(std::move(batch), at);
    }
  }
  if (!stopped) {
    EndGroup();
    Cut at = cut_here();
    auto batch = take_batch();
    RG_ASSIGN_OR_RETURN(bool go_on, settle(batch.get()));
    if (go_on) {
      launch(std::move(batch), at);
      RG_TRY(settle(nullptr));  // the last ProgressFn's answer stops nothing
    } else {
      stopped = true;
    }
  }
  report_.cancelled = stopped;
  report_.encoding = std::string(EncodingName(reader.encoding()));  // settled by now
  if (!validate_only && options_.rebuild_tiers && !options_.dry_run) {
    std::vector<Id> ids(touched_members_.begin(), touched_members_.end());
    std::sort(ids.begin(), ids.end());
    for (size_t start = 0; start < ids.size(); start += 500) {
      RG_TRY(db_.Write([&](store::Tx& tx) -> Status {
        for (size_t i = start; i < std::min(ids.size(), start + 500); ++i)
          RG_TRY(loyalty::RequalifyMember(tx, actor_, ids[i]));
        return {};
      }));
    }
  }
  report_.committed = !validate_only && !options_.dry_run;
  report_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report_;
}

}  // namespace

Result<ImportReport> ImportOrders(store::Database& db, const accounts::Actor& actor,
                                  CsvReader& reader, const ImportOptions& options,
                                  const ProgressFn& progress) {
  if (options.all_or_nothing && !options.dry_run) {
    if (!options.reopen)
      return Fail(Code::kFailedPrecondition,
                  "all_or_nothing: the input must be readable twice (set ImportOptions.reopen, "
                  "or use ImportOrdersFile)");
    // First pass: every rule that can reject a line depends on the file alone, so reading it
    // once without writing tells whether any line would be rejected.
    Engine check(db, actor, options);
    RG_ASSIGN_OR_RETURN(ImportReport pre, check.Run(reader, {}, /*validate_only=*/true));
    if (pre.lines_rejected > 0) {
      ImportReport r;
      r.lines = pre.lines;
      r.lines_rejected = pre.lines_rejected;
      r.rejected = std::move(pre.rejected);
      r.currency = pre.currency;
      r.encoding = pre.encoding;
      r.committed = false;
      r.seconds = pre.seconds;
      return r;
    }
    RG_ASSIGN_OR_RETURN(auto again, options.reopen());
    Engine engine(db, actor, options);
    auto r = engine.Run(*again, progress, false);
    if (r) r->seconds += pre.seconds;
    return r;
  }
  Engine engine(db, actor, options);
  return engine.Run(reader, progress, false);
}

Result<ImportReport> ImportOrdersFile(store::Database& db, const accounts::Actor& actor,
                                      const std::string& path, ImportOptions options,
                                      const ProgressFn& progress) {
  RG_ASSIGN_OR_RETURN(auto reader, CsvReader::OpenFile(path, options.csv));
  if (!options.reopen) {
    CsvOptions csv = options.csv;
    options.reopen = [path, csv]() { return CsvReader::OpenFile(path, csv); };
  }
  return ImportOrders(db, actor, *reader, options, progress);
}

}  // namespace regulars::importer
