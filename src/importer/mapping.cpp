// Column mappings: the built-in presets and TOML mapping files.

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "importer/order_import.h"

namespace regulars::importer {
namespace {

Mapping Generic() {
  Mapping m;
  m.order_id = "order_id";
  m.occurred_at = "occurred_at";
  m.sku = "sku";
  m.name = "name";
  m.category = "category";
  m.quantity = "quantity";
  m.unit_price = "unit_price";
  m.line_total = "line_total";
  m.customer_id = "customer_id";
  m.phone = "phone";
  m.email = "email";
  m.customer_name = "customer_name";
  m.country = "country";
  m.city = "city";
  m.branch = "branch";
  m.currency = "currency";
  return m;
}

// Shopify's "Export orders" CSV: one line per line item; the order-level columns (Email,
// Created at, Currency, Billing ..., Cancelled at) are filled on an order's first line only.
Mapping Shopify() {
  Mapping m;
  m.order_id = "Name";  // the order number as the shop shows it: "#1001"
  m.occurred_at = "Created at";
  m.sku = "Lineitem sku";
  m.name = "Lineitem name";
  m.quantity = "Lineitem quantity";
  m.unit_price = "Lineitem price";
  m.phone = "Billing Phone";
  m.email = "Email";
  m.customer_name = "Billing Name";
  m.country = "Billing Country";
  m.city = "Billing City";
  m.currency = "Currency";
  m.cancelled = "Cancelled at";
  return m;
}

// UCI Online Retail (Chen, Sain and Guo 2012): one line per invoice line; cancellations are
// invoices numbered "C...".
Mapping OnlineRetail() {
  Mapping m;
  m.order_id = "InvoiceNo";
  m.sku = "StockCode";
  m.name = "Description";
  m.quantity = "Quantity";
  m.occurred_at = "InvoiceDate";
  m.unit_price = "UnitPrice";
  m.customer_id = "CustomerID";
  m.country = "Country";
  m.cancel_prefix = "C";
  return m;
}

}  // namespace

std::vector<std::string> PresetNames() { return {"generic", "shopify", "online-retail"}; }

std::optional<Mapping> PresetMapping(std::string_view name) {
  std::optional<Mapping> m;
  if (name == "generic") m = Generic();
  if (name == "shopify") m = Shopify();
  if (name == "online-retail") m = OnlineRetail();
  if (m) m->required = {"order_id", "occurred_at"};
  return m;
}

Result<Mapping> ParseMappingToml(std::string_view text) {
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Fail(Code::kInvalidArgument,
                fmt::format("mapping: line {}: {}", e.source().begin.line, e.description()),
                "mapping");
  }
  Mapping m;
  if (auto preset = t["preset"]) {
    auto name = preset.value<std::string>();
    if (!name) return InvalidField("preset", "must be a string");
    auto p = PresetMapping(*name);
    if (!p)
      return InvalidField("preset", fmt::format("unknown preset \"{}\" (known: generic, shopify, "
                                                "online-retail)",
                                                *name));
    m = *p;
  }
  for (const auto& [key, node] : t) {
    std::string k(key.str());
    if (k == "preset") continue;
    const MappingField* it = FindMappingField(k);
    if (!it) return InvalidField(k, "is not a mapping field");
    auto v = node.value<std::string>();
    if (!v) return InvalidField(k, "must be a string (a column name)");
    m.*(it->member) = *v;
    if (k != "cancel_prefix" && k != "timezone" && !v->empty() &&
        std::find(m.required.begin(), m.required.end(), k) == m.required.end())
      m.required.push_back(k);
  }
  if (m.order_id.empty()) return InvalidField("order_id", "is required");
  if (m.occurred_at.empty()) return InvalidField("occurred_at", "is required");
  for (std::string k : {"order_id", "occurred_at"})
    if (std::find(m.required.begin(), m.required.end(), k) == m.required.end())
      m.required.push_back(k);
  if (m.unit_price.empty() && m.line_total.empty())
    return InvalidField("unit_price", "give unit_price or line_total");
  return m;
}

std::optional<std::string> GuessPreset(const std::vector<std::string>& header) {
  std::set<std::string> have(header.begin(), header.end());
  // A BOM may still sit on the first name when the caller read raw bytes.
  if (!header.empty() && header[0].starts_with("\xEF\xBB\xBF")) have.insert(header[0].substr(3));
  // Most specific first: the generic preset's names are the most common words.
  for (std::string name : {"online-retail", "shopify", "generic"}) {
    Mapping m = *PresetMapping(name);
    bool ok = have.contains(m.order_id) && have.contains(m.occurred_at) &&
              (have.contains(m.unit_price) || have.contains(m.line_total)) &&
              (m.quantity.empty() || have.contains(m.quantity));
    if (ok) return name;
  }
  return std::nullopt;
}

std::span<const MappingField> MappingFields() {
  static constexpr MappingField kFields[] = {
      {"order_id", &Mapping::order_id, true},
      {"occurred_at", &Mapping::occurred_at, true},
      {"sku", &Mapping::sku, true},
      {"name", &Mapping::name, true},
      {"category", &Mapping::category, true},
      {"quantity", &Mapping::quantity, true},
      {"unit_price", &Mapping::unit_price, true},
      {"line_total", &Mapping::line_total, true},
      {"customer_id", &Mapping::customer_id, true},
      {"phone", &Mapping::phone, true},
      {"email", &Mapping::email, true},
      {"customer_name", &Mapping::customer_name, true},
      {"country", &Mapping::country, true},
      {"city", &Mapping::city, true},
      {"branch", &Mapping::branch, true},
      {"currency", &Mapping::currency, true},
      {"cancelled", &Mapping::cancelled, true},
      {"cancel_prefix", &Mapping::cancel_prefix, false},
      {"timezone", &Mapping::timezone, false},
  };
  return kFields;
}

const MappingField* FindMappingField(std::string_view name) {
  for (const auto& f : MappingFields())
    if (f.name == name) return &f;
  return nullptr;
}

std::span<const ReportCounter> ReportCounters() {
  static constexpr ReportCounter kCounters[] = {
      {"lines", &ImportReport::lines},
      {"lines_imported", &ImportReport::lines_imported},
      {"lines_rejected", &ImportReport::lines_rejected},
      {"orders_created", &ImportReport::orders_created},
      {"orders_existing", &ImportReport::orders_existing},
      {"anonymous_orders", &ImportReport::anonymous_orders},
      {"refunds", &ImportReport::refunds},
      {"standalone_returns", &ImportReport::standalone_returns},
      {"returns_existing", &ImportReport::returns_existing},
      {"members_created", &ImportReport::members_created},
      {"members_matched", &ImportReport::members_matched},
      {"revenue_minor", &ImportReport::revenue_minor},
      {"refunded_minor", &ImportReport::refunded_minor},
      {"points_awarded", &ImportReport::points_awarded},
  };
  return kCounters;
}

}  // namespace regulars::importer
