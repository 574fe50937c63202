#include "http/server.h"

#include <spdlog/spdlog.h>

#include "http/router.h"

namespace regulars::http {

void ServeConsole(const httplib::Request& req, httplib::Response& res);

struct Server::Impl {
  Impl(store::Database& db, const Clock& clock, events::Dispatcher* dispatcher,
       ServerOptions options)
      : throttle(clock),
        app{db, clock, dispatcher, throttle, options, metrics},
        router(server, app) {}

  accounts::LoginThrottle throttle;
  Metrics metrics;
  AppContext app;
  httplib::Server server;
  Router router;
};

Server::Server(store::Database& db, const Clock& clock, events::Dispatcher* dispatcher,
               ServerOptions options)
    : impl_(std::make_unique<Impl>(db, clock, dispatcher, options)) {
  auto& s = impl_->server;
  int threads = options.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_keep_alive_max_count(10000);
  // Responses go out in more than one write; without this the second waits for the client's
  // delayed ACK (~40 ms per request on a kept-alive connection).
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(options.max_body_bytes + 1);
  s.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "same-origin"},
                         {"X-Frame-Options", "DENY"}});
  Router& r = impl_->router;
  RegisterSystemRoutes(r, [this] { return Routes(); });
  RegisterAccountRoutes(r);
  RegisterMemberRoutes(r);
  RegisterLoyaltyRoutes(r);
  RegisterWalletRoutes(r);
  RegisterCouponRoutes(r);
  s.Get(".*", [](const httplib::Request& req, httplib::Response& res) { ServeConsole(req, res); });
  auto not_found = [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"error":{"code":"not_found","message":"no such API route","details":{}}})",
                    "application/json");
  };
  s.Post(".*", not_found);
  s.Patch(".*", not_found);
  s.Delete(".*", not_found);
  s.Put(".*", not_found);
}

Server::~Server() { Stop(); }

Result<int> Server::Bind() {
  auto& s = impl_->server;
  const auto& o = impl_->app.options;
  int port =
      o.port == 0 ? s.bind_to_any_port(o.host) : (s.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0)
    return Fail(Code::kUnavailable, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                        " (in use, or not an address of this machine)");
  return port;
}

void Server::Serve() { impl_->server.listen_after_bind(); }

void Server::Stop() {
  if (impl_ && impl_->server.is_running()) impl_->server.stop();
}

bool Server::IsRunning() const { return impl_->server.is_running(); }

std::vector<RouteInfo> Server::Routes() const { return impl_->router.routes(); }

}  // namespace regulars::http
