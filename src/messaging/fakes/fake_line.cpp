#include "messaging/fakes/fake_line.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <map>
#include <regex>

#include "messaging/receipts.h"

namespace regulars::messaging::fakes {
namespace {

std::string LineError(const std::string& message) {
  return nlohmann::json{{"message", message}}.dump();
}

std::string BadRequest(const std::string& property, const std::string& message) {
  return nlohmann::json{{"message", "The request body has 1 error(s)"},
                        {"details", {{{"message", message}, {"property", property}}}}}
      .dump();
}

nlohmann::json UserEvent(const std::string& type, const std::string& user_id, int n) {
  char id[32];
  std::snprintf(id, sizeof id, "01FAKELINEEVENT%011d", n);
  return {{"type", type},
          {"mode", "active"},
          {"timestamp", static_cast<int64_t>(std::time(nullptr)) * 1000},
          {"source", {{"type", "user"}, {"userId", user_id}}},
          {"webhookEventId", id},
          {"deliveryContext", {{"isRedelivery", false}}}};
}

std::string Envelope(nlohmann::json event) {
  return nlohmann::json{{"destination", "U" + std::string(32, '0')},
                        {"events", nlohmann::json::array({std::move(event)})}}
      .dump();
}

}  // namespace

FakeLine::FakeLine(std::string channel_access_token, std::string channel_secret)
    : token_(std::move(channel_access_token)), secret_(std::move(channel_secret)) {
  server().Post("/v2/bot/message/push", [this](const httplib::Request& req,
                                               httplib::Response& res) {
    auto answer = [&res](int status, const std::string& body) {
      res.status = status;
      res.set_content(body, "application/json");
    };
    auto scripted = RecordAndTakeScript(req);
    if (scripted && !scripted->accept) return Answer(res, *scripted);

    std::string auth = req.get_header_value("Authorization");
    if (auth.empty())
      return answer(401, LineError("Authentication failed due to the following reason: no "
                                   "token. Confirm that the access token in the authorization "
                                   "header is valid."));
    if (auth != "Bearer " + token_)
      return answer(401, LineError("Authentication failed. Confirm that the access token in the "
                                   "authorization header is valid."));
    std::string retry_key = req.get_header_value("X-Line-Retry-Key");
    static const std::regex kUuid(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    if (req.has_header("X-Line-Retry-Key") && !std::regex_match(retry_key, kUuid))
      return answer(400, LineError("The value for the 'X-Line-Retry-Key' header is invalid"));
    if (!retry_key.empty()) {
      std::lock_guard lock(mu_);
      for (const Push& p : pushes_) {
        if (p.retry_key != retry_key) continue;
        ++repeated_;
        res.status = 409;
        res.set_header("x-line-accepted-request-id", p.request_id);
        res.set_content(
            nlohmann::json{
                {"message", "The retry key is already accepted"},
                {"sentMessages", {{{"id", p.message_id}, {"quoteToken", "qt-" + p.message_id}}}}}
                .dump(),
            "application/json");
        return;
      }
    }
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (!j.is_object()) return answer(400, LineError("The request body is not valid JSON"));
    Push p;
    p.retry_key = retry_key;
    if (!j.contains("to") || !j["to"].is_string() || j["to"].get<std::string>().empty())
      return answer(400, BadRequest("to", "must be specified"));
    p.to = j["to"];
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      return answer(400, BadRequest("messages", "must be specified"));
    if (j["messages"].size() > 5)
      return answer(400, BadRequest("messages", "Size must be between 1 and 5"));
    for (size_t i = 0; i < j["messages"].size(); ++i) {
      const auto& m = j["messages"][i];
      std::string at = "messages[" + std::to_string(i) + "]";
      if (!m.is_object() || m.value("type", "") != "text")
        return answer(400, BadRequest(at + ".type", "must be one of the supported message types"));
      std::string text = m.value("text", "");
      if (text.empty()) return answer(400, BadRequest(at + ".text", "must be specified"));
      p.texts.push_back(text);
    }
    {
      std::lock_guard lock(mu_);
      char request_id[40], message_id[24];
      std::snprintf(request_id, sizeof request_id, "00000000-0000-4000-8000-%012zx",
                    pushes_.size() + 1);
      std::snprintf(message_id, sizeof message_id, "%018zu",
                    468789577898262000 + pushes_.size() + 1);
      p.request_id = request_id;
      p.message_id = message_id;
      pushes_.push_back(p);
    }
    if (scripted) return Answer(res, *scripted);  // accepted, but the answer is lost
    res.status = 200;
    res.set_header("x-line-request-id", p.request_id);
    nlohmann::json sent = nlohmann::json::array();
    for (size_t i = 0; i < p.texts.size(); ++i)
      sent.push_back({{"id", p.message_id}, {"quoteToken", "qt-" + p.message_id}});
    res.set_content(nlohmann::json{{"sentMessages", sent}}.dump(), "application/json");
  });
  Start();
}

std::vector<FakeLine::Push> FakeLine::pushes() const {
  std::lock_guard lock(mu_);
  return pushes_;
}

size_t FakeLine::repeated_retry_keys() const {
  std::lock_guard lock(mu_);
  return repeated_;
}

void FakeLine::ThrottleNext(std::string retry_after) {
  ScriptedAnswer a;
  a.status = 429;
  a.body = LineError("The API rate limit has been exceeded. Try again later.");
  if (!retry_after.empty()) a.headers.emplace_back("Retry-After", std::move(retry_after));
  Script(std::move(a));
}

void FakeLine::FailNext(int http_status, std::string message) {
  ScriptedAnswer a;
  a.status = http_status;
  a.body = LineError(message);
  Script(std::move(a));
}

FakeLine::Webhook FakeLine::Sign(const std::string& body) const {
  return {body, LineSignature(secret_, body)};
}

int FakeLine::PostWebhook(const std::string& url, const Webhook& w) {
  return PostCallback(url, "application/json", w.body, {{"X-Line-Signature", w.signature}});
}

FakeLine::Webhook FakeLine::UnfollowWebhook(const std::string& user_id) const {
  return Sign(Envelope(UserEvent("unfollow", user_id, 1)));
}

FakeLine::Webhook FakeLine::FollowWebhook(const std::string& user_id) const {
  nlohmann::json e = UserEvent("follow", user_id, 2);
  e["replyToken"] = "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA";
  e["follow"] = {{"isUnblocked", false}};
  return Sign(Envelope(std::move(e)));
}

FakeLine::Webhook FakeLine::TextWebhook(const std::string& user_id, const std::string& text) const {
  nlohmann::json e = UserEvent("message", user_id, 3);
  e["replyToken"] = "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA";
  e["message"] = {{"id", "444573844083572737"},
                  {"type", "text"},
                  {"quoteToken", "q3Plxr4AgKd"},
                  {"text", text}};
  return Sign(Envelope(std::move(e)));
}

}  // namespace regulars::messaging::fakes
