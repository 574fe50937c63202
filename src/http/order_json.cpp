#include "http/order_json.h"

#include <charconv>

#include "base/time.h"

namespace regulars::http {
namespace {

json IdOrNull(const std::optional<Id>& id) { return id ? json(IdToString(*id)) : json(nullptr); }

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// "key": with the comma before it unless it is the object's first.
void Key(std::string& out, std::string_view key, bool first = false) {
  if (!first) out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

void AppendId(std::string& out, Id id) {
  out.push_back('"');
  AppendInt(out, id);
  out.push_back('"');
}

void AppendOptId(std::string& out, const std::optional<Id>& id) {
  if (id)
    AppendId(out, *id);
  else
    out.append("null");
}

// `[{...},{...}]`: one object per element, its fields written by `fields` (the first with
// Key(..., true)).
template <class T, class Fields>
void AppendObjects(std::string& out, const std::vector<T>& xs, Fields&& fields) {
  out.push_back('[');
  for (size_t n = 0; n < xs.size(); ++n) {
    if (n) out.push_back(',');
    out.push_back('{');
    fields(xs[n]);
    out.push_back('}');
  }
  out.push_back(']');
}

// The point type's name in the reply: its code, else its id (as EarnJson).
std::string PointTypeName(const std::map<Id, std::string>& codes, Id id) {
  auto c = codes.find(id);
  return c == codes.end() ? IdToString(id) : c->second;
}

}  // namespace

void AppendJsonText(std::string& out, std::string_view s) {
  bool plain = true;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e || c == '"' ||
        c == '\\') {
      plain = false;
      break;
    }
  if (plain) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
  } else {
    out.append(json(std::string(s)).dump());  // escapes, UTF-8 checks: nlohmann's own
  }
}

json OrderJson(const loyalty::Order& o, const std::string& currency) {
  json items = json::array();
  for (const auto& i : o.items)
    items.push_back({{"line", i.line},
                     {"sku", i.item.sku},
                     {"name", i.item.name},
                     {"category", i.item.category ? json(*i.item.category) : json(nullptr)},
                     {"quantity", i.item.quantity},
                     {"unit_price_minor", i.item.unit_price_minor},
                     {"refunded_quantity", i.refunded_quantity}});
  return {{"id", IdToString(o.id)},
          {"external_id", o.external_id},
          {"member_id", IdOrNull(o.member_id)},
          {"branch_id", IdOrNull(o.branch_id)},
          {"staff_id", IdOrNull(o.staff_id)},
          {"occurred_at", FormatRfc3339(o.occurred_at)},
          {"currency", currency},
          {"total_minor", o.total_minor},
          {"refunded_minor", o.refunded_minor},
          {"items", items},
          {"created_at", FormatRfc3339(o.created_at)}};
}

json EarnJson(const loyalty::EarnResult& e, const std::map<Id, std::string>& codes) {
  json lines = json::array();
  for (const auto& l : e.lines)
    lines.push_back({{"rule_id", IdToString(l.rule_id)},
                     {"rule_name", l.rule_name},
                     {"point_type", PointTypeName(codes, l.point_type_id)},
                     {"points", l.points},
                     {"explanation", l.explanation}});
  json totals = json::object();
  for (const auto& [pt, n] : e.total_by_point_type) totals[PointTypeName(codes, pt)] = n;
  return {{"lines", lines}, {"totals", totals}};
}

json EffectsJson(const std::vector<loyalty::PointsMoved>& effects) {
  json out = json::array();
  for (const auto& e : effects)
    out.push_back(
        {{"point_type", e.point_type}, {"points", e.points}, {"balance_after", e.balance_after}});
  return out;
}

json OrderReplyValue(const loyalty::OrderResult& res, const std::map<Id, std::string>& codes,
                     const std::string& currency) {
  json body = OrderJson(res.order, currency);
  body["loyalty"] = {{"earned", EarnJson(res.earned, codes)},
                     {"points", EffectsJson(res.effects)},
                     {"member_created", res.member_created}};
  return body;
}

// The keys of each object in the sorted order nlohmann's std::map gives them.
std::string OrderReplyText(const loyalty::OrderResult& res, const std::map<Id, std::string>& codes,
                           const std::string& currency) {
  const loyalty::Order& o = res.order;
  std::string out;
  out.reserve(512 + 160 * o.items.size() + 200 * res.earned.lines.size());
  out.push_back('{');
  Key(out, "branch_id", true);
  AppendOptId(out, o.branch_id);
  Key(out, "created_at");
  AppendJsonText(out, FormatRfc3339(o.created_at));
  Key(out, "currency");
  AppendJsonText(out, currency);
  Key(out, "external_id");
  AppendJsonText(out, o.external_id);
  Key(out, "id");
  AppendId(out, o.id);
  Key(out, "items");
  AppendObjects(out, o.items, [&](const auto& i) {
    Key(out, "category", true);
    if (i.item.category)
      AppendJsonText(out, *i.item.category);
    else
      out.append("null");
    Key(out, "line");
    AppendInt(out, i.line);
    Key(out, "name");
    AppendJsonText(out, i.item.name);
    Key(out, "quantity");
    AppendInt(out, i.item.quantity);
    Key(out, "refunded_quantity");
    AppendInt(out, i.refunded_quantity);
    Key(out, "sku");
    AppendJsonText(out, i.item.sku);
    Key(out, "unit_price_minor");
    AppendInt(out, i.item.unit_price_minor);
  });
  Key(out, "loyalty");
  out.push_back('{');
  Key(out, "earned", true);
  out.push_back('{');
  Key(out, "lines", true);
  AppendObjects(out, res.earned.lines, [&](const auto& l) {
    Key(out, "explanation", true);
    AppendJsonText(out, l.explanation);
    Key(out, "point_type");
    AppendJsonText(out, PointTypeName(codes, l.point_type_id));
    Key(out, "points");
    AppendInt(out, l.points);
    Key(out, "rule_id");
    AppendId(out, l.rule_id);
    Key(out, "rule_name");
    AppendJsonText(out, l.rule_name);
  });
  Key(out, "totals");
  // Sorted by name, and a later point type of the same name overwrites, as in a json object.
  std::map<std::string, int64_t> totals;
  for (const auto& [pt, n] : res.earned.total_by_point_type) totals[PointTypeName(codes, pt)] = n;
  out.push_back('{');
  bool first = true;
  for (const auto& [name, n] : totals) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonText(out, name);
    out.push_back(':');
    AppendInt(out, n);
  }
  out.append("}}");
  Key(out, "member_created");
  out.append(res.member_created ? "true" : "false");
  Key(out, "points");
  AppendObjects(out, res.effects, [&](const auto& e) {
    Key(out, "balance_after", true);
    AppendInt(out, e.balance_after);
    Key(out, "point_type");
    AppendJsonText(out, e.point_type);
    Key(out, "points");
    AppendInt(out, e.points);
  });
  out.push_back('}');
  Key(out, "member_id");
  AppendOptId(out, o.member_id);
  Key(out, "occurred_at");
  AppendJsonText(out, FormatRfc3339(o.occurred_at));
  Key(out, "refunded_minor");
  AppendInt(out, o.refunded_minor);
  Key(out, "staff_id");
  AppendOptId(out, o.staff_id);
  Key(out, "total_minor");
  AppendInt(out, o.total_minor);
  out.push_back('}');
  return out;
}

}  // namespace regulars::http
