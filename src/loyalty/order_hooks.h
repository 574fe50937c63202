#pragma once

// What else happens when an order is recorded or refunded, inside the same transaction: tier
// qualification, stamp cards, spend-threshold gifts and referral rewards. order_service calls
// these; each part lives in its own file.

#include "accounts/account.h"
#include "loyalty/order_service.h"
#include "store/db.h"

namespace regulars::loyalty {

Status AfterOrderCreated(store::Tx& tx, const accounts::Actor& actor, OrderResult& result,
                         const OrderInput& input);
Status AfterOrderRefunded(store::Tx& tx, const accounts::Actor& actor, OrderResult& result);

}  // namespace regulars::loyalty
