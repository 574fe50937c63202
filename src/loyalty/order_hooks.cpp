#include "loyalty/order_hooks.h"

#include "loyalty/tier_service.h"

namespace regulars::loyalty {

Status AfterOrderCreated(store::Tx& tx, const accounts::Actor& actor, OrderResult& result) {
  if (result.order.member_id) RG_TRY(RequalifyMember(tx, actor, *result.order.member_id));
  return {};
}

Status AfterOrderRefunded(store::Tx& tx, const accounts::Actor& actor, OrderResult& result) {
  return {};
}

}  // namespace regulars::loyalty
