// Routes for the wallet part of the loyalty module; filled in as it is written.

#include "http/router.h"

namespace regulars::http {

void RegisterWalletRoutes(Router&) {}

}  // namespace regulars::http
