#include "loyalty/order_service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include "base/phone.h"
#include "base/text.h"
#include "base/zone.h"
#include "events/event_repo.h"
#include "loyalty/config_cache.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/order_hooks.h"
#include "loyalty/tier_service.h"
#include "members/member_repo.h"
#include "members/member_service.h"

namespace regulars::loyalty {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Rows;

constexpr Micros kFutureSlack = 5 * 60 * kMicrosPerSecond;

Status CheckText(const std::string& v, const std::string& field, size_t max, bool required) {
  if (v.empty()) return required ? InvalidField(field, "is required") : Status{};
  if (!IsValidUtf8(v)) return InvalidField(field, "is not valid UTF-8");
  if (v.size() > max) return InvalidField(field, fmt::format("is longer than {} bytes", max));
  return {};
}

// members::LookupByPhone for a phone already read into E.164 (PrenormalizeOrderPhone): the same
// answers, without libphonenumber.
Result<members::Member> LookupByE164(store::Tx& tx, const Actor& actor, const std::string& e164) {
  RG_ASSIGN_OR_RETURN(auto id, members::FindByPhone(tx, actor.merchant_id, e164));
  if (!id) return Fail(Code::kNotFound, "no member with this phone number");
  RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, *id));
  if (!m) return Fail(Code::kNotFound, "member not found");
  if (m->merged_into) {
    RG_ASSIGN_OR_RETURN(auto into, members::LoadMember(tx, actor.merchant_id, *m->merged_into));
    if (!into) return Fail(Code::kNotFound, "member not found");
    return std::move(*into);
  }
  return std::move(*m);
}

struct Resolved {
  std::optional<members::Member> member;
  bool created = false;
  MerchantSettings settings;
  Micros occurred_at = 0;
};

Result<Resolved> Resolve(store::Tx& tx, const Actor& actor, const OrderInput& in, bool may_create,
                         const MerchantConfig& config) {
  Resolved r;
  r.settings = config.settings;
  if (in.currency && *in.currency != r.settings.currency)
    return InvalidField("currency", fmt::format("this shop uses {}", r.settings.currency));
  r.occurred_at = in.occurred_at.value_or(actor.now);
  if (r.occurred_at > actor.now + kFutureSlack)
    return InvalidField("occurred_at", "is in the future");
  if (in.branch_id) {
    RG_ASSIGN_OR_RETURN(Rows b, tx.Query("SELECT 1 FROM branches WHERE merchant_id = ? AND id = ?",
                                         {actor.merchant_id, *in.branch_id}));
    if (b.empty()) return InvalidField("branch_id", "branch not found");
    if (!actor.MayUseBranch(*in.branch_id))
      return Fail(Code::kPermissionDenied, "branch_id: you may not act for this branch",
                  "branch_id");
  }
  members::MerchantContext mc{r.settings.region};
  if (in.member_id) {
    RG_ASSIGN_OR_RETURN(auto m, members::LoadMember(tx, actor.merchant_id, *in.member_id));
    if (!m) return InvalidField("member_id", "member not found");
    if (m->merged_into) {
      RG_ASSIGN_OR_RETURN(m, members::LoadMember(tx, actor.merchant_id, *m->merged_into));
    }
    r.member = std::move(m);
  } else if (in.phone) {
    auto found = in.phone_e164 && in.phone_region == r.settings.region
                     ? LookupByE164(tx, actor, *in.phone_e164)
                     : members::LookupByPhone(tx, actor, mc, *in.phone);
    if (found) {
      r.member = std::move(*found);
    } else if (found.error().code != Code::kNotFound) {
      return std::unexpected(found.error());
    } else if (!r.settings.register_on_order) {
      return InvalidField("phone",
                          "no member has this phone, and this shop does not register "
                          "members from orders");
    } else if (may_create) {
      members::MemberInput mi;
      mi.phone = *in.phone;
      mi.branch_id = in.branch_id;
      mi.consent_source = "api";
      RG_ASSIGN_OR_RETURN(auto created, members::CreateMember(tx, actor, mc, mi));
      r.member = std::move(created);
      r.created = true;
    }
  }
  if (r.member && r.member->erased_at)
    return Fail(Code::kFailedPrecondition, "member_id: the member was erased", "member_id");
  return r;
}

