#pragma once

// Internal to http/: the JSON of an order and of the answer to recording or refunding one.
//
// The answer of POST /api/v1/orders (and of a refund) is built on the SQLite writer thread,
// inside the order's transaction, because the idempotency record stores it there; so it has a
// hand-written serialiser, OrderReplyText, whose bytes are exactly OrderReplyValue(...).dump()
// (nlohmann's serialisation of the same value: keys in sorted order, no spaces). order_json_test
// holds the two equal.

#include <map>
#include <string>

#include "base/ids.h"
#include "http/json_fields.h"
#include "loyalty/order_service.h"

namespace regulars::http {

// An order as every order endpoint shows it.
json OrderJson(const loyalty::Order& o, const std::string& currency);
// What an order earned: {"lines":[...],"totals":{code: points}}; a point type without a code in
// `codes` is named by its id.
json EarnJson(const loyalty::EarnResult& e, const std::map<Id, std::string>& codes);
// The points moved per point type: [{"point_type","points","balance_after"}, ...].
json EffectsJson(const std::vector<loyalty::PointsMoved>& effects);

// The answer to an order or refund: the order with "loyalty": {"earned", "points",
// "member_created"}.
json OrderReplyValue(const loyalty::OrderResult& res, const std::map<Id, std::string>& codes,
                     const std::string& currency);
// Exactly OrderReplyValue(res, codes, currency).dump(), without building the value. Throws what
// dump() throws (nlohmann's type_error 316) for a string that is not valid UTF-8.
std::string OrderReplyText(const loyalty::OrderResult& res, const std::map<Id, std::string>& codes,
                           const std::string& currency);

// Appends `s` as a JSON string literal exactly as nlohmann::json::dump writes it.
void AppendJsonText(std::string& out, std::string_view s);

}  // namespace regulars::http
