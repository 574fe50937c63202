// Keeps src/http/openapi/openapi.json honest: the document the real server serves must describe
// exactly the routes the server registers, and be internally consistent.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "store/testing.h"

namespace regulars::http {
namespace {

using nlohmann::json;

constexpr const char* kDocFile = "src/http/openapi/openapi.json";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Name(const std::string& method, const std::string& pattern) {
  return Upper(method) + " " + pattern;
}

// The path parameter names of a pattern: "/a/{id}/b/{x}" -> {"id", "x"}.
std::set<std::string> PathParamNames(const std::string& pattern) {
  std::set<std::string> out;
  for (size_t i = pattern.find('{'); i != std::string::npos; i = pattern.find('{', i + 1))
    out.insert(pattern.substr(i + 1, pattern.find('}', i) - i - 1));
  return out;
}

// A concrete path for a pattern: every {param} becomes "1".
std::string Concrete(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      out += "1";
      i = pattern.find('}', i);
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// A key as one JSON pointer segment (RFC 6901).
std::string EscapePointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

const std::set<std::string> kHttpMethods = {"get",  "put",     "post",  "delete",
                                            "head", "options", "patch", "trace"};

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenTestDatabase("sqlite");
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    db_ = std::move(*db);
    ServerOptions options;
    options.port = 0;
    options.threads = 4;
    server_ = std::make_unique<Server>(*db_, clock_, nullptr, options);
    auto port = server_->Bind();
    ASSERT_TRUE(port.has_value()) << port.error().ToString();
    port_ = *port;
    serving_ = std::thread([this] { server_->Serve(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_->IsRunning() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(server_->IsRunning()) << "the server did not start";

    routes_ = server_->Routes();
    ASSERT_FALSE(routes_.empty());

    httplib::Client client("127.0.0.1", port_);
    auto res = client.Get("/api/v1/openapi.json");
    ASSERT_TRUE(res) << "GET /api/v1/openapi.json failed: " << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    doc_ = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(doc_.is_discarded()) << kDocFile << " is not valid JSON";
    ASSERT_TRUE(doc_.is_object());
    ASSERT_TRUE(doc_.contains("paths") && doc_["paths"].is_object())
        << kDocFile << " has no paths object";
  }

  void TearDown() override {
    if (server_) {
      // Stop() only takes effect once the server listens; wait for that (it may have failed
      // before SetUp saw it running).
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (serving_.joinable() && !server_->IsRunning() &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      server_->Stop();
    }
    if (serving_.joinable()) serving_.join();
    server_.reset();
  }

  // The operation documented for a route, or null.
  const json* Operation(const std::string& method, const std::string& pattern) const {
    const json& paths = doc_["paths"];
    auto p = paths.find(pattern);
    if (p == paths.end() || !p->is_object()) return nullptr;
    auto o = p->find(Lower(method));
    if (o == p->end() || !o->is_object()) return nullptr;
    return &*o;
  }

  // Follows "$ref" (local references only) to the object it names; null when it does not
  // resolve.
  const json* Resolve(const json& node) const {
    const json* at = &node;
    for (int hops = 0; hops < 16; ++hops) {
      if (!at->is_object() || !at->contains("$ref")) return at;
      const json& ref = (*at)["$ref"];
      if (!ref.is_string()) return nullptr;
      std::string s = ref.get<std::string>();
      if (!s.starts_with("#/")) return nullptr;
      try {
        json::json_pointer ptr(s.substr(1));
        if (!doc_.contains(ptr)) return nullptr;
        at = &doc_.at(ptr);
      } catch (const json::exception&) {
        return nullptr;
      }
    }
    return nullptr;
  }

  // The parameters of an operation, path-level ones included, with references resolved.
  std::vector<const json*> Parameters(const std::string& pattern, const json& op) const {
    std::vector<const json*> out;
    for (const json* list : {&doc_["paths"][pattern], &op}) {
      auto it = list->find("parameters");
      if (it == list->end() || !it->is_array()) continue;
      for (const json& p : *it)
        if (const json* r = Resolve(p)) out.push_back(r);
    }
    return out;
  }

  // Sends a request with no credentials.
  httplib::Result Anonymous(httplib::Client& client, const std::string& method,
                            const std::string& path) {
    if (method == "GET") return client.Get(path);
    if (method == "POST") return client.Post(path, "{}", "application/json");
    if (method == "PATCH") return client.Patch(path, "{}", "application/json");
    if (method == "PUT") return client.Put(path, "{}", "application/json");
    return client.Delete(path);
  }

  ManualClock clock_{1'790'000'000'000'000};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Server> server_;
  std::thread serving_;
  int port_ = 0;
  std::vector<RouteInfo> routes_;
  json doc_;
};

TEST_F(OpenApiTest, IsOpenApi31) {
  EXPECT_EQ(doc_.value("openapi", ""), "3.1.0");
  ASSERT_TRUE(doc_.contains("info"));
  EXPECT_FALSE(doc_["info"].value("title", "").empty());
  EXPECT_FALSE(doc_["info"].value("version", "").empty());
}

// (a) Every registered route is documented, with a summary and at least one response.
TEST_F(OpenApiTest, EveryRouteIsDocumented) {
  for (const RouteInfo& route : routes_) {
    std::string name = Name(route.method, route.pattern);
    const json* op = Operation(route.method, route.pattern);
    if (!op) {
      ADD_FAILURE() << name << " is registered but not documented in " << kDocFile
                    << " (add paths[\"" << route.pattern << "\"][\"" << Lower(route.method)
                    << "\"])";
      continue;
    }
    EXPECT_TRUE(op->contains("summary") && (*op)["summary"].is_string() &&
                !(*op)["summary"].get<std::string>().empty())
        << name << " has no summary in " << kDocFile;
    EXPECT_TRUE(op->contains("responses") && (*op)["responses"].is_object() &&
                !(*op)["responses"].empty())
        << name << " documents no responses in " << kDocFile;
  }
}

// (b) Everything documented is registered: no stale or misspelt paths.
TEST_F(OpenApiTest, NothingStaleIsDocumented) {
  std::set<std::string> registered;
  for (const RouteInfo& route : routes_) registered.insert(Name(route.method, route.pattern));
  std::set<std::string> operation_ids;
  for (const auto& [pattern, item] : doc_["paths"].items()) {
    ASSERT_TRUE(item.is_object()) << "paths[\"" << pattern << "\"] is not an object";
    bool any = false;
    for (const auto& [key, op] : item.items()) {
      if (!kHttpMethods.contains(key)) continue;
      any = true;
      std::string name = Name(key, pattern);
      EXPECT_TRUE(registered.contains(name))
          << name << " is documented in " << kDocFile << " but the server has no such route";
      if (op.contains("operationId")) {
        std::string id = op["operationId"].get<std::string>();
        EXPECT_TRUE(operation_ids.insert(id).second)
            << name << ": operationId " << id << " is used twice";
      }
    }
    EXPECT_TRUE(any) << "paths[\"" << pattern << "\"] documents no operation";
  }
}

// (c) Every POST documents the Idempotency-Key header.
TEST_F(OpenApiTest, EveryPostDocumentsIdempotencyKey) {
  int posts = 0;
  for (const RouteInfo& route : routes_) {
    if (route.method != "POST") continue;
    const json* op = Operation(route.method, route.pattern);
    if (!op) continue;  // reported by EveryRouteIsDocumented
    ++posts;
    bool found = false;
    for (const json* p : Parameters(route.pattern, *op))
      found |= p->value("name", "") == "Idempotency-Key" && p->value("in", "") == "header";
    EXPECT_TRUE(found) << Name(route.method, route.pattern)
                       << " does not document the Idempotency-Key header parameter in " << kDocFile;
  }
  EXPECT_GT(posts, 0);
}

// (d) A route that refuses anonymous callers declares security (with schemes that exist) and
// documents the 401; a route that lets them in declares none. The server itself says which is
// which: each route is called once without credentials.
TEST_F(OpenApiTest, SecurityMatchesTheServer) {
  const json& schemes = doc_["components"]["securitySchemes"];
  ASSERT_TRUE(schemes.is_object()) << kDocFile << " has no components.securitySchemes";
  httplib::Client client("127.0.0.1", port_);
  int open = 0, closed = 0;
  for (const RouteInfo& route : routes_) {
    std::string name = Name(route.method, route.pattern);
    const json* op = Operation(route.method, route.pattern);
    if (!op) continue;  // reported by EveryRouteIsDocumented
    auto res = Anonymous(client, route.method, Concrete(route.pattern));
    ASSERT_TRUE(res) << name << ": request failed: " << httplib::to_string(res.error());
    bool needs_credentials = res->status == 401;
    const json& security = op->contains("security")    ? (*op)["security"]
                           : doc_.contains("security") ? doc_["security"]
                                                       : json();
    if (needs_credentials) {
      ++closed;
      EXPECT_TRUE(security.is_array() && !security.empty())
          << name << " needs credentials but declares no security in " << kDocFile;
      for (const json& requirement : security) {
        EXPECT_TRUE(requirement.is_object() && !requirement.empty())
            << name << ": an empty security requirement would make it public";
        if (!requirement.is_object()) continue;
        for (const auto& [scheme, scopes] : requirement.items())
          EXPECT_TRUE(schemes.contains(scheme))
              << name << ": security scheme " << scheme << " is not defined";
      }
      EXPECT_TRUE((*op)["responses"].contains("401"))
          << name << " needs credentials but does not document the 401 answer";
    } else {
      ++open;
      EXPECT_TRUE(security.is_array() && security.empty())
          << name << " answers without credentials (status " << res->status
          << ") but declares security in " << kDocFile << "; declare \"security\": []";
    }
  }
  EXPECT_GT(open, 0);
  EXPECT_GT(closed, 0);
}

// (e) Every "$ref" resolves to something in the document.
TEST_F(OpenApiTest, EveryRefResolves) {
  int refs = 0;
  std::function<void(const json&, const std::string&)> walk = [&](const json& node,
                                                                  const std::string& where) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        ++refs;
        const json& ref = node["$ref"];
        EXPECT_TRUE(Resolve(node) != nullptr)
            << where << ": $ref " << ref.dump() << " does not resolve in " << kDocFile;
      }
      for (const auto& [key, value] : node.items()) walk(value, where + "/" + EscapePointer(key));
    } else if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) walk(node[i], where + "/" + std::to_string(i));
    }
  };
  walk(doc_, "#");
  EXPECT_GT(refs, 0);
}

// Path parameters: each {name} in a path is declared (in: path, required), and nothing else is.
TEST_F(OpenApiTest, PathParametersAreDeclared) {
  for (const RouteInfo& route : routes_) {
    const json* op = Operation(route.method, route.pattern);
    if (!op) continue;
    std::string name = Name(route.method, route.pattern);
    std::set<std::string> declared;
    for (const json* p : Parameters(route.pattern, *op)) {
      if (p->value("in", "") != "path") continue;
      declared.insert(p->value("name", ""));
      EXPECT_TRUE(p->value("required", false))
          << name << ": path parameter " << p->value("name", "") << " must be required";
    }
    EXPECT_EQ(declared, PathParamNames(route.pattern))
        << name << ": declared path parameters differ from the path";
  }
}

}  // namespace
}  // namespace regulars::http
