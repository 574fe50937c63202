#include "loyalty/order_hooks.h"

namespace regulars::loyalty {

Status AfterOrderCreated(store::Tx& tx, const accounts::Actor& actor, OrderResult& result) {
  return {};
}

Status AfterOrderRefunded(store::Tx& tx, const accounts::Actor& actor, OrderResult& result) {
  return {};
}

}  // namespace regulars::loyalty
