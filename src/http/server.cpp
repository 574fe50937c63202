#include "http/server.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "http/router.h"
#include "insight/feature_store.h"
#include "insight/segment_service.h"

namespace regulars::http {

void ServeConsole(const httplib::Request& req, httplib::Response& res);

struct Server::Impl {
  Impl(store::Database& db, const Clock& clock, events::Dispatcher* dispatcher,
       ServerOptions options)
      : throttle(clock),
        features(db, clock),
        segments(db, features, clock),
        app{db, clock, dispatcher, throttle, options, metrics, &features},
        router(server, app) {}

  accounts::LoginThrottle throttle;
  Metrics metrics;
  // Built in Bind() before listening; its tailer runs until Stop().
  insight::FeatureStore features;
  // Keeps segment_members and the entered / exited events current (after `features`).
  insight::SegmentMembership segments;
  AppContext app;
  httplib::Server server;
  Router router;
};

namespace {

// Debian's compiled cpp-httplib listens with a backlog of 5: a burst of new connections (a shop
// opening, a load balancer's pool) sees dropped SYNs and one-second stalls. Find our listening
// socket and listen again with a deep backlog (Linux updates the backlog of a listening socket).
void DeepenBacklog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int p = addr.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
            : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                         : -1;
    if (p == port) ::listen(fd, 1024);
  }
}

}  // namespace

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
  RegisterSystemRoutes(r);
  RegisterAccountRoutes(r);
  RegisterMemberRoutes(r);
  RegisterLoyaltyRoutes(r);
  RegisterWalletRoutes(r);
  RegisterCouponRoutes(r);
  RegisterImportRoutes(r);
  RegisterMessagingRoutes(r);
  RegisterInsightRoutes(r);
  RegisterSegmentRoutes(r);
  // Bodies are read whole before a route runs: refuse one over its route's limit by its
  // Content-Length before reading it, and let cpp-httplib read at most the largest limit.
  s.set_payload_max_length(r.LargestBodyLimit() + 1);
  s.set_pre_routing_handler([&r](const httplib::Request& req, httplib::Response& res) {
    // cpp-httplib would parse a form body into query parameters (and refuse one over 8 KiB):
    // a file sent as a form is refused here, naming the header.
    if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded") &&
        r.TakesRawBody(req.method, req.path)) {
      res.set_header("Connection", "close");
      Send(res, Fail(Code::kInvalidArgument,
                     "Content-Type: send the file as text/csv, application/gzip or "
                     "application/octet-stream, not as a form",
                     "Content-Type"));
      return httplib::Server::HandlerResponse::Handled;
    }
    std::string length = req.get_header_value("Content-Length");
    size_t n = 0;
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (length.empty() || ec != std::errc()) return httplib::Server::HandlerResponse::Unhandled;
    size_t limit = r.BodyLimit(req.method, req.path);
    if (n <= limit) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Connection", "close");
    Send(res, Fail(Code::kInvalidArgument,
                   "body: larger than the " + std::to_string(limit >> 20) + " MiB limit", "body"));
    return httplib::Server::HandlerResponse::Handled;
  });
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
  DeepenBacklog(port);
  // The insight features, complete before the first request; a merchant that fails to load is
  // built again by the tailer's next round.
  if (auto built = impl_->features.Build(); !built)
    spdlog::warn("insight: building the feature store: {}", built.error().ToString());
  impl_->features.Start();
  impl_->segments.Start();
  return port;
}

void Server::Serve() { impl_->server.listen_after_bind(); }

void Server::Stop() {
  if (impl_ && impl_->server.is_running()) impl_->server.stop();
  if (impl_) impl_->segments.Stop();
  if (impl_) impl_->features.Stop();
}

bool Server::IsRunning() const { return impl_->server.is_running(); }

std::vector<RouteInfo> Server::Routes() const { return impl_->router.routes(); }

insight::FeatureStore& Server::Features() { return impl_->features; }

}  // namespace regulars::http
