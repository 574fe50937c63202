#pragma once

// The one outgoing-HTTP helper of the provider adapters (Twilio, LINE, generic HTTP SMS,
// webhook), over libcurl, and the one place that turns an HTTP answer into a SendOutcome:
//   2xx                      -> kSent
//   429, 503                 -> kThrottled, retry_after from Retry-After (seconds or HTTP-date)
//   other 5xx, network error -> kTemporary (retry_after too, when the provider sent one)
//   other statuses (4xx, 3xx)-> kPermanent, with the provider's own message
// Adapters only build the request and read the provider's error text / message id.

#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "messaging/channel.h"

namespace regulars::messaging {

struct HttpRequest {
  std::string method = "POST";  // GET, POST, PUT, PATCH, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // HTTP Basic credentials, sent when `basic_user` is not empty.
  std::string basic_user;
  std::string basic_password;
  // Whole-request limit (connect, send, wait, read). The connect phase alone gets at most half.
  Micros timeout = 10 * kMicrosPerSecond;
};

struct HttpResponse {
  int status = 0;
  // Header names are lower-cased; values are trimmed. Repeated headers appear repeatedly.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first value of header `name` (any case), or empty.
  std::string Header(std::string_view name) const;
};

// A libcurl client. Keeps idle connections per thread-safe handle pool, so a worker sending many
// messages to one provider reuses its TLS connection. Thread-safe; never throws.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any answer with a status is a value (even 500). A request that got no answer (DNS, refused
  // connection, TLS failure, timeout) is `unavailable` with curl's description.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);

  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* easy handles, each with its own connection cache
};

// The delay a Retry-After value asks for: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct
// 2015 07:28:00 GMT", also the obsolete RFC 850 and asctime forms), relative to `now`. A date in
// the past is a zero delay; anything unparseable is nullopt.
std::optional<Micros> ParseRetryAfter(std::string_view value, Micros now);

// The mapping in the header comment. `provider_error` is the adapter's reading of the answer
// (e.g. "21211: The 'To' number is not a valid phone number."); when empty the status line and
// the first 200 bytes of the body are used. `what` prefixes every error ("twilio", "line").
SendOutcome ClassifyHttpAnswer(std::string_view what, const Result<HttpResponse>& answer,
                               std::string provider_error, Micros now);

// Runs `send`, turning an exception (a bug, or a library refusing odd input) into a permanent
// failure naming `what`, so Channel::Send never throws.
template <class F>
SendOutcome GuardSend(std::string_view what, F&& send) noexcept {
  SendOutcome out;
  out.kind = SendOutcome::Kind::kPermanent;
  try {
    return send();
  } catch (const std::exception& ex) {
    out.error = std::string(what) + ": internal error: " + ex.what();
  } catch (...) {
    out.error = std::string(what) + ": internal error";
  }
  return out;
}

// application/x-www-form-urlencoded, as browsers and Twilio do: unreserved characters kept,
// space as '+', everything else %XX (UTF-8 bytes).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);
// Percent-encoding of one URL component (space as %20).
std::string UrlEncode(std::string_view s);

}  // namespace regulars::messaging