Result<OrderFacts> Facts(store::Tx& tx, const Actor& actor, const OrderInput& in, const Resolved& r,
                         const std::vector<EarningRule>& rules, const MerchantConfig& config) {
  OrderFacts f;
  f.total_minor = in.total_minor;
  for (const auto& i : in.items)
    f.lines.push_back({i.sku, i.category, i.quantity, i.unit_price_minor});
  f.branch_id = in.branch_id;
  RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(r.occurred_at, r.settings.timezone));
  f.local_weekday = lt.weekday;
  f.local_date = Date{lt.year, lt.month, lt.day};
  if (r.member && r.member->birthday) f.birthday_month = r.member->birthday->month == lt.month;
  if (r.member) {
    RG_ASSIGN_OR_RETURN(
        auto tier, CurrentTier(tx, actor.merchant_id, r.member->id, r.occurred_at, config.tiers));
    if (tier) {
      f.tier_level = tier->level;
      f.tier_name = tier->name;
      f.tier_multiplier_milli = tier->earn_multiplier_milli;
    }
    // Only a daily cap needs what the member earned today.
    bool daily_cap = std::any_of(rules.begin(), rules.end(),
                                 [](const EarningRule& rule) { return rule.cap_per_day > 0; });
    if (!daily_cap) return f;
    RG_ASSIGN_OR_RETURN(Micros day_start,
                        FromLocal(lt.year, lt.month, lt.day, 0, 0, 0, r.settings.timezone));
    RG_ASSIGN_OR_RETURN(Micros day_end, EndOfLocalDay(r.occurred_at, r.settings.timezone));
    RG_ASSIGN_OR_RETURN(Rows today,
                        tx.Query("SELECT rule_id, SUM(points) FROM order_earnings "
                                 "WHERE merchant_id = ? AND member_id = ? AND "
                                 "occurred_at >= ? AND occurred_at < ? GROUP BY rule_id",
                                 {actor.merchant_id, r.member->id, day_start, day_end}));
    for (const auto& t : today) f.earned_today_by_rule[t.Int(0)] = t.Int(1);
  }
  return f;
}

Result<std::map<Id, std::string>> PointTypeCodes(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query("SELECT id, code FROM point_types WHERE merchant_id = ?", {merchant_id}));
  std::map<Id, std::string> out;
  for (const auto& r : rows) out[r.Int(0)] = r.Str(1);
  return out;
}

Result<Order> LoadOrder(store::Tx& tx, Id merchant_id, Id order_id, bool lock) {
  // The UPDATE form row-locks the order (PostgreSQL) so two refunds of one order serialise.
  std::string sql = lock
                        ? "UPDATE orders SET refunded_minor = refunded_minor WHERE merchant_id = ? "
                          "AND id = ? RETURNING "
                        : "SELECT ";
  sql +=
      "id, external_id, member_id, branch_id, staff_id, occurred_at, currency, total_minor, "
      "refunded_minor, created_at";
  if (!lock) sql += " FROM orders WHERE merchant_id = ? AND id = ?";
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, {merchant_id, order_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "order not found");
  const auto& r = rows[0];
  Order o{r.Int(0), r.Str(1), r.OptInt(2), r.OptInt(3), r.OptInt(4), r.Int(5),
          r.Str(6), r.Int(7), r.Int(8),    {},          r.Int(9)};
  RG_ASSIGN_OR_RETURN(Rows items, tx.Query("SELECT line, sku, name, category, quantity, "
                                           "unit_price_minor, refunded_quantity FROM order_items "
                                           "WHERE merchant_id = ? AND order_id = ? ORDER BY line",
                                           {merchant_id, order_id}));
  for (const auto& i : items)
    o.items.push_back({static_cast<int>(i.Int(0)),
                       {i.Str(1), i.Str(2), i.OptStr(3), i.Int(4), i.Int(5)},
                       i.Int(6)});
  return o;
}

}  // namespace

namespace {

// The E.164 form of phones that read as valid, by region and the phone as typed: NormalizePhone
// is a pure function of the two and costs tens of µs (libphonenumber's ICU regular
// expressions), while a shop's regulars come back with the same number. Bounded: emptied when
// it reaches kPhoneCacheSize entries (about 100 bytes each). Invalid phones are not kept.
constexpr size_t kPhoneCacheSize = 100'000;
std::mutex phone_cache_mu;
std::unordered_map<std::string, std::string> phone_cache;
std::atomic<int64_t> phone_cache_hits{0}, phone_cache_misses{0};

}  // namespace

