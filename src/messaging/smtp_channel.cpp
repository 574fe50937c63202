#include "messaging/smtp_channel.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>

#include "messaging/smtp_session.h"

namespace regulars::messaging {
namespace {

std::string Base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n);
  return out;
}

std::string Base64Lines(std::string_view s) {
  std::string b = Base64(s), out;
  for (size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// RFC 2047: UTF-8 "B" words of at most 42 bytes of text each (68 characters encoded), split on
// character boundaries, folded onto continuation lines.
std::string EncodeHeaderWords(std::string_view s) {
  if (IsAscii(s)) return std::string(s);
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + 42);
    while (end < s.size() && end > i && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(s.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string AddressOnly(std::string_view from) {
  size_t lt = from.find('<'), gt = from.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt)
    return std::string(from.substr(lt + 1, gt - lt - 1));
  return std::string(from);
}

// "Name <addr>" with a non-ASCII name encoded.
std::string EncodeFrom(std::string_view from) {
  size_t lt = from.find('<');
  if (lt == std::string_view::npos || lt == 0) return std::string(from);
  std::string name(from.substr(0, lt));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return EncodeHeaderWords(name) + " " + std::string(from.substr(lt));
}

std::string RfcDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  const std::string* data;
  size_t pos = 0;
};

size_t ReadBody(char* ptr, size_t size, size_t nmemb, void* userp) {
  auto* u = static_cast<Upload*>(userp);
  size_t room = size * nmemb;
  size_t n = std::min(room, u->data->size() - u->pos);
  memcpy(ptr, u->data->data() + u->pos, n);
  u->pos += n;
  return n;
}

// Plain sessions without AUTH (security "none") go through SmtpSession, which pipelines; TLS and
// AUTH through libcurl, one easy handle kept per channel (libcurl does not pipeline SMTP).
class SmtpChannel final : public Channel {
 public:
  SmtpChannel(std::string host, int port, std::string url, long use_ssl, std::string from,
              std::string username, std::string password, long timeout_ms, bool verify,
              std::string helo)
      : host_(std::move(host)),
        port_(port),
        url_(std::move(url)),
        use_ssl_(use_ssl),
        from_(std::move(from)),
        username_(std::move(username)),
        password_(std::move(password)),
        timeout_ms_(timeout_ms),
        verify_(verify),
        helo_(std::move(helo)) {}
  ~SmtpChannel() override {
    if (curl_) curl_easy_cleanup(curl_);
  }
  ChannelKind kind() const override { return ChannelKind::kSmtp; }

  SendOutcome Send(const Envelope& e) override {
    std::lock_guard lock(mu_);
    SendOutcome out;
    std::string to = OneLine(e.to);
    if (to.empty() || to.find('@') == std::string::npos) {
      out.kind = SendOutcome::Kind::kPermanent;
      out.error = "recipient is not an e-mail address";
      return out;
    }
    std::string mime = BuildMime(e, from_, RfcDate());
    if (Plain()) {
      if (!session_) session_ = NewSession();
      return Outcome(e, session_->Send(AddressOnly(from_), to, mime));
    }
    // One handle per channel keeps the SMTP connection open between messages.
    if (!curl_) curl_ = curl_easy_init();
    if (!curl_) {
      out.kind = SendOutcome::Kind::kTemporary;
      out.error = "curl_easy_init failed";
      return out;
    }
    CURL* c = curl_;
    curl_easy_reset(c);
    std::string url = helo_.empty() ? url_ : url_ + "/" + helo_;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl_);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify_ ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify_ ? 2L : 0L);
    if (!username_.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, username_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    }
    std::string mail_from = "<" + AddressOnly(from_) + ">";
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    std::string rcpt = "<" + to + ">";
    curl_slist* rcpts = curl_slist_append(nullptr, rcpt.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    Upload up{&mime, 0};
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, 10000L));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpts);
    if (rc == CURLE_OK) {
      out.provider_id = SmtpMessageId(e);
      return out;
    }
    out.error = fmt::format("smtp: {}{}", errbuf[0] ? errbuf : curl_easy_strerror(rc),
                            code ? fmt::format(" (reply {})", code) : "");
    if (rc == CURLE_USE_SSL_FAILED)
      out.error = "smtp: the server does not offer STARTTLS, which settings.security requires";
    out.kind =
        code >= 500 && code < 600 ? SendOutcome::Kind::kPermanent : SendOutcome::Kind::kTemporary;
    // A broken connection must not be reused.
    curl_easy_cleanup(curl_);
    curl_ = nullptr;
    return out;
  }

  // Two phases on the pipelining session (plain, no AUTH); libcurl sessions send in one call.
  bool BeginSend(const Envelope& e) override {
    std::lock_guard lock(mu_);
    begun_ = false;
    std::string to = OneLine(e.to);
    if (!Plain() || to.empty() || to.find('@') == std::string::npos) return false;
    if (!session_) session_ = NewSession();
    if (!session_->BeginEnvelope(AddressOnly(from_), to)) return false;
    begun_ = true;
    begun_to_ = std::move(to);
    begun_mime_ = BuildMime(e, from_, RfcDate());
    return true;
  }
  SendOutcome FinishSend(const Envelope& e) override {
    std::unique_lock lock(mu_);
    if (!begun_) {
      lock.unlock();
      return Send(e);
    }
    begun_ = false;
    return Outcome(e, session_->SendBody(AddressOnly(from_), begun_to_, begun_mime_));
  }

 private:
  bool Plain() const { return use_ssl_ == CURLUSESSL_NONE && username_.empty(); }
  std::unique_ptr<SmtpSession> NewSession() const {
    return std::make_unique<SmtpSession>(
        SmtpSessionOptions{host_, port_, helo_, static_cast<int>(timeout_ms_)});
  }
  static SendOutcome Outcome(const Envelope& e, SmtpResult r) {
    SendOutcome out;
    if (r.sent) {
      out.provider_id = SmtpMessageId(e);
      return out;
    }
    out.error = std::move(r.error);
    out.kind = r.code >= 500 && r.code < 600 ? SendOutcome::Kind::kPermanent
                                             : SendOutcome::Kind::kTemporary;
    return out;
  }

  std::mutex mu_;
  bool begun_ = false;  // between BeginSend and FinishSend
  std::string begun_to_, begun_mime_;
  CURL* curl_ = nullptr;
  std::unique_ptr<SmtpSession> session_;
  std::string host_;
  int port_;
  std::string url_;
  long use_ssl_;
  std::string from_, username_, password_;
  long timeout_ms_;
  bool verify_;
  std::string helo_;
};

}  // namespace

