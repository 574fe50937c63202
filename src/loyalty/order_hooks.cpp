#include "loyalty/order_hooks.h"

#include "loyalty/config_cache.h"
#include "loyalty/coupon_service.h"
#include "loyalty/referral_service.h"
#include "loyalty/stamp_service.h"
#include "loyalty/tier_service.h"

namespace regulars::loyalty {

Status AfterOrderCreated(store::Tx& tx, const accounts::Actor& actor, OrderResult& result,
                         const OrderInput& input) {
  if (!result.order.member_id) return {};
  RG_TRY(StampOrder(tx, actor, result, input.items));
  if (result.config) {
    RG_TRY(RequalifyMember(tx, actor, *result.order.member_id, result.config->tiers,
                           result.config->tier_program));
  } else {
    RG_TRY(RequalifyMember(tx, actor, *result.order.member_id));
  }
  if (result.member_created) {
    if (result.config)
      RG_TRY(OnMemberJoined(tx, actor, *result.order.member_id, result.config->welcome_templates));
    else
      RG_TRY(OnMemberJoined(tx, actor, *result.order.member_id));
  }
  RG_TRY(OnOrderForCoupons(tx, actor, result));
  RG_TRY(OnOrderForReferrals(tx, actor, result));
  return {};
}

Status AfterOrderRefunded(store::Tx& tx, const accounts::Actor& actor, OrderResult& result) {
  if (!result.order.member_id) return {};
  RG_TRY(OnOrderRefundedForCoupons(tx, actor, result.order));
  RG_TRY(OnOrderRefundedForReferrals(tx, actor, result.order));
  return {};
}

}  // namespace regulars::loyalty