void PrenormalizeOrderPhone(OrderInput& in, const std::string& region) {
  if (!in.phone || in.member_id) return;
  std::string key;
  key.reserve(region.size() + 1 + in.phone->size());
  key.append(region).push_back('\0');  // a region never holds NUL
  key.append(*in.phone);
  {
    std::lock_guard lock(phone_cache_mu);
    if (auto it = phone_cache.find(key); it != phone_cache.end()) {
      in.phone_e164 = it->second;
      in.phone_region = region;
      ++phone_cache_hits;
      return;
    }
  }
  ++phone_cache_misses;
  auto p = NormalizePhone(*in.phone, region, "phone");
  if (!p) return;
  in.phone_e164 = std::move(p->e164);
  in.phone_region = region;
  std::lock_guard lock(phone_cache_mu);
  if (phone_cache.size() >= kPhoneCacheSize) phone_cache.clear();
  phone_cache.emplace(std::move(key), *in.phone_e164);
}

std::pair<int64_t, int64_t> OrderPhoneCacheCounts() {
  return {phone_cache_hits.load(), phone_cache_misses.load()};
}

Status ValidateOrderInput(const OrderInput& in) {
  RG_TRY(CheckText(in.external_id, "external_id", 100, true));
  if (in.member_id && in.phone) return InvalidField("phone", "give member_id or phone, not both");
  if (in.total_minor < 0)
    return InvalidField("total_minor", "is required and must not be negative");
  if (in.items.size() > 1000) return InvalidField("items", "at most 1000 items");
  for (size_t i = 0; i < in.items.size(); ++i) {
    const auto& it = in.items[i];
    std::string p = fmt::format("items[{}].", i);
    RG_TRY(CheckText(it.sku, p + "sku", 100, true));
    RG_TRY(CheckText(it.name, p + "name", 300, true));
    if (it.category) RG_TRY(CheckText(*it.category, p + "category", 100, false));
    if (it.quantity <= 0 || it.quantity > 1'000'000)
      return InvalidField(p + "quantity", "must be 1 to 1000000");
    if (it.unit_price_minor < 0)
      return InvalidField(p + "unit_price_minor", "must not be negative");
  }
  return {};
}

Result<EarnResult> CalculateOrder(store::Tx& tx, const Actor& actor, const OrderInput& in) {
  OrderInput checked = in;
  if (checked.external_id.empty()) checked.external_id = "calculate";
  RG_TRY(ValidateOrderInput(checked));
  RG_ASSIGN_OR_RETURN(auto config, CurrentConfig(tx, actor));
  RG_ASSIGN_OR_RETURN(Resolved r, Resolve(tx, actor, in, /*may_create=*/false, *config));
  std::vector<EarningRule> rules = config->RulesAt(r.occurred_at);
  RG_ASSIGN_OR_RETURN(OrderFacts f, Facts(tx, actor, in, r, rules, *config));
  return ScoreOrder(rules, f);
}

