#pragma once

// Branch use cases. Creating and changing branches is for owners; everyone sees the list.

#include "accounts/account.h"
#include "base/page.h"
#include "commerce/branch.h"
#include "store/db.h"

namespace regulars::commerce {

Result<Branch> CreateBranch(store::Tx& tx, const accounts::Actor& actor, BranchPatch in);
Result<Branch> UpdateBranch(store::Tx& tx, const accounts::Actor& actor, Id branch_id,
                            BranchPatch patch);
Result<Branch> GetBranch(store::Tx& tx, const accounts::Actor& actor, Id branch_id);
Result<Page<Branch>> ListBranches(store::Tx& tx, const accounts::Actor& actor,
                                  std::optional<Id> after, int limit);

}  // namespace regulars::commerce
