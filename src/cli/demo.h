#pragma once

// The demo merchant: a bubble-tea chain with branches, staff and a few thousand realistic
// members, so a newcomer sees a living console on first start.

#include <string>

#include "base/error.h"
#include "base/time.h"
#include "store/db.h"

namespace regulars::cli {

struct DemoLogins {
  std::string owner_email = "owner@demo.regulars.test";
  std::string owner_password = "demo-owner-pass";
  std::string cashier_email = "cashier@demo.regulars.test";
  std::string cashier_password = "demo-cashier-pass";
};

// Creates the demo merchant when the database holds no merchant; returns false when it left an
// existing database alone. Deterministic for a given `seed`.
Result<bool> SeedDemo(store::Database& db, const Clock& clock, int members = 3000,
                      uint32_t seed = 2026);

}  // namespace regulars::cli