Result<OrderResult> CreateOrder(store::Tx& tx, const Actor& actor, const OrderInput& given) {
  RG_TRY(ValidateOrderInput(given));
  OrderInput in = given;
  // A cashier limited to branches sells at their (first) branch unless the order says otherwise.
  if (!in.branch_id && !actor.branch_ids.empty()) in.branch_id = actor.branch_ids.front();
  // The configuration's version and the duplicate check in one statement.
  RG_ASSIGN_OR_RETURN(Rows head, tx.Query("SELECT m.config_version, (SELECT o.id FROM orders o "
                                          "WHERE o.merchant_id = ? AND o.external_id = ?) FROM "
                                          "merchants m WHERE m.merchant_id = ?",
                                          {actor.merchant_id, in.external_id, actor.merchant_id}));
  if (head.empty()) return Fail(Code::kNotFound, "merchant not found");
  if (auto dup = head[0].OptInt(1))
    return Fail(MakeError(Code::kAlreadyExists, "external_id: an order with this id already exists",
                          "external_id")
                    .WithDetail("order_id", IdToString(*dup)));
  RG_ASSIGN_OR_RETURN(auto config, ConfigAtVersion(tx, actor, head[0].Int(0)));
  RG_ASSIGN_OR_RETURN(Resolved r, Resolve(tx, actor, in, /*may_create=*/true, *config));
  OrderResult out;
  out.config = config;
  out.member_created = r.created;
  Order& o = out.order;
  o.id = NewId();
  o.external_id = in.external_id;
  if (r.member) o.member_id = r.member->id;
  o.branch_id = in.branch_id;
  o.staff_id = actor.staff_id;
  o.occurred_at = r.occurred_at;
  o.currency = r.settings.currency;
  o.total_minor = in.total_minor;
  o.created_at = actor.now;
  RG_TRY(
      tx.Exec("INSERT INTO orders (merchant_id, id, external_id, member_id, branch_id, staff_id, "
              "occurred_at, currency, total_minor, refunded_minor, source, created_at) VALUES "
              "(?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
              {actor.merchant_id, o.id, o.external_id, Opt(o.member_id), Opt(o.branch_id),
               Opt(o.staff_id), o.occurred_at, o.currency, o.total_minor, in.source, actor.now}));
  for (size_t i = 0; i < in.items.size(); ++i) {
    const auto& it = in.items[i];
    o.items.push_back({static_cast<int>(i + 1), it, 0});
    RG_TRY(
        tx.Exec("INSERT INTO order_items (merchant_id, order_id, line, sku, name, category, "
                "quantity, unit_price_minor, refunded_quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                {actor.merchant_id, o.id, int64_t(i + 1), it.sku, it.name, Opt(it.category),
                 it.quantity, it.unit_price_minor}));
  }
  if (!r.member) out.point_type_codes.emplace();  // nothing earned: the reply names none
  if (r.member) {
    std::vector<EarningRule> rules = config->RulesAt(r.occurred_at);
    RG_ASSIGN_OR_RETURN(OrderFacts f, Facts(tx, actor, in, r, rules, *config));
    out.earned = ScoreOrder(rules, f);
    std::map<Id, int> versions;
    for (const auto& rule : rules) versions[rule.id] = rule.version;
    for (size_t i = 0; i < out.earned.lines.size(); ++i) {
      const EarnLine& l = out.earned.lines[i];
      RG_TRY(
          tx.Exec("INSERT INTO order_earnings (merchant_id, order_id, line, member_id, "
                  "occurred_at, rule_id, rule_version, point_type_id, points, explanation) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  {actor.merchant_id, o.id, int64_t(i + 1), r.member->id, r.occurred_at, l.rule_id,
                   int64_t{versions[l.rule_id]}, l.point_type_id, l.points, l.explanation}));
    }
    // The point types: their codes for the reply, their expiry for the lots.
    const std::vector<PointType>& types = config->point_types;
    std::map<Id, std::string> codes;
    for (const auto& t : types) codes[t.id] = t.code;
    out.point_type_codes = codes;
    for (const auto& [pt, points] : out.earned.total_by_point_type) {
      if (points <= 0) continue;
      std::optional<Micros> expiry;
      for (const auto& t : types)
        if (t.id == pt) {
          RG_ASSIGN_OR_RETURN(expiry, LotExpiry(t.expiry, r.occurred_at, r.settings.timezone));
        }
      EntryInput e{r.member->id, pt,   "earn",      points,         "order " + o.external_id,
                   "order",      o.id, o.branch_id, actor.staff_id, actor.now};
      RG_ASSIGN_OR_RETURN(Entry entry, Credit(tx, actor.merchant_id, e, expiry));
      out.effects.push_back({pt, codes[pt], points, entry.balance_after});
    }
  }
  json data = {{"order_id", IdToString(o.id)},
               {"external_id", o.external_id},
               {"total_minor", o.total_minor},
               {"currency", o.currency}};
  if (o.branch_id) data["branch_id"] = IdToString(*o.branch_id);
  json pts = json::array();
  for (const auto& e : out.effects)
    pts.push_back(
        {{"point_type", e.point_type}, {"points", e.points}, {"balance_after", e.balance_after}});
  data["points"] = pts;
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"order_created", o.member_id, actor.Label(), data.dump()}));
  RG_TRY(AfterOrderCreated(tx, actor, out, in));
  return out;
}

