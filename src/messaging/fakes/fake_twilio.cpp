#include "messaging/fakes/fake_twilio.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

#include "messaging/http_client.h"
#include "messaging/receipts.h"

namespace regulars::messaging::fakes {
namespace {

std::string Rfc2822Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string DecodeBase64(const std::string& in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return {};
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - std::min<size_t>(pad, static_cast<size_t>(n)));
  return out;
}

bool IsE164(const std::string& s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::string Field(const FormFields& f, const std::string& name) {
  for (const auto& [k, v] : f)
    if (k == name) return v;
  return {};
}

}  // namespace

std::string TwilioErrorJson(int http_status, int code, const std::string& message) {
  return nlohmann::json{{"code", code},
                        {"message", message},
                        {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                        {"status", http_status}}
      .dump();
}

FakeTwilio::FakeTwilio(std::string account_sid, std::string auth_token)
    : account_sid_(std::move(account_sid)), auth_token_(std::move(auth_token)) {
  server().Post(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  auto error = [&res](int status, int code, const std::string& message) {
                    res.status = status;
                    res.set_content(TwilioErrorJson(status, code, message), "application/json");
                  };
                  auto scripted = RecordAndTakeScript(req);
                  if (scripted && !scripted->accept) return Answer(res, *scripted);

                  std::string auth = req.get_header_value("Authorization");
                  std::string expected = account_sid_ + ":" + auth_token_;
                  if (!auth.starts_with("Basic ") || DecodeBase64(auth.substr(6)) != expected)
                    return error(401, 20003, "Authenticate");
                  if (req.matches[1] != account_sid_)
                    return error(404, 20404,
                                 "The requested resource " + req.path + " was not found");
                  auto form = ParseForm(req.body);
                  if (!form) return error(400, 21100, "Invalid form body: " + form.error().message);
                  Message m;
                  m.to = Field(*form, "To");
                  m.from = Field(*form, "From");
                  m.messaging_service_sid = Field(*form, "MessagingServiceSid");
                  m.body = Field(*form, "Body");
                  m.status_callback = Field(*form, "StatusCallback");
                  if (m.to.empty()) return error(400, 21604, "A 'To' phone number is required.");
                  if (!IsE164(m.to)) return error(400, 21211, "Invalid 'To' Phone Number: " + m.to);
                  if (m.from.empty() && m.messaging_service_sid.empty())
                    return error(400, 21603, "A 'From' phone number is required.");
                  if (m.body.empty()) return error(400, 21602, "Message body is required.");

                  std::string date = Rfc2822Now();
                  {
                    std::lock_guard lock(mu_);
                    char sid[35];
                    std::snprintf(sid, sizeof sid, "SM%032zx", messages_.size() + 1);
                    m.sid = sid;
                    messages_.push_back(m);
                  }
                  if (scripted) return Answer(res, *scripted);  // accepted, but the answer is lost
                  std::string uri = "/2010-04-01/Accounts/" + account_sid_ + "/Messages/" + m.sid;
                  nlohmann::json j = {
                      {"account_sid", account_sid_},
                      {"api_version", "2010-04-01"},
                      {"body", m.body},
                      {"date_created", date},
                      {"date_sent", nullptr},
                      {"date_updated", date},
                      {"direction", "outbound-api"},
                      {"error_code", nullptr},
                      {"error_message", nullptr},
                      {"from", m.from.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.from)},
                      {"messaging_service_sid", m.messaging_service_sid.empty()
                                                    ? nlohmann::json(nullptr)
                                                    : nlohmann::json(m.messaging_service_sid)},
                      {"num_media", "0"},
                      {"num_segments", "1"},
                      {"price", nullptr},
                      {"price_unit", "USD"},
                      {"sid", m.sid},
                      {"status", m.messaging_service_sid.empty() ? "queued" : "accepted"},
                      {"subresource_uris", {{"media", uri + "/Media.json"}}},
                      {"to", m.to},
                      {"uri", uri + ".json"},
                  };
                  res.status = 201;
                  res.set_content(j.dump(), "application/json");
                });
  Start();
}

std::vector<FakeTwilio::Message> FakeTwilio::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

void FakeTwilio::ThrottleNext(std::string retry_after) {
  ScriptedAnswer a;
  a.status = 429;
  a.body = TwilioErrorJson(429, 20429, "Too Many Requests");
  if (!retry_after.empty()) a.headers.emplace_back("Retry-After", std::move(retry_after));
  Script(std::move(a));
}

void FakeTwilio::FailNext(int http_status, int code, std::string message) {
  ScriptedAnswer a;
  a.status = http_status;
  a.body = TwilioErrorJson(http_status, code, message);
  Script(std::move(a));
}

FakeTwilio::Callback FakeTwilio::StatusCallback(const std::string& url, const std::string& sid,
                                                const std::string& status,
                                                const std::string& error_code) const {
  std::string to, from;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : messages_)
      if (m.sid == sid) to = m.to, from = m.from;
  }
  FormFields f = {{"SmsSid", sid}, {"SmsStatus", status},       {"MessageStatus", status},
                  {"To", to},      {"MessageSid", sid},         {"AccountSid", account_sid_},
                  {"From", from},  {"ApiVersion", "2010-04-01"}};
  if (!error_code.empty()) f.emplace_back("ErrorCode", error_code);
  return {FormEncode(f), TwilioSignature(auth_token_, url, f)};
}

int FakeTwilio::PostStatusCallback(const std::string& sid, const std::string& status,
                                   const std::string& error_code) const {
  std::string url;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : messages_)
      if (m.sid == sid) url = m.status_callback;
  }
  if (url.empty()) return -1;
  Callback cb = StatusCallback(url, sid, status, error_code);
  return PostCallback(url, "application/x-www-form-urlencoded", cb.body,
                      {{"X-Twilio-Signature", cb.signature}});
}

FakeTwilio::Callback FakeTwilio::InboundSms(const std::string& url, const std::string& from,
                                            const std::string& to, const std::string& body) const {
  FormFields f = {{"ToCountry", "TW"},
                  {"SmsMessageSid", "SM" + std::string(32, 'f')},
                  {"NumMedia", "0"},
                  {"SmsSid", "SM" + std::string(32, 'f')},
                  {"SmsStatus", "received"},
                  {"Body", body},
                  {"To", to},
                  {"NumSegments", "1"},
                  {"MessageSid", "SM" + std::string(32, 'f')},
                  {"AccountSid", account_sid_},
                  {"From", from},
                  {"ApiVersion", "2010-04-01"}};
  return {FormEncode(f), TwilioSignature(auth_token_, url, f)};
}

}  // namespace regulars::messaging::fakes
