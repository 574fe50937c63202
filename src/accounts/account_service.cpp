#include "accounts/account_service.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/crypto.h"
#include "base/text.h"

namespace regulars::accounts {
namespace {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;

Status RequireOwner(const Actor& a) {
  if (!a.IsOwner()) return Fail(Code::kPermissionDenied, "only the owner may manage staff");
  return {};
}

Merchant MerchantFromRow(const Row& r) {
  Merchant m;
  m.id = r.Int(0);
  m.name = r.Str(1);
  m.region = r.Str(2);
  m.currency = r.Str(3);
  m.timezone = r.Str(4);
  m.language = r.Str(5);
  m.created_at = r.Int(6);
  return m;
}

constexpr std::string_view kMerchantCols =
    "merchant_id, name, region, currency, timezone, language, created_at";
constexpr std::string_view kStaffCols =
    "merchant_id, id, name, email, role, active, created_at, updated_at";

Staff StaffFromRow(const Row& r) {
  Staff s;
  s.merchant_id = r.Int(0);
  s.id = r.Int(1);
  s.name = r.Str(2);
  s.email = r.Str(3);
  s.role = ParseRole(r.Str(4)).value_or(Role::kCashier);
  s.active = r.Bool(5);
  s.created_at = r.Int(6);
  s.updated_at = r.Int(7);
  return s;
}

Status LoadBranches(Tx& tx, Staff& s) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT branch_id FROM staff_branches WHERE "
                                          "merchant_id = ? AND staff_id = ? ORDER BY branch_id",
                                          {s.merchant_id, s.id}));
  s.branch_ids.clear();
  for (const auto& r : rows) s.branch_ids.push_back(r.Int(0));
  return {};
}

Status SetBranches(Tx& tx, Id merchant_id, Id staff_id, const std::vector<Id>& branch_ids) {
  RG_TRY(tx.Exec("DELETE FROM staff_branches WHERE merchant_id = ? AND staff_id = ?",
                 {merchant_id, staff_id}));
  std::vector<Id> ids = branch_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    RG_ASSIGN_OR_RETURN(Rows b, tx.Query("SELECT 1 FROM branches WHERE merchant_id = ? AND id = ?",
                                         {merchant_id, ids[i]}));
    if (b.empty())
      return Fail(Code::kInvalidArgument,
                  fmt::format("branch_ids: branch {} not found", IdToString(ids[i])), "branch_ids");
    RG_TRY(tx.Exec("INSERT INTO staff_branches (merchant_id, staff_id, branch_id) VALUES (?, ?, ?)",
                   {merchant_id, staff_id, ids[i]}));
  }
  return {};
}

Result<Staff> LoadStaff(Tx& tx, Id merchant_id, Id staff_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM staff WHERE merchant_id = ? "
                                                      "AND id = ?",
                                                      kStaffCols),
                                          {merchant_id, staff_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "staff member not found");
  Staff s = StaffFromRow(rows[0]);
  RG_TRY(LoadBranches(tx, s));
  return s;
}

Result<std::string> ValidateName(std::string_view name, std::string_view field = "name") {
  std::string n(name);
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.pop_back();
  n.erase(0, n.find_first_not_of(" \t"));
  if (n.empty()) return InvalidField(std::string(field), "is required");
  if (!IsValidUtf8(n)) return InvalidField(std::string(field), "is not valid UTF-8");
  if (n.size() > 200) return InvalidField(std::string(field), "is longer than 200 bytes");
  return n;
}

// Token formats carry the merchant id so every lookup filters by it:
// session "<merchant>.<random>", API key "rk_<merchant>_<random>".
std::optional<std::pair<Id, std::string>> SplitToken(std::string_view token, char sep,
                                                     std::string_view prefix) {
  if (!token.starts_with(prefix)) return std::nullopt;
  token.remove_prefix(prefix.size());
  size_t dot = token.find(sep);
  if (dot == std::string_view::npos) return std::nullopt;
  auto id = ParseId(token.substr(0, dot));
  if (!id || token.size() - dot < 20) return std::nullopt;
  return std::pair{*id, Sha256Hex(token)};
}

}  // namespace

// Merchants -----------------------------------------------------------------------------------

