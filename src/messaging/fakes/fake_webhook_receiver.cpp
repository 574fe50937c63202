#include "messaging/fakes/fake_webhook_receiver.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "messaging/webhook_channel.h"

namespace regulars::messaging::fakes {

FakeWebhookReceiver::FakeWebhookReceiver(std::string signing_secret, const Clock* clock)
    : secret_(std::move(signing_secret)), clock_(clock) {
  server().Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    auto scripted = RecordAndTakeScript(req);
    if (scripted && !scripted->accept) return Answer(res, *scripted);
    auto verified = VerifyWebhookSignature(secret_, req.get_header_value("X-Regulars-Signature"),
                                           req.body, clock_->Now());
    if (!verified) {
      std::lock_guard lock(mu_);
      last_refusal_ = verified.error().message;
      res.status = 401;
      res.set_content(nlohmann::json{{"error", last_refusal_}}.dump(), "application/json");
      return;
    }
    std::string key = req.get_header_value("Idempotency-Key");
    {
      std::lock_guard lock(mu_);
      if (!key.empty() && seen_.count(key)) {
        ++duplicates_;
      } else {
        if (!key.empty()) seen_[key] = true;
        deliveries_.push_back({req.path, key, req.body});
      }
    }
    if (scripted) return Answer(res, *scripted);  // accepted, but the answer is lost
    res.status = 200;
    res.set_content(R"({"ok":true})", "application/json");
  });
  Start();
}

std::vector<FakeWebhookReceiver::Delivery> FakeWebhookReceiver::deliveries() const {
  std::lock_guard lock(mu_);
  return deliveries_;
}

size_t FakeWebhookReceiver::duplicates() const {
  std::lock_guard lock(mu_);
  return duplicates_;
}

std::string FakeWebhookReceiver::last_refusal() const {
  std::lock_guard lock(mu_);
  return last_refusal_;
}

}  // namespace regulars::messaging::fakes
