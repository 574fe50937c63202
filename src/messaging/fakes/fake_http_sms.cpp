#include "messaging/fakes/fake_http_sms.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "messaging/receipts.h"

namespace regulars::messaging::fakes {
namespace {

bool IsE164(const std::string& s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

}  // namespace

FakeHttpSms::FakeHttpSms(std::string api_key) : api_key_(std::move(api_key)) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    bool text_mode;
    {
      std::lock_guard lock(mu_);
      text_mode = text_mode_;
    }
    auto ok = [&](const std::string& id) {
      res.status = 200;
      if (text_mode)
        res.set_content("OK id=" + id, "text/plain");
      else
        res.set_content(nlohmann::json{{"status", "ok"}, {"id", id}}.dump(), "application/json");
    };
    auto refuse = [&](int status, const std::string& why) {
      res.status = status;
      if (text_mode)
        res.set_content("ERR " + why, "text/plain");
      else
        res.set_content(nlohmann::json{{"status", "error"}, {"error", why}}.dump(),
                        "application/json");
    };
    std::string key = req.get_header_value("Idempotency-Key");
    {
      std::lock_guard lock(mu_);
      if (!key.empty()) ++attempts_[key];
    }
    auto scripted = RecordAndTakeScript(req);
    if (scripted && !scripted->accept) return Answer(res, *scripted);
    if (!api_key_.empty() && req.get_header_value("X-Api-Key") != api_key_)
      return refuse(401, "invalid api key");
    {
      std::lock_guard lock(mu_);
      if (auto it = by_key_.find(key); !key.empty() && it != by_key_.end()) {
        ++replays_;
        return ok(messages_[it->second].id);
      }
    }
    Message m;
    m.idempotency_key = key;
    std::string content_type = req.get_header_value("Content-Type");
    if (req.method == "GET") {
      m.to = req.get_param_value("to");
      m.text = req.get_param_value("text");
    } else if (content_type.find("json") != std::string::npos) {
      auto j = nlohmann::json::parse(req.body, nullptr, false);
      if (!j.is_object()) return refuse(400, "body: not JSON");
      m.to = j.value("to", "");
      m.text = j.value("text", "");
    } else {
      auto form = ParseForm(req.body);
      if (!form) return refuse(400, form.error().message);
      for (const auto& [k, v] : *form) {
        if (k == "to") m.to = v;
        if (k == "text") m.text = v;
      }
    }
    if (m.to.empty()) return refuse(200, "to: required");
    if (!IsE164(m.to)) return refuse(200, "to: not an E.164 number");
    if (m.text.empty()) return refuse(200, "text: required");
    {
      std::lock_guard lock(mu_);
      m.id = "gw-" + std::to_string(messages_.size() + 1);
      if (!key.empty()) by_key_[key] = messages_.size();
      messages_.push_back(m);
    }
    if (scripted) return Answer(res, *scripted);  // accepted, but the answer is lost
    ok(m.id);
  };
  server().Post("/api/sms", handler);
  server().Get("/api/sms", handler);
  Start();
}

void FakeHttpSms::set_text_mode(bool on) {
  std::lock_guard lock(mu_);
  text_mode_ = on;
}

std::vector<FakeHttpSms::Message> FakeHttpSms::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

size_t FakeHttpSms::replays() const {
  std::lock_guard lock(mu_);
  return replays_;
}

std::map<std::string, int> FakeHttpSms::attempts_by_key() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

void FakeHttpSms::ThrottleNext(std::string retry_after) {
  ScriptedAnswer a;
  a.status = 429;
  a.body = nlohmann::json{{"status", "error"}, {"error", "rate limited"}}.dump();
  if (!retry_after.empty()) a.headers.emplace_back("Retry-After", std::move(retry_after));
  Script(std::move(a));
}

}  // namespace regulars::messaging::fakes
