#pragma once

// A local LINE Messaging API push endpoint: POST /v2/bot/message/push with
// "Authorization: Bearer <channel access token>" and JSON {"to", "messages": [{"type": "text",
// "text"}]}. It answers as LINE does: 200 {"sentMessages": [{"id", "quoteToken"}]} with an
// x-line-request-id header; 401 {"message"} for a missing or wrong token; 400 {"message",
// "details": [{"message", "property"}]} for a bad body or a malformed X-Line-Retry-Key; and,
// for a retry key it already accepted, 409 {"message": "The retry key is already accepted",
// "sentMessages": [...]} with x-line-accepted-request-id naming the first request. So a
// retried push is recognised and never delivered twice.
//
// It also writes what LINE would POST to the bot's webhook: events signed with X-Line-Signature.

#include <string>
#include <vector>

#include "messaging/fakes/fake_server.h"

namespace regulars::messaging::fakes {

class FakeLine final : public FakeServer {
 public:
  explicit FakeLine(std::string channel_access_token, std::string channel_secret = "");

  struct Push {
    std::string to;
    std::vector<std::string> texts;
    std::string retry_key;   // empty when none was sent
    std::string request_id;  // x-line-request-id of the accepting answer
    std::string message_id;  // sentMessages[0].id
  };
  // Pushes accepted, in order (a repeated retry key is not a new push).
  std::vector<Push> pushes() const;
  // How many requests came back 409 because their retry key was accepted before.
  size_t repeated_retry_keys() const;

  // The next answer is 429 {"message": "The API rate limit has been exceeded. Try again later."}.
  void ThrottleNext(std::string retry_after = "");
  // The next answer is a LINE error {"message"}.
  void FailNext(int http_status, std::string message);

  struct Webhook {
    std::string body;       // {"destination", "events": [...]}
    std::string signature;  // X-Line-Signature
  };
  Webhook UnfollowWebhook(const std::string& user_id) const;
  Webhook FollowWebhook(const std::string& user_id) const;
  Webhook TextWebhook(const std::string& user_id, const std::string& text) const;
  // POSTs `w` to the bot's webhook `url` with its X-Line-Signature, as LINE does. The answer's
  // HTTP status, or -1 when nothing answered.
  static int PostWebhook(const std::string& url, const Webhook& w);

 private:
  Webhook Sign(const std::string& body) const;

  std::string token_;
  std::string secret_;
  std::vector<Push> pushes_;  // under mu_
  size_t repeated_ = 0;       // under mu_
};

}  // namespace regulars::messaging::fakes
