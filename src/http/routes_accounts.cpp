// Log-in, sessions, branches, staff and API keys.

#include <fmt/format.h>

#include "base/crypto.h"
#include "commerce/branch_service.h"
#include "http/render.h"
#include "http/router.h"

namespace regulars::http {
namespace {

using accounts::Role;

Result<std::optional<Id>> CursorId(const Request& r) {
  auto c = r.Cursor();
  if (!c || c->empty()) return std::optional<Id>{};
  auto id = ParseId(*c);
  if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
  return id;
}

Result<std::optional<Role>> RoleField(const Fields& f) {
  RG_ASSIGN_OR_RETURN(auto name, f.String("role"));
  if (!name) return std::optional<Role>{};
  auto role = accounts::ParseRole(*name);
  if (!role) return InvalidField("role", "must be owner, manager or cashier");
  return role;
}

json SessionJson(const accounts::Staff& staff, const accounts::Merchant& merchant,
                 const std::string& csrf) {
  return {{"staff", ToJson(staff)}, {"merchant", ToJson(merchant)}, {"csrf_token", csrf}};
}

Result<commerce::BranchPatch> BranchFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"name", "code", "address", "phone", "active"}));
  commerce::BranchPatch p;
  RG_ASSIGN_OR_RETURN(p.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(p.code, f.NullableString("code"));
  RG_ASSIGN_OR_RETURN(p.address, f.NullableString("address"));
  RG_ASSIGN_OR_RETURN(p.phone, f.NullableString("phone"));
  RG_ASSIGN_OR_RETURN(p.active, f.Bool("active"));
  return p;
}

}  // namespace