Result<Merchant> CreateMerchant(Tx& tx, Micros now, Merchant m) {
  RG_ASSIGN_OR_RETURN(m.name, ValidateName(m.name));
  RG_TRY(ValidateMerchant(m));
  m.id = NewId();
  m.created_at = now;
  // config_version starts at a fresh non-zero value so that the loyalty configuration cache
  // (loyalty/config_cache.h: version 0 is never cached) serves a new merchant from its first order.
  RG_TRY(
      tx.Exec("INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
              "created_at, updated_at, config_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              {m.id, m.name, m.region, m.currency, m.timezone, m.language, now, now, NewId()}));
  return m;
}

Result<Merchant> GetMerchant(Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM merchants WHERE merchant_id = ?", kMerchantCols),
               {merchant_id}));
  if (rows.empty()) return Fail(Code::kNotFound, "merchant not found");
  return MerchantFromRow(rows[0]);
}

Result<std::vector<Merchant>> ListMerchants(Tx& tx) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM merchants ORDER BY merchant_id", kMerchantCols)));
  std::vector<Merchant> out;
  for (const auto& r : rows) out.push_back(MerchantFromRow(r));
  return out;
}

// Staff ---------------------------------------------------------------------------------------

Result<Staff> CreateStaff(Tx& tx, const Actor& actor, NewStaff in) {
  RG_TRY(RequireOwner(actor));
  Staff s;
  s.merchant_id = actor.merchant_id;
  RG_ASSIGN_OR_RETURN(s.name, ValidateName(in.name));
  RG_ASSIGN_OR_RETURN(s.email, NormalizeEmail(in.email));
  if (in.password_hash.empty()) return InvalidField("password", "is required");
  s.role = in.role;
  s.id = NewId();
  s.created_at = s.updated_at = actor.now;
  auto inserted = tx.Exec(
      "INSERT INTO staff (merchant_id, id, name, email, role, password_hash, active, created_at, "
      "updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
      {s.merchant_id, s.id, s.name, s.email, std::string(RoleName(s.role)), in.password_hash,
       s.created_at, s.updated_at});
  if (!inserted && inserted.error().code == Code::kAlreadyExists)
    return Fail(Code::kAlreadyExists, "email: a staff member with this e-mail already exists",
                "email");
  RG_TRY(inserted);
  RG_TRY(SetBranches(tx, s.merchant_id, s.id, in.branch_ids));
  RG_TRY(LoadBranches(tx, s));
  return s;
}

Result<Staff> UpdateStaff(Tx& tx, const Actor& actor, Id staff_id, StaffPatch p) {
  RG_TRY(RequireOwner(actor));
  RG_ASSIGN_OR_RETURN(Staff s, LoadStaff(tx, actor.merchant_id, staff_id));
  bool was_active_owner = s.active && s.role == Role::kOwner;
  if (p.name) {
    RG_ASSIGN_OR_RETURN(s.name, ValidateName(*p.name));
  }
  if (p.role) s.role = *p.role;
  if (p.active) s.active = *p.active;
  if (was_active_owner && !(s.active && s.role == Role::kOwner)) {
    RG_ASSIGN_OR_RETURN(Rows owners,
                        tx.Query("SELECT COUNT(*) FROM staff WHERE merchant_id = ? AND role = "
                                 "'owner' AND active = 1 AND id <> ?",
                                 {actor.merchant_id, staff_id}));
    if (owners[0].Int(0) == 0)
      return Fail(Code::kFailedPrecondition, "the merchant must keep at least one active owner",
                  p.role ? "role" : "active");
  }
  s.updated_at = actor.now;
  RG_TRY(
      tx.Exec("UPDATE staff SET name = ?, role = ?, active = ?, updated_at = ? WHERE "
              "merchant_id = ? AND id = ?",
              {s.name, std::string(RoleName(s.role)), int64_t{s.active ? 1 : 0}, s.updated_at,
               actor.merchant_id, staff_id}));
  if (p.password_hash)
    RG_TRY(tx.Exec("UPDATE staff SET password_hash = ? WHERE merchant_id = ? AND id = ?",
                   {*p.password_hash, actor.merchant_id, staff_id}));
  if (p.branch_ids) RG_TRY(SetBranches(tx, actor.merchant_id, staff_id, *p.branch_ids));
  if (!s.active || p.password_hash)  // end their sessions
    RG_TRY(tx.Exec("DELETE FROM sessions WHERE merchant_id = ? AND staff_id = ?",
                   {actor.merchant_id, staff_id}));
  RG_TRY(LoadBranches(tx, s));
  return s;
}

