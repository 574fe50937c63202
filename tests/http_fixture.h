#pragma once

// A real server on a free loopback port, on a fresh database of each backend, with two
// merchants (A and B), each with an owner, a cashier and API keys. Requests go through
// cpp-httplib's client, so everything from parsing to the socket is exercised.

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <thread>

#include "base/time.h"
#include "http/server.h"
#include "store/testing.h"

namespace regulars::testing {

using nlohmann::json;

struct Response {
  int status = 0;
  json body;
  std::string raw;
  httplib::Headers headers;
};

struct Tenant {
  std::string merchant_id;
  std::string owner_key;    // API key with the owner role
  std::string cashier_key;  // API key with the cashier role
  std::string branch_id;
  std::string owner_email;
};

class HttpTest : public store::BackendTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Requests with an API key (empty key: no credentials).
  Response Call(const std::string& method, const std::string& path, const std::string& key,
                const std::string& body = "", httplib::Headers headers = {});
  Response Get(const std::string& path, const std::string& key) { return Call("GET", path, key); }
  Response Post(const std::string& path, const std::string& key, const json& body,
                const std::string& idempotency_key = "");
  Response Patch(const std::string& path, const std::string& key, const json& body) {
    return Call("PATCH", path, key, body.dump());
  }
  // Rows in a table (to prove that a refused request changed nothing).
  int64_t Count(const std::string& table);

  std::unique_ptr<http::Server> server_;
  std::thread serve_thread_;
  std::unique_ptr<httplib::Client> client_;
  Tenant a_, b_;
  int port_ = 0;
};

}  // namespace regulars::testing
