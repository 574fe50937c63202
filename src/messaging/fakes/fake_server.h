#pragma once

// The common part of the provider fakes: an in-process HTTP server (cpp-httplib) on 127.0.0.1
// and a port the kernel picks, that records every request it receives and can be told to answer
// the next requests with scripted answers (errors, 429 + Retry-After, accepted-but-answer-lost)
// instead of its provider's normal behaviour. Each fake (fake_twilio.h, fake_line.h,
// fake_http_sms.h, fake_webhook_receiver.h) adds its provider's real request checks and answers.
//
// Thread-safe: handlers run on the server's worker threads, tests read from theirs.

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace regulars::messaging::fakes {

struct RecordedRequest {
  std::string method;
  std::string path;                                          // without the query
  std::string target;                                        // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  int remote_port = -1;  // the client's port: one per connection, so reuse shows
  // The first value of header `name` (any case), or empty.
  std::string Header(std::string_view name) const;
};

struct ScriptedAnswer {
  int status = 500;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // The provider accepts the request (the message goes out, a retry key or idempotency key is
  // remembered) but this answer is what the client sees: a lost answer, a crash after sending.
  bool accept = false;
  // Wait this long before answering (a slow provider, for the adapters' timeouts).
  std::chrono::milliseconds delay{0};
};

// POSTs `body` to `url` (http:// only) as a provider's callback would, with `headers`; the
// answer's HTTP status, or -1 when nothing answered.
int PostCallback(const std::string& url, const std::string& content_type, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers);

class FakeServer {
 public:
  virtual ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // "http://127.0.0.1:<port>"
  std::string base_url() const;
  int port() const { return port_; }

  // Answers the next request (after any scripted before it) with `a` instead of the normal
  // answer.
  void Script(ScriptedAnswer a);
  // Every request received, in order.
  std::vector<RecordedRequest> requests() const;
  size_t request_count() const;

 protected:
  FakeServer();
  // Binds to 127.0.0.1 on a free port and serves on a thread until destruction. Subclasses
  // register their routes on server() first.
  void Start();
  httplib::Server& server() { return *server_; }

  // Records `req` and pops the next scripted answer, if any (under the lock).
  std::optional<ScriptedAnswer> RecordAndTakeScript(const httplib::Request& req);
  static void Answer(httplib::Response& res, const ScriptedAnswer& a);

  mutable std::mutex mu_;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::vector<RecordedRequest> requests_;
  std::deque<ScriptedAnswer> script_;
};

}  // namespace regulars::messaging::fakes