std::string SmtpMessageId(const Envelope& e) {
  return "<" + DeliveryIdentity(e.dedup_key) + "@regulars>";
}

std::string BuildMime(const Envelope& e, const std::string& from, const std::string& date) {
  std::string id = DeliveryIdentity(e.dedup_key);
  std::string m;
  m += "From: " + EncodeFrom(OneLine(from)) + "\r\n";
  m += "To: " + OneLine(e.to) + "\r\n";
  m += "Subject: " + EncodeHeaderWords(OneLine(e.subject)) + "\r\n";
  m += "Date: " + date + "\r\n";
  m += "Message-ID: <" + id + "@regulars>\r\n";
  m += "MIME-Version: 1.0\r\n";
  for (const auto& [k, v] : e.headers) m += OneLine(k) + ": " + OneLine(v) + "\r\n";
  auto part = [](std::string_view type, std::string_view body) {
    return fmt::format(
        "Content-Type: {}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}", type,
        Base64Lines(body));
  };
  if (e.html.empty()) {
    m += part("text/plain", e.text);
    return m;
  }
  std::string boundary = "rg-" + id;
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\n" + part("text/plain", e.text);
  m += "--" + boundary + "\r\n" + part("text/html", e.html);
  m += "--" + boundary + "--\r\n";
  return m;
}

Result<std::unique_ptr<Channel>> MakeSmtpChannel(const ChannelConfig& c) {
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const auto& s = c.settings;
  auto str = [&](const char* key) -> Result<std::string> {
    auto it = s.find(key);
    if (it == s.end() || it->is_null()) return std::string();
    if (!it->is_string()) return InvalidField(std::string("settings.") + key, "must be a string");
    return it->get<std::string>();
  };
  RG_ASSIGN_OR_RETURN(std::string host, str("host"));
  if (host.empty()) return InvalidField("settings.host", "required");
  RG_ASSIGN_OR_RETURN(std::string from, str("from"));
  if (from.empty() || AddressOnly(from).find('@') == std::string::npos)
    return InvalidField("settings.from",
                        "required: an address such as \"Shop <shop@example.com>\"");
  RG_ASSIGN_OR_RETURN(std::string security, str("security"));
  if (security.empty()) security = "starttls";
  long use_ssl;
  std::string scheme = "smtp";
  int default_port;
  if (security == "starttls") {
    use_ssl = CURLUSESSL_ALL;
    default_port = 587;
  } else if (security == "starttls_optional") {
    use_ssl = CURLUSESSL_TRY;
    default_port = 587;
  } else if (security == "tls") {
    use_ssl = CURLUSESSL_ALL;
    scheme = "smtps";
    default_port = 465;
  } else if (security == "none") {
    use_ssl = CURLUSESSL_NONE;
    default_port = 25;
  } else {
    return InvalidField("settings.security",
                        "must be \"starttls\", \"starttls_optional\", \"tls\" or \"none\"");
  }
  int port = default_port;
  if (auto it = s.find("port"); it != s.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 65535)
      return InvalidField("settings.port", "must be an integer from 1 to 65535");
    port = it->get<int>();
  }
  long timeout_ms = 30000;
  if (auto it = s.find("timeout_ms"); it != s.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 100 || it->get<int64_t>() > 300000)
      return InvalidField("settings.timeout_ms", "must be an integer from 100 to 300000");
    timeout_ms = it->get<long>();
  }
  bool verify = true;
  if (auto it = s.find("verify_tls"); it != s.end() && !it->is_null()) {
    if (!it->is_boolean()) return InvalidField("settings.verify_tls", "must be a boolean");
    verify = it->get<bool>();
  }
  RG_ASSIGN_OR_RETURN(std::string username, str("username"));
  RG_ASSIGN_OR_RETURN(std::string helo, str("helo"));
  std::string password;
  if (auto it = c.secrets.find("password"); it != c.secrets.end() && !it->is_null()) {
    if (!it->is_string()) return InvalidField("secrets.password", "must be a string");
    password = it->get<std::string>();
  }
  if (!username.empty() && password.empty())
    return InvalidField("secrets.password", "required with settings.username");
  std::string url = fmt::format("{}://{}:{}", scheme, host, port);
  return std::unique_ptr<Channel>(
      new SmtpChannel(host, port, std::move(url), use_ssl, std::move(from), std::move(username),
                      std::move(password), timeout_ms, verify, std::move(helo)));
}

}  // namespace regulars::messaging
