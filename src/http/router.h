#pragma once

// Internal to http/: the route table and the request wrapper every route goes through.

#include <httplib.h>

#include <any>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounts/account_service.h"
#include "http/json_fields.h"
#include "http/metrics.h"
#include "http/server.h"

namespace regulars::insight {
class FeatureStore;
}

namespace regulars::http {

struct Reply {
  int status = 200;
  json body;
  // When set, sent instead of `body` (CSV, HTML, Prometheus text).
  std::optional<std::string> raw;
  // When set: `body` already serialised (a hot path's own writer, byte for byte what
  // body.dump() would give), sent as application/json and stored for idempotent replays
  // instead of body.dump(); `body` is then ignored.
  std::optional<std::string> body_text;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // What an idempotent replay returns instead of `body`, when `body` holds a secret that must
  // not be stored (a new API key).
  std::optional<json> replay_body;
  // Write routes: run once the change has committed, before the answer goes out (never on an
  // idempotent replay). For caches outside the database, e.g. the sender's settings.
  std::function<void()> after_commit;
};

struct AppContext {
  store::Database& db;
  const Clock& clock;
  events::Dispatcher* dispatcher;
  accounts::LoginThrottle& throttle;
  ServerOptions options;
  Metrics& metrics;
  // The insight feature store (owned by the server; null in contexts without one).
  insight::FeatureStore* features = nullptr;
};

struct Request {
  const httplib::Request& http;
  std::vector<std::string> param_names;
  accounts::Actor actor;
  accounts::Merchant merchant;
  std::optional<accounts::SessionActor> session;
  json body = json::object();
  std::string client_ip;
  // Values a route's prepare step computed outside the transaction (e.g. a password hash).
  std::map<std::string, std::string> prepared;
  // A typed value a route's prepare step computed for its handler (the orders route: the parsed
  // order). The handler may run more than once (db.h): it reads it, never moves it out.
  std::any prepared_value;

  std::string PathParam(std::string_view name) const;
  // A path id; anything unparsable is not_found (ids are opaque, a bad one names nothing).
  Result<Id> IdParam(std::string_view name, std::string_view what) const;
  std::optional<std::string> Query(std::string_view name) const;
  // ?limit= within 1..500, default 50.
  Result<int> Limit() const;
  std::optional<std::string> Cursor() const { return Query("cursor"); }
};

using TxHandler = std::function<Result<Reply>(Request&, store::Tx&)>;
using RawHandler = std::function<Result<Reply>(Request&, AppContext&)>;
// Runs before the transaction, for slow work that must not hold the writer (password hashing).
using Prepare = std::function<Status(Request&)>;

class Router {
 public:
  Router(httplib::Server& server, AppContext& app) : server_(server), app_(app) {}

  // An authenticated route run inside a read-only snapshot.
  void Read(const std::string& method, const std::string& pattern, const std::string& summary,
            TxHandler handler);
  // An authenticated route run inside one write transaction. POSTs honour Idempotency-Key.
  void Write(const std::string& method, const std::string& pattern, const std::string& summary,
             TxHandler handler, Prepare prepare = nullptr);
  // A route that manages its own transactions (log-in) or none (health, metrics).
  void Raw(const std::string& method, const std::string& pattern, const std::string& summary,
           bool authenticated, RawHandler handler);

  // Marks a route registered with the same method and pattern as taking a raw body (a file)
  // of up to `max_bytes` instead of JSON: the body is not parsed (handlers read r.http.body),
  // and an Idempotency-Key replay is recognised by a hash of it; the body is never stored.
  void RawBody(const std::string& method, const std::string& pattern, size_t max_bytes);
  // The largest body a request may send, by its method and path (checked before the body is
  // read), and the largest any route takes.
  size_t BodyLimit(const std::string& method, const std::string& path) const;
  bool TakesRawBody(const std::string& method, const std::string& path) const;
  // Marks a route registered with the same method and pattern as taking a provider's form
  // (application/x-www-form-urlencoded, e.g. Twilio's callbacks) or any body it checks itself:
  // the body is not parsed as JSON; handlers read r.http.body.
  void FormBody(const std::string& method, const std::string& pattern);
  size_t LargestBodyLimit() const;

  const std::vector<RouteInfo>& routes() const { return routes_; }
  AppContext& app() { return app_; }

  // Forgets every cached API key (after a revocation in this process).
  void ForgetApiKeys();

 private:
  enum class Kind { kRead, kWrite, kRaw };
  void Add(Kind kind, const std::string& method, const std::string& pattern,
           const std::string& summary, bool authenticated, TxHandler tx_handler,
           RawHandler raw_handler, Prepare prepare = nullptr);
  void Handle(Kind kind, const std::string& pattern, const std::vector<std::string>& names,
              bool authenticated, const TxHandler& tx_handler, const RawHandler& raw_handler,
              const Prepare& prepare, const httplib::Request& req, httplib::Response& res);
  Status Authenticate(Request& r);

  httplib::Server& server_;
  AppContext& app_;
  std::vector<RouteInfo> routes_;

  struct RawBodyRoute {
    std::string method;
    std::string pattern;
    std::regex path;
    size_t max_bytes = 0;
  };
  const RawBodyRoute* FindRawBody(const std::string& method, const std::string& pattern) const;
  std::vector<RawBodyRoute> raw_bodies_;
  std::vector<std::pair<std::string, std::string>> form_bodies_;  // (method, pattern)

  // API keys seen recently, by the hash of the key: saves a read transaction per request. An
  // entry lives kApiKeyCacheTtl; a revocation here clears the cache at once, one made by another
  // server process takes effect within the TTL.
  static constexpr Micros kApiKeyCacheTtl = 2 * kMicrosPerSecond;
  struct CachedKey {
    accounts::Actor actor;
    accounts::Merchant merchant;
    Micros expires = 0;
  };
  std::mutex key_mu_;
  std::unordered_map<std::string, CachedKey> key_cache_;
};

// Writes a reply or an error envelope onto the response.
void Send(httplib::Response& res, const Result<Reply>& reply);

// Route groups, one file each.
void RegisterSystemRoutes(Router& r);
void RegisterAccountRoutes(Router& r);
void RegisterMemberRoutes(Router& r);
void RegisterLoyaltyRoutes(Router& r);
void RegisterWalletRoutes(Router& r);
void RegisterCouponRoutes(Router& r);
void RegisterImportRoutes(Router& r);
void RegisterMessagingRoutes(Router& r);
void RegisterInsightRoutes(Router& r);
// Saved segments, previews and the segment builder's catalogue (routes_segments.cpp).
void RegisterSegmentRoutes(Router& r);
// Insight reports (routes_insight_reports.cpp): /api/v1/reports/{name} for the names the loyalty
// reports do not take; not_found listing every report name for an unknown one.
Result<Reply> InsightReportReply(Request& r, store::Tx& tx, const std::string& name);

// Helpers shared by route files.
json PageJson(json data, const std::optional<std::string>& next_cursor);

}  // namespace regulars::http
