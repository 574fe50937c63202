#include "messaging/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace regulars::messaging {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Provider answers are small; a huge one is kept only up to this size (and still counts as the
// answer it is: refusing it would turn a delivered message into a retry).
constexpr size_t kMaxBody = 1 << 20;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < kMaxBody) body->append(data, std::min(size * n, kMaxBody - body->size()));
  return size * n;
}

// libcurl hands every header line of every response (also of a 100 Continue) to this callback;
// a status line starts a new response, so only the final response's headers remain.
size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    headers->clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    headers->emplace_back(Lower(Trim(line.substr(0, colon))),
                          std::string(Trim(line.substr(colon + 1))));
  return size * n;
}

void GlobalInit() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)ok;
}

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string PercentEncode(std::string_view s, bool space_as_plus) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ' && space_as_plus) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers)
    if (k == want) return v;
  return {};
}

HttpClient::HttpClient() { GlobalInit(); }

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

Result<HttpResponse> HttpClient::Perform(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return Fail(Code::kInternal, "http: curl_easy_init failed");
  // Reset forgets the previous request's options but keeps the connection cache.
  curl_easy_reset(curl);

  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers)
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  // libcurl would otherwise add "Expect: 100-continue" to large POSTs and wait for it.
  headers = curl_slist_append(headers, "Expect:");

  long timeout_ms = static_cast<long>(std::max<Micros>(request.timeout / 1000, 1));
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::max(timeout_ms / 2, 1L));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "Regulars/0.1");
  if (!request.basic_user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_password.c_str());
  }
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    if (request.method != "POST")
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  // Drop the pointers into this frame before the handle goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  Release(curl);

  if (rc != CURLE_OK) {
    std::string why = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    return Fail(Code::kUnavailable, request.method + " " + request.url + ": " + why);
  }
  response.status = static_cast<int>(status);
  return response;
}

std::optional<Micros> ParseRetryAfter(std::string_view value, Micros now) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || seconds > 366LL * 86400) return std::nullopt;
    return seconds * kMicrosPerSecond;
  }
  // RFC 9110 section 5.6.7: IMF-fixdate, then the obsolete RFC 850 and asctime forms.
  std::string text(value);
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    time_t t = timegm(&tm);
    Micros at = static_cast<Micros>(t) * kMicrosPerSecond;
    return at > now ? at - now : 0;
  }
  return std::nullopt;
}

SendOutcome ClassifyHttpAnswer(std::string_view what, const Result<HttpResponse>& answer,
                               std::string provider_error, Micros now) {
  SendOutcome out;
  std::string prefix(what);
  if (!answer) {
    out.kind = SendOutcome::Kind::kTemporary;
    out.error = prefix + ": no answer: " + answer.error().message;
    return out;
  }
  const HttpResponse& r = *answer;
  if (r.status >= 200 && r.status < 300) return out;
  if (provider_error.empty()) {
    std::string snippet = r.body.substr(0, 200);
    provider_error = snippet.empty() ? "(empty body)" : snippet;
  }
  out.error = prefix + ": HTTP " + std::to_string(r.status) + ": " + provider_error;
  std::string retry_after = r.Header("retry-after");
  if (r.status == 429 || r.status == 503) {
    out.kind = SendOutcome::Kind::kThrottled;
    out.retry_after = ParseRetryAfter(retry_after, now);
  } else if (r.status >= 500) {
    out.kind = SendOutcome::Kind::kTemporary;
    out.retry_after = ParseRetryAfter(retry_after, now);
  } else {
    out.kind = SendOutcome::Kind::kPermanent;
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(k, true);
    out.push_back('=');
    out += PercentEncode(v, true);
  }
  return out;
}

std::string UrlEncode(std::string_view s) { return PercentEncode(s, false); }

}  // namespace regulars::messaging