void RegisterAccountRoutes(Router& router) {
  router.Raw(
      "POST", "/api/v1/auth/login", "Log in to the console; sets the session cookie", false,
      [](Request& r, AppContext& app) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"email", "password", "merchant_id"}));
        accounts::LoginRequest req;
        RG_ASSIGN_OR_RETURN(auto email, f.String("email"));
        RG_ASSIGN_OR_RETURN(auto password, f.String("password"));
        if (!email || email->empty()) return InvalidField("email", "is required");
        if (!password || password->empty()) return InvalidField("password", "is required");
        req.email = *email;
        req.password = *password;
        RG_ASSIGN_OR_RETURN(req.merchant_id, f.IdValue("merchant_id"));
        req.client_ip = r.client_ip;
        req.ttl = app.options.session_ttl;
        RG_ASSIGN_OR_RETURN(auto s, accounts::Login(app.db, app.clock, app.throttle, req));
        Reply reply;
        reply.body = SessionJson(s.staff, s.merchant, s.csrf_token);
        reply.headers.emplace_back(
            "Set-Cookie", fmt::format("regulars_session={}; Path=/; HttpOnly; SameSite=Strict; "
                                      "Max-Age={}{}",
                                      s.token, app.options.session_ttl / kMicrosPerSecond,
                                      app.options.secure_cookies ? "; Secure" : ""));
        return reply;
      });

  router.Raw("POST", "/api/v1/auth/logout", "Log out: ends the session", true,
             [](Request& r, AppContext& app) -> Result<Reply> {
               std::string cookie = r.http.get_header_value("Cookie");
               size_t at = cookie.find("regulars_session=");
               if (at != std::string::npos) {
                 std::string token = cookie.substr(at + 17, cookie.find(';', at) - at - 17);
                 RG_TRY(app.db.Write([&](store::Tx& tx) { return accounts::Logout(tx, token); }));
               }
               Reply reply;
               reply.status = 204;
               reply.headers.emplace_back(
                   "Set-Cookie", "regulars_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
               return reply;
             });

  router.Read("GET", "/api/v1/auth/me", "The logged-in staff member, merchant and CSRF token",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                if (!r.session)
                  return Fail(Code::kFailedPrecondition, "an API key has no console session");
                return Reply{200, SessionJson(r.session->staff, r.merchant, r.session->csrf_token)};
              });

  router.Read("GET", "/api/v1/merchant", "The merchant behind the credential",
              [](Request& r, store::Tx&) -> Result<Reply> {
                return Reply{200, ToJson(r.merchant)};
              });

  // Branches.
  router.Read("GET", "/api/v1/branches", "List branches",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto after, CursorId(r));
                RG_ASSIGN_OR_RETURN(auto page, commerce::ListBranches(tx, r.actor, after, limit));
                json data = json::array();
                for (const auto& b : page.items) data.push_back(ToJson(b));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write("POST", "/api/v1/branches", "Create a branch (owner)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto p, BranchFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto b, commerce::CreateBranch(tx, r.actor, p));
                 return Reply{201, ToJson(b)};
               });
  router.Read("GET", "/api/v1/branches/{id}", "One branch",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "branch"));
                RG_ASSIGN_OR_RETURN(auto b, commerce::GetBranch(tx, r.actor, id));
                return Reply{200, ToJson(b)};
              });
  router.Write("PATCH", "/api/v1/branches/{id}", "Change a branch (owner)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "branch"));
                 RG_ASSIGN_OR_RETURN(auto p, BranchFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto b, commerce::UpdateBranch(tx, r.actor, id, p));
                 return Reply{200, ToJson(b)};
               });

  // Staff. Passwords are hashed before the transaction (Argon2id is slow on purpose).
  router.Read("GET", "/api/v1/staff", "List staff (owner)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto after, CursorId(r));
                RG_ASSIGN_OR_RETURN(auto page, accounts::ListStaff(tx, r.actor, after, limit));
                json data = json::array();
                for (const auto& s : page.items) data.push_back(ToJson(s));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write(
      "POST", "/api/v1/staff", "Add a staff member (owner)",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(
            Fields f, Fields::Of(r.body, {"name", "email", "role", "password", "branch_ids"}));
        accounts::NewStaff s;
        RG_ASSIGN_OR_RETURN(auto name, f.String("name"));
        RG_ASSIGN_OR_RETURN(auto email, f.String("email"));
        RG_ASSIGN_OR_RETURN(auto role, RoleField(f));
        RG_ASSIGN_OR_RETURN(auto branches, f.IdList("branch_ids"));
        if (!role) return InvalidField("role", "is required");
        s.name = name.value_or("");
        s.email = email.value_or("");
        s.role = *role;
        s.branch_ids = branches.value_or(std::vector<Id>{});
        s.password_hash = r.prepared["password_hash"];
        RG_ASSIGN_OR_RETURN(auto staff, accounts::CreateStaff(tx, r.actor, s));
        return Reply{201, ToJson(staff)};
      },
      [](Request& r) -> Status {
        if (!r.actor.IsOwner())
          return Fail(Code::kPermissionDenied, "only the owner may manage staff");
        auto it = r.body.find("password");
        if (it == r.body.end()) return InvalidField("password", "is required");
        if (!it->is_string()) return InvalidField("password", "must be a string");
        RG_TRY(accounts::ValidatePassword(it->get<std::string>()));
        RG_ASSIGN_OR_RETURN(r.prepared["password_hash"], HashPassword(it->get<std::string>()));
        return {};
      });
  router.Read("GET", "/api/v1/staff/{id}", "One staff member",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "staff member"));
                RG_ASSIGN_OR_RETURN(auto s, accounts::GetStaff(tx, r.actor, id));
                return Reply{200, ToJson(s)};
              });
  router.Write(
      "PATCH", "/api/v1/staff/{id}", "Change a staff member (owner)",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "staff member"));
        RG_ASSIGN_OR_RETURN(
            Fields f, Fields::Of(r.body, {"name", "role", "active", "password", "branch_ids"}));
        accounts::StaffPatch p;
        RG_ASSIGN_OR_RETURN(p.name, f.String("name"));
        RG_ASSIGN_OR_RETURN(p.role, RoleField(f));
        RG_ASSIGN_OR_RETURN(p.active, f.Bool("active"));
        RG_ASSIGN_OR_RETURN(p.branch_ids, f.IdList("branch_ids"));
        if (r.prepared.contains("password_hash")) p.password_hash = r.prepared["password_hash"];
        RG_ASSIGN_OR_RETURN(auto s, accounts::UpdateStaff(tx, r.actor, id, p));
        return Reply{200, ToJson(s)};
      },
      [](Request& r) -> Status {
        if (!r.actor.IsOwner())
          return Fail(Code::kPermissionDenied, "only the owner may manage staff");
        auto it = r.body.find("password");
        if (it == r.body.end()) return {};
        if (!it->is_string()) return InvalidField("password", "must be a string");
        RG_TRY(accounts::ValidatePassword(it->get<std::string>()));
        RG_ASSIGN_OR_RETURN(r.prepared["password_hash"], HashPassword(it->get<std::string>()));
        return {};
      });

  // API keys.
  router.Read("GET", "/api/v1/api-keys", "List API keys (owner)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto keys, accounts::ListApiKeys(tx, r.actor));
                json data = json::array();
                for (const auto& k : keys) data.push_back(ToJson(k));
                return Reply{200, PageJson(data, std::nullopt)};
              });
  router.Write("POST", "/api/v1/api-keys", "Create an API key; the secret is shown once (owner)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"name", "role"}));
                 RG_ASSIGN_OR_RETURN(auto name, f.String("name"));
                 RG_ASSIGN_OR_RETURN(auto role, RoleField(f));
                 if (!r.actor.IsOwner())
                   return Fail(Code::kPermissionDenied, "only the owner may create API keys");
                 RG_ASSIGN_OR_RETURN(auto k,
                                     accounts::CreateApiKey(tx, r.actor.now, r.actor.merchant_id,
                                                            name.value_or("API key"),
                                                            role.value_or(Role::kManager)));
                 json body = ToJson(k.key);
                 Reply reply{201, body};
                 // The secret is shown once: a replay gets the key without it.
                 reply.replay_body = body;
                 (*reply.replay_body)["secret"] = nullptr;
                 reply.body["secret"] = k.secret;
                 return reply;
               });
  router.Write("DELETE", "/api/v1/api-keys/{id}", "Revoke an API key (owner)",
               [&router](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "API key"));
                 RG_TRY(accounts::RevokeApiKey(tx, r.actor, id));
                 router.ForgetApiKeys();
                 return Reply{204, json()};
               });
}

}  // namespace regulars::http
