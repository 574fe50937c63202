#include "messaging/fakes/fake_server.h"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <stdexcept>

namespace regulars::messaging::fakes {

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return {};
}

int PostCallback(const std::string& url, const std::string& content_type, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return -1;
  size_t slash = url.find('/', kScheme.size());
  std::string origin = slash == std::string::npos ? url : url.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : url.substr(slash);
  httplib::Client client(origin);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto res = client.Post(target.c_str(), h, body, content_type.c_str());
  return res ? res->status : -1;
}

FakeServer::FakeServer() : server_(std::make_unique<httplib::Server>()) {
  // Providers keep connections open for many requests; httplib's default closes after 5.
  server_->set_keep_alive_max_count(100000);
  // Without it every answer on a kept-alive connection waits ~40 ms (Nagle + delayed ACK:
  // httplib writes the headers and the body separately).
  server_->set_tcp_nodelay(true);
}

FakeServer::~FakeServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void FakeServer::Start() {
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake provider: cannot bind to 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Until the loop runs, stop() would be a no-op and the destructor's join would hang.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

std::string FakeServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeServer::Script(ScriptedAnswer a) {
  std::lock_guard lock(mu_);
  script_.push_back(std::move(a));
}

std::vector<RecordedRequest> FakeServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t FakeServer::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::optional<ScriptedAnswer> FakeServer::RecordAndTakeScript(const httplib::Request& req) {
  RecordedRequest r;
  r.method = req.method;
  r.path = req.path;
  r.target = req.target;
  for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
  r.body = req.body;
  r.remote_port = req.remote_port;
  std::lock_guard lock(mu_);
  requests_.push_back(std::move(r));
  if (script_.empty()) return std::nullopt;
  ScriptedAnswer a = std::move(script_.front());
  script_.pop_front();
  return a;
}

void FakeServer::Answer(httplib::Response& res, const ScriptedAnswer& a) {
  if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
  res.status = a.status;
  for (const auto& [k, v] : a.headers) res.set_header(k, v);
  res.set_content(a.body, a.content_type.c_str());
}

}  // namespace regulars::messaging::fakes
