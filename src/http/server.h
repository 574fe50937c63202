#pragma once

// The HTTP server: API routes, the console's static assets, /healthz, /metrics and the OpenAPI
// document. Handlers are thin: parse, call one service function inside the transaction the
// router opens, render. Authentication, CSRF, idempotency, the error envelope and metrics are
// done once, here, for every route.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "accounts/login_throttle.h"
#include "base/error.h"
#include "base/time.h"
#include "store/db.h"

namespace regulars::events {
class Dispatcher;
}
namespace regulars::insight {
class FeatureStore;
}

namespace regulars::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  // Worker threads: each keep-alive connection holds one while open.
  int threads = 64;
  // Console session lifetime.
  Micros session_ttl = 12 * 3600 * kMicrosPerSecond;
  // Mark the session cookie Secure (set when served behind HTTPS).
  bool secure_cookies = false;
  // Largest request body accepted, in bytes.
  size_t max_body_bytes = 1 << 20;
  // Where uploaded import files wait for the import worker (`<data>/imports`). Empty: a folder
  // under the system's temporary folder (importer::DefaultUploadDir).
  std::string imports_dir;
  // Where the messaging secrets key lives (`<data>/secret.key`, messaging/secrets.h) unless
  // REGULARS_SECRET_KEY is set. Empty: a folder under the system's temporary folder.
  std::string data_dir;
  // The public origin for links in messages and provider-signed callback URLs
  // ("https://shop.example.com", no trailing '/'); empty: the request's Host.
  std::string public_url;
  // Called after a route's change to what the outbox sender caches (messaging settings, channels)
  // has committed: `serve` wires it to messaging::Sender::InvalidateCaches, so the next send
  // obeys the change at once. Empty: nothing to tell. Must be thread-safe and quick.
  std::function<void()> on_messaging_changed;
};

struct RouteInfo {
  std::string method;   // "GET", "POST", "PATCH", "DELETE"
  std::string pattern;  // "/api/v1/members/{id}"
  std::string summary;
};

class Server {
 public:
  // Everything passed in must outlive the server. `dispatcher` may be null.
  Server(store::Database& db, const Clock& clock, events::Dispatcher* dispatcher,
         ServerOptions options);
  ~Server();

  // Binds the listening socket; returns the port (useful with port 0).
  Result<int> Bind();
  // Serves until Stop(); blocks.
  void Serve();
  void Stop();
  bool IsRunning() const;

  // Every registered API route (for the OpenAPI test and docs).
  std::vector<RouteInfo> Routes() const;
  // The insight feature store this server owns (built in Bind(); for the nightly model fits).
  insight::FeatureStore& Features();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace regulars::http
