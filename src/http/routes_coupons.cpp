// Routes for coupons and referrals; filled in as they are written.

#include "http/router.h"

namespace regulars::http {

void RegisterCouponRoutes(Router&) {}

}  // namespace regulars::http