Result<Staff> GetStaff(Tx& tx, const Actor& actor, Id staff_id) {
  if (!actor.IsOwner() && actor.staff_id != staff_id)
    return Fail(Code::kPermissionDenied, "only the owner may see other staff members");
  return LoadStaff(tx, actor.merchant_id, staff_id);
}

Result<Page<Staff>> ListStaff(Tx& tx, const Actor& actor, std::optional<Id> after, int limit) {
  RG_TRY(RequireOwner(actor));
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM staff WHERE merchant_id = ? "
                                           "AND id > ? ORDER BY id LIMIT ?",
                                           kStaffCols),
                               {actor.merchant_id, after.value_or(0), int64_t{limit + 1}}));
  Page<Staff> page;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i) {
    Staff s = StaffFromRow(rows[i]);
    RG_TRY(LoadBranches(tx, s));
    page.items.push_back(std::move(s));
  }
  if (static_cast<int>(rows.size()) > limit) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

// Sessions ------------------------------------------------------------------------------------

Result<Session> Login(store::Database& db, const Clock& clock, LoginThrottle& throttle,
                      const LoginRequest& req) {
  auto wrong = [] { return Fail(Code::kUnauthenticated, "email or password is wrong"); };
  auto email = NormalizeEmail(req.email);
  if (!email) return wrong();
  RG_TRY(throttle.Check(*email, req.client_ip));
  struct Candidate {
    Id merchant_id, staff_id;
    std::string hash;
  };
  auto found = db.ReadValue([&](Tx& tx) -> Result<std::vector<Candidate>> {
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT merchant_id, id, password_hash FROM staff "
                                            "WHERE email = ? AND active = 1",
                                            {*email}));
    std::vector<Candidate> out;
    for (const auto& r : rows)
      if (!req.merchant_id || *req.merchant_id == r.Int(0))
        out.push_back({r.Int(0), r.Int(1), r.Str(2)});
    return out;
  });
  if (!found) return std::unexpected(found.error());
  const std::vector<Candidate>& candidates = *found;
  std::vector<Candidate> matched;
  for (const auto& c : candidates)
    if (VerifyPassword(req.password, c.hash)) matched.push_back(c);
  if (candidates.empty()) {
    // Spend the same time as a real check, so timing does not reveal which e-mails exist.
    static const std::string dummy = HashPassword("regulars-timing-equaliser").value_or("");
    (void)VerifyPassword(req.password, dummy);
  }
  if (matched.empty()) {
    throttle.RecordFailure(*email, req.client_ip);
    return wrong();
  }
  if (matched.size() > 1) {
    Error e = MakeError(Code::kFailedPrecondition,
                        "this e-mail works at several merchants; choose one", "merchant_id");
    for (const auto& m : matched) e.details.emplace_back("merchant_id", IdToString(m.merchant_id));
    return std::unexpected(std::move(e));
  }
  throttle.RecordSuccess(*email);
  const Candidate& who = matched[0];
  Session session;
  session.token = fmt::format("{}.{}", who.merchant_id, RandomToken(32));
  session.csrf_token = RandomToken(24);
  Micros now = clock.Now();
  session.expires_at = now + req.ttl;
  RG_TRY(db.Write([&](Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(session.merchant, GetMerchant(tx, who.merchant_id));
    RG_ASSIGN_OR_RETURN(session.staff, LoadStaff(tx, who.merchant_id, who.staff_id));
    auto split = SplitToken(session.token, '.', "");
    RG_TRY(tx.Exec("DELETE FROM sessions WHERE merchant_id = ? AND expires_at < ?",
                   {who.merchant_id, now}));
    RG_TRY(
        tx.Exec("INSERT INTO sessions (merchant_id, token_hash, staff_id, csrf_token, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                {who.merchant_id, split->second, who.staff_id, session.csrf_token, now,
                 session.expires_at}));
    return {};
  }));
  return session;
}

