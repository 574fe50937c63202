// Routes for the loyalty part of the loyalty module; filled in as it is written.

#include "http/router.h"

namespace regulars::http {

void RegisterLoyaltyRoutes(Router&) {}

}  // namespace regulars::http
