#include "http_fixture.h"

#include "accounts/account_service.h"
#include "base/crypto.h"
#include "commerce/branch_service.h"

namespace regulars::testing {

void HttpTest::SetUp() {
  BackendTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  static const std::string hash = HashPassword("owner-password").value();
  int n = 0;
  for (Tenant* t : {&a_, &b_}) {
    ++n;
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = n == 1 ? "Merchant A" : "Merchant B";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
      accounts::Actor sys = accounts::SystemActor(m.id, clock_.Now());
      commerce::BranchPatch bp;
      bp.name = "Main";
      RG_ASSIGN_OR_RETURN(auto b, commerce::CreateBranch(tx, sys, bp));
      t->owner_email = n == 1 ? "owner@a.test" : "owner@b.test";
      RG_TRY(accounts::CreateStaff(tx, sys,
                                   {"Owner", t->owner_email, accounts::Role::kOwner, hash, {}}));
      RG_TRY(accounts::CreateStaff(tx, sys,
                                   {"Cashier",
                                    n == 1 ? "cashier@a.test" : "cashier@b.test",
                                    accounts::Role::kCashier,
                                    hash,
                                    {b.id}}));
      RG_ASSIGN_OR_RETURN(
          auto ok, accounts::CreateApiKey(tx, clock_.Now(), m.id, "owner", accounts::Role::kOwner));
      RG_ASSIGN_OR_RETURN(auto ck, accounts::CreateApiKey(tx, clock_.Now(), m.id, "cashier",
                                                          accounts::Role::kCashier));
      t->merchant_id = IdToString(m.id);
      t->owner_key = ok.secret;
      t->cashier_key = ck.secret;
      t->branch_id = IdToString(b.id);
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  http::ServerOptions options;
  options.port = 0;
  options.threads = 8;
  server_ = std::make_unique<http::Server>(db(), clock_, nullptr, options);
  auto port = server_->Bind();
  ASSERT_TRUE(port.has_value()) << port.error().ToString();
  port_ = *port;
  serve_thread_ = std::thread([this] { server_->Serve(); });
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  client_->set_read_timeout(30, 0);
}

void HttpTest::TearDown() {
  if (server_) server_->Stop();
  if (serve_thread_.joinable()) serve_thread_.join();
  client_.reset();
  server_.reset();
}

Response HttpTest::Call(const std::string& method, const std::string& path, const std::string& key,
                        const std::string& body, httplib::Headers headers) {
  if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
  httplib::Result res(nullptr, httplib::Error::Unknown);
  if (method == "GET")
    res = client_->Get(path, headers);
  else if (method == "POST")
    res = client_->Post(path, headers, body, "application/json");
  else if (method == "PATCH")
    res = client_->Patch(path, headers, body, "application/json");
  else if (method == "DELETE")
    res = client_->Delete(path, headers, body, "application/json");
  Response out;
  if (!res) {
    ADD_FAILURE() << method << " " << path << ": no response (" << httplib::to_string(res.error())
                  << ")";
    return out;
  }
  out.status = res->status;
  out.raw = res->body;
  out.headers = res->headers;
  out.body = json::parse(res->body, nullptr, false);
  return out;
}

Response HttpTest::Post(const std::string& path, const std::string& key, const json& body,
                        const std::string& idempotency_key) {
  httplib::Headers h;
  if (!idempotency_key.empty()) h.emplace("Idempotency-Key", idempotency_key);
  return Call("POST", path, key, body.dump(), h);
}

int64_t HttpTest::Count(const std::string& table) {
  auto r = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM " + table));
    return rows[0].Int(0);
  });
  if (!r) ADD_FAILURE() << "count of " << table << ": " << r.error().ToString();
  return r.value_or(-1);
}

}  // namespace regulars::testing