Result<OrderResult> RefundOrder(store::Tx& tx, const Actor& actor, Id order_id,
                                const RefundInput& in) {
  if (in.items && in.amount_minor)
    return InvalidField("amount_minor", "give items or amount_minor, not both");
  RG_ASSIGN_OR_RETURN(Order o, LoadOrder(tx, actor.merchant_id, order_id, /*lock=*/true));
  int64_t left = o.total_minor - o.refunded_minor;
  int64_t amount = 0;
  if (in.items) {
    int64_t items_sum = 0;
    for (const auto& it : o.items) items_sum += it.item.quantity * it.item.unit_price_minor;
    int64_t lines_value = 0;
    for (size_t i = 0; i < in.items->size(); ++i) {
      const RefundLine& rl = (*in.items)[i];
      std::string p = fmt::format("items[{}].", i);
      auto it = std::find_if(o.items.begin(), o.items.end(),
                             [&](const OrderItem& x) { return x.line == rl.line; });
      if (it == o.items.end())
        return InvalidField(p + "line", fmt::format("the order has no line {}", rl.line));
      int64_t can = it->item.quantity - it->refunded_quantity;
      if (rl.quantity <= 0 || rl.quantity > can)
        return InvalidField(p + "quantity", fmt::format("must be 1 to {} (not yet refunded)", can));
      it->refunded_quantity += rl.quantity;
      lines_value += rl.quantity * it->item.unit_price_minor;
      RG_TRY(
          tx.Exec("UPDATE order_items SET refunded_quantity = ? WHERE merchant_id = ? AND "
                  "order_id = ? AND line = ?",
                  {it->refunded_quantity, actor.merchant_id, o.id, int64_t{it->line}}));
    }
    // Order-level discounts are refunded in proportion.
    amount =
        items_sum > 0
            ? static_cast<int64_t>((static_cast<__int128>(lines_value) * o.total_minor) / items_sum)
            : 0;
    amount = std::min(amount, left);
  } else if (in.amount_minor) {
    if (*in.amount_minor <= 0 || *in.amount_minor > left)
      return InvalidField("amount_minor",
                          fmt::format("must be 1 to {} (what is not yet refunded)", left));
    amount = *in.amount_minor;
  } else {
    if (left <= 0) return Fail(Code::kFailedPrecondition, "the order is already fully refunded");
    amount = left;
  }
  o.refunded_minor += amount;
  RG_TRY(tx.Exec("UPDATE orders SET refunded_minor = ? WHERE merchant_id = ? AND id = ?",
                 {o.refunded_minor, actor.merchant_id, o.id}));
  Id refund_id = NewId();
  RG_TRY(
      tx.Exec("INSERT INTO refunds (merchant_id, id, order_id, amount_minor, reason, created_at) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              {actor.merchant_id, refund_id, o.id, amount, in.reason, actor.now}));
  OrderResult out;
  if (o.member_id) {
    RG_ASSIGN_OR_RETURN(auto entries, EntriesForSource(tx, actor.merchant_id, "order", o.id));
    std::map<Id, int64_t> earned, reversed;
    std::vector<Id> earn_entries;
    for (const auto& e : entries) {
      if (e.kind == "earn") {
        earned[e.point_type_id] += e.amount;
        earn_entries.push_back(e.id);
      } else if (e.kind == "reverse") {
        reversed[e.point_type_id] += -e.amount;
      }
    }
    RG_ASSIGN_OR_RETURN(auto codes, PointTypeCodes(tx, actor.merchant_id));
    out.point_type_codes = codes;
    for (const auto& [pt, points] : earned) {
      int64_t take = PointsToReverse(points, o.total_minor, o.refunded_minor, reversed[pt]);
      if (take <= 0) continue;
      EntryInput e{
          *o.member_id, pt,   "reverse",   take,           "refund of order " + o.external_id,
          "order",      o.id, o.branch_id, actor.staff_id, actor.now};
      // Points already spent become a negative balance or a debt, as the point type says.
      RG_ASSIGN_OR_RETURN(Entry entry, Debit(tx, actor.merchant_id, e, true, earn_entries));
      out.effects.push_back({pt, codes[pt], -take, entry.balance_after});
    }
  }
  json data = {{"order_id", IdToString(o.id)},
               {"refund_id", IdToString(refund_id)},
               {"amount_minor", amount},
               {"refunded_minor", o.refunded_minor}};
  json pts = json::array();
  for (const auto& e : out.effects)
    pts.push_back(
        {{"point_type", e.point_type}, {"points", e.points}, {"balance_after", e.balance_after}});
  data["points"] = pts;
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now,
                             {"order_refunded", o.member_id, actor.Label(), data.dump()}));
  out.order = std::move(o);
  RG_TRY(AfterOrderRefunded(tx, actor, out));
  return out;
}

Result<Order> GetOrder(store::Tx& tx, const Actor& actor, Id order_id) {
  return LoadOrder(tx, actor.merchant_id, order_id, false);
}

Result<Page<Order>> ListOrders(store::Tx& tx, const Actor& actor, std::optional<Id> member_id,
                               std::optional<std::string> cursor, int limit) {
  Id before = INT64_MAX;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    before = *id;
  }
  std::string sql = "SELECT id FROM orders WHERE merchant_id = ? AND id < ?";
  std::vector<store::Value> params = {actor.merchant_id, before};
  if (member_id) {
    sql += " AND member_id = ?";
    params.push_back(*member_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.push_back(int64_t{limit + 1});
  RG_ASSIGN_OR_RETURN(Rows ids, tx.Query(sql, params));
  Page<Order> page;
  for (size_t i = 0; i < ids.size() && static_cast<int>(i) < limit; ++i) {
    RG_ASSIGN_OR_RETURN(Order o, LoadOrder(tx, actor.merchant_id, ids[i].Int(0), false));
    page.items.push_back(std::move(o));
  }
  if (static_cast<int>(ids.size()) > limit) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

}  // namespace regulars::loyalty
