#include "commerce/branch_service.h"

#include <fmt/format.h>

#include "base/text.h"

namespace regulars::commerce {
namespace {

using store::Row;
using store::Rows;

constexpr std::string_view kCols =
    "merchant_id, id, name, code, address, phone, active, created_at, updated_at";

Branch FromRow(const Row& r) {
  Branch b;
  b.merchant_id = r.Int(0);
  b.id = r.Int(1);
  b.name = r.Str(2);
  b.code = r.OptStr(3);
  b.address = r.OptStr(4);
  b.phone = r.OptStr(5);
  b.active = r.Bool(6);
  b.created_at = r.Int(7);
  b.updated_at = r.Int(8);
  return b;
}

Status CheckText(const std::optional<std::string>& v, const char* field, size_t max,
                 bool required) {
  if (!v || v->empty()) {
    if (required) return InvalidField(field, "is required");
    return {};
  }
  if (!IsValidUtf8(*v)) return InvalidField(field, "is not valid UTF-8");
  if (v->size() > max) return InvalidField(field, fmt::format("is longer than {} bytes", max));
  return {};
}

Status Apply(Branch& b, const BranchPatch& p) {
  if (p.name) {
    RG_TRY(CheckText(*p.name, "name", 200, true));
    b.name = *p.name;
  }
  if (p.code) {
    RG_TRY(CheckText(*p.code, "code", 32, false));
    b.code = (*p.code && !(*p.code)->empty()) ? *p.code : std::nullopt;
  }
  if (p.address) {
    RG_TRY(CheckText(*p.address, "address", 500, false));
    b.address = *p.address;
  }
  if (p.phone) {
    RG_TRY(CheckText(*p.phone, "phone", 40, false));
    b.phone = *p.phone;
  }
  if (p.active) b.active = *p.active;
  return {};
}

Status Save(store::Tx& tx, const Branch& b, bool insert) {
  std::vector<store::Value> v = {b.name,
                                 store::Opt(b.code),
                                 store::Opt(b.address),
                                 store::Opt(b.phone),
                                 int64_t{b.active ? 1 : 0},
                                 b.updated_at,
                                 b.merchant_id,
                                 b.id};
  Result<int64_t> r;
  if (insert) {
    v.push_back(b.created_at);
    r = tx.Exec(
        "INSERT INTO branches (name, code, address, phone, active, updated_at, "
        "merchant_id, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        v);
  } else {
    r = tx.Exec(
        "UPDATE branches SET name = ?, code = ?, address = ?, phone = ?, active = ?, "
        "updated_at = ? WHERE merchant_id = ? AND id = ?",
        v);
  }
  if (!r && r.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, "code: another branch already uses this code", "code");
  RG_TRY(r);
  return {};
}

Status RequireOwner(const accounts::Actor& a) {
  if (!a.IsOwner()) return Fail(Code::kPermissionDenied, "only the owner may manage branches");
  return {};
}

}  // namespace

Result<Branch> CreateBranch(store::Tx& tx, const accounts::Actor& actor, BranchPatch in) {
  RG_TRY(RequireOwner(actor));
  Branch b;
  b.merchant_id = actor.merchant_id;
  b.id = NewId();
  b.created_at = b.updated_at = actor.now;
  if (!in.name) return InvalidField("name", "is required");
  RG_TRY(Apply(b, in));
  RG_TRY(Save(tx, b, true));
  return b;
}

Result<Branch> UpdateBranch(store::Tx& tx, const accounts::Actor& actor, Id branch_id,
                            BranchPatch patch) {
  RG_TRY(RequireOwner(actor));
  RG_ASSIGN_OR_RETURN(Branch b, GetBranch(tx, actor, branch_id));
  RG_TRY(Apply(b, patch));
  b.updated_at = actor.now;
  RG_TRY(Save(tx, b, false));
  return b;
}

Result<Branch> GetBranch(store::Tx& tx, const accounts::Actor& actor, Id branch_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM branches WHERE merchant_id "
                                                      "= ? AND id = ?",
                                                      kCols),
                                          {actor.merchant_id, branch_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "branch not found");
  return FromRow(rows[0]);
}

Result<Page<Branch>> ListBranches(store::Tx& tx, const accounts::Actor& actor,
                                  std::optional<Id> after, int limit) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM branches WHERE merchant_id "
                                           "= ? AND id > ? ORDER BY id LIMIT ?",
                                           kCols),
                               {actor.merchant_id, after.value_or(0), int64_t{limit + 1}}));
  Page<Branch> page;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i)
    page.items.push_back(FromRow(rows[i]));
  if (static_cast<int>(rows.size()) > limit) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

}  // namespace regulars::commerce