Result<SessionActor> AuthenticateSession(Tx& tx, Micros now, std::string_view token) {
  auto unauth = [] { return Fail(Code::kUnauthenticated, "not logged in or the session expired"); };
  auto split = SplitToken(token, '.', "");
  if (!split) return unauth();
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT staff_id, csrf_token, expires_at FROM sessions "
                                          "WHERE merchant_id = ? AND token_hash = ?",
                                          {split->first, split->second}));
  if (rows.empty() || rows[0].Int(2) <= now) return unauth();
  auto staff = LoadStaff(tx, split->first, rows[0].Int(0));
  if (!staff || !staff->active) return unauth();
  SessionActor out;
  RG_ASSIGN_OR_RETURN(out.merchant, GetMerchant(tx, split->first));
  out.csrf_token = rows[0].Str(1);
  out.actor.merchant_id = split->first;
  out.actor.staff_id = staff->id;
  out.actor.role = staff->role;
  out.actor.branch_ids = staff->branch_ids;
  out.actor.now = now;
  out.staff = std::move(*staff);
  return out;
}

Status Logout(Tx& tx, std::string_view token) {
  auto split = SplitToken(token, '.', "");
  if (!split) return {};
  RG_TRY(tx.Exec("DELETE FROM sessions WHERE merchant_id = ? AND token_hash = ?",
                 {split->first, split->second}));
  return {};
}

// API keys ------------------------------------------------------------------------------------

Result<NewApiKey> CreateApiKey(Tx& tx, Micros now, Id merchant_id, std::string name, Role role) {
  RG_TRY(GetMerchant(tx, merchant_id));
  if (name.empty()) name = "API key";
  RG_ASSIGN_OR_RETURN(name, ValidateName(name));
  NewApiKey out;
  out.key.merchant_id = merchant_id;
  out.key.id = NewId();
  out.key.name = name;
  out.key.role = role;
  out.key.created_at = now;
  out.secret = fmt::format("rk_{}_{}", merchant_id, RandomToken(32));
  auto split = SplitToken(out.secret, '_', "rk_");
  RG_TRY(
      tx.Exec("INSERT INTO api_keys (merchant_id, id, name, role, key_hash, created_at) "
              "VALUES (?, ?, ?, ?, ?, ?)",
              {merchant_id, out.key.id, name, std::string(RoleName(role)), split->second, now}));
  return out;
}

Result<Actor> AuthenticateApiKey(Tx& tx, Micros now, std::string_view secret) {
  auto split = SplitToken(secret, '_', "rk_");
  if (!split) return Fail(Code::kUnauthenticated, "API key is malformed");
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT id, role, revoked_at FROM api_keys WHERE "
                                          "merchant_id = ? AND key_hash = ?",
                                          {split->first, split->second}));
  if (rows.empty()) return Fail(Code::kUnauthenticated, "API key is not valid");
  if (!rows[0].IsNull(2)) return Fail(Code::kUnauthenticated, "API key was revoked");
  Actor a;
  a.merchant_id = split->first;
  a.api_key_id = rows[0].Int(0);
  a.role = ParseRole(rows[0].Str(1)).value_or(Role::kCashier);
  a.now = now;
  return a;
}

Status RevokeApiKey(Tx& tx, const Actor& actor, Id key_id) {
  RG_TRY(RequireOwner(actor));
  RG_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE api_keys SET revoked_at = ? WHERE merchant_id = "
                                         "? AND id = ? AND revoked_at IS NULL",
                                         {actor.now, actor.merchant_id, key_id}));
  if (n == 0) return Fail(Code::kNotFound, "API key not found");
  return {};
}

Result<std::vector<ApiKey>> ListApiKeys(Tx& tx, const Actor& actor) {
  RG_TRY(RequireOwner(actor));
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT merchant_id, id, name, role, created_at, "
                                          "revoked_at FROM api_keys WHERE merchant_id = ? "
                                          "ORDER BY id",
                                          {actor.merchant_id}));
  std::vector<ApiKey> out;
  for (const auto& r : rows) {
    ApiKey k;
    k.merchant_id = r.Int(0);
    k.id = r.Int(1);
    k.name = r.Str(2);
    k.role = ParseRole(r.Str(3)).value_or(Role::kCashier);
    k.created_at = r.Int(4);
    k.revoked_at = r.OptInt(5);
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace regulars::accounts
