#pragma once

// Orders and refunds with their loyalty effects. An order is scored by the earning-rule versions
// in force when it happened; a refund takes back exactly what the refunded part earned.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "accounts/account.h"
#include "base/page.h"
#include "loyalty/earning.h"
#include "loyalty/ledger_repo.h"
#include "store/db.h"

namespace regulars::loyalty {

struct MerchantConfig;  // loyalty/config_cache.h

struct OrderItemInput {
  std::string sku;
  std::string name;
  std::optional<std::string> category;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
};

struct OrderInput {
  std::string external_id;
  std::optional<Id> member_id;
  std::optional<std::string> phone;
  std::optional<Id> branch_id;
  std::optional<Micros> occurred_at;
  std::optional<std::string> currency;
  int64_t total_minor = -1;
  std::vector<OrderItemInput> items;
  std::string source = "api";
  // Optional, set before the transaction (see PrenormalizeOrderPhone): `phone` already in E.164
  // as read for `phone_region`. Used only while the merchant's region is still `phone_region`;
  // otherwise `phone` is read again inside the transaction. Never part of the request.
  std::optional<std::string> phone_e164;
  std::string phone_region;
};

struct OrderItem {
  int line = 0;
  OrderItemInput item;
  int64_t refunded_quantity = 0;
};

struct Order {
  Id id = 0;
  std::string external_id;
  std::optional<Id> member_id;
  std::optional<Id> branch_id;
  std::optional<Id> staff_id;
  Micros occurred_at = 0;
  std::string currency;
  int64_t total_minor = 0;
  int64_t refunded_minor = 0;
  std::vector<OrderItem> items;
  Micros created_at = 0;
};

struct PointsMoved {
  Id point_type_id = 0;
  std::string point_type;  // code
  int64_t points = 0;      // positive earned, negative reversed
  int64_t balance_after = 0;
};

struct OrderResult {
  Order order;
  EarnResult earned;                 // the rule lines (empty for refunds)
  std::vector<PointsMoved> effects;  // per point type
  bool member_created = false;
  // The merchant's point type codes by id as the transaction saw them, when it read them (the
  // reply names point types without reading them again).
  std::optional<std::map<Id, std::string>> point_type_codes;
  // The merchant's configuration the order was made with (CreateOrder sets it); the order hooks
  // use it instead of reading stamp cards, tiers, templates and the referral program again.
  // Unset (a hook called by itself): they read them.
  std::shared_ptr<const MerchantConfig> config;
};

// Checks an order's shape; errors name the field ("items[1].quantity").
Status ValidateOrderInput(const OrderInput& in);

// Reads `in.phone` for `region` with libphonenumber and, when it is a valid number, sets
// `in.phone_e164` and `in.phone_region`. Meant for the HTTP thread, before the transaction, so
// the (slow) parse does not run on the SQLite writer. An invalid phone is left as it is: the
// transaction reports it in its usual order of checks.
// The answers are kept in the process by region and phone as typed (bounded), so a phone seen
// before is not read again.
void PrenormalizeOrderPhone(OrderInput& in, const std::string& region);
// How many PrenormalizeOrderPhone calls with a phone found it kept (hits) or read it (misses),
// since the process started.
std::pair<int64_t, int64_t> OrderPhoneCacheCounts();

Result<OrderResult> CreateOrder(store::Tx& tx, const accounts::Actor& actor, const OrderInput& in);
// What the order would earn now, with nothing written.
Result<EarnResult> CalculateOrder(store::Tx& tx, const accounts::Actor& actor,
                                  const OrderInput& in);

struct RefundLine {
  int line = 0;
  int64_t quantity = 0;
};
struct RefundInput {
  std::optional<std::vector<RefundLine>> items;
  std::optional<int64_t> amount_minor;  // neither: the whole rest of the order
  std::string reason;
};
Result<OrderResult> RefundOrder(store::Tx& tx, const accounts::Actor& actor, Id order_id,
                                const RefundInput& in);

Result<Order> GetOrder(store::Tx& tx, const accounts::Actor& actor, Id order_id);
Result<Page<Order>> ListOrders(store::Tx& tx, const accounts::Actor& actor,
                               std::optional<Id> member_id, std::optional<std::string> cursor,
                               int limit);

}  // namespace regulars::loyalty
