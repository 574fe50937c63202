#pragma once

// A local Twilio Messages API: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP
// Basic auth, form fields To, From | MessagingServiceSid, Body, StatusCallback. It answers as
// Twilio does: 201 with the Message resource JSON (sid "SM" + 32 hex digits, status "queued",
// or "accepted" through a Messaging Service), and errors as {"code", "message", "more_info",
// "status"}: 401/20003 bad credentials, 404/20404 another account's URL, 400/21604 no To,
// 400/21211 a To that is not E.164, 400/21603 no From, 400/21602 no Body. Like Twilio, it has no
// idempotency key: a retried message is a second message.
//
// It also writes what Twilio would send back: status callbacks and inbound SMS, form-encoded
// and signed with X-Twilio-Signature for a given URL.

#include <string>
#include <vector>

#include "messaging/fakes/fake_server.h"

namespace regulars::messaging::fakes {

class FakeTwilio final : public FakeServer {
 public:
  FakeTwilio(std::string account_sid, std::string auth_token);

  struct Message {
    std::string sid;
    std::string to;
    std::string from;
    std::string messaging_service_sid;
    std::string body;
    std::string status_callback;
  };
  // Messages accepted (201), in order.
  std::vector<Message> messages() const;

  // The next answer is 429 with code 20429 and this Retry-After ("" for none).
  void ThrottleNext(std::string retry_after);
  // The next answer is a Twilio error.
  void FailNext(int http_status, int code, std::string message);

  struct Callback {
    std::string body;       // form-encoded, as Twilio POSTs it
    std::string signature;  // X-Twilio-Signature for `url`
  };
  // A status callback for message `sid` as Twilio would POST it to `url`.
  Callback StatusCallback(const std::string& url, const std::string& sid, const std::string& status,
                          const std::string& error_code = "") const;
  // An inbound SMS as Twilio would POST it to the number's webhook `url`.
  Callback InboundSms(const std::string& url, const std::string& from, const std::string& to,
                      const std::string& body) const;

  // POSTs StatusCallback(...) for accepted message `sid` to the StatusCallback URL it was sent
  // with, signed for that URL, as Twilio does. The answer's HTTP status; -1 if nothing answered
  // or the message had no StatusCallback.
  int PostStatusCallback(const std::string& sid, const std::string& status,
                         const std::string& error_code = "") const;

  const std::string& account_sid() const { return account_sid_; }

 private:
  std::string account_sid_;
  std::string auth_token_;
  std::vector<Message> messages_;  // under mu_
};

// {"code", "message", "more_info", "status"} as Twilio's REST API writes errors.
std::string TwilioErrorJson(int http_status, int code, const std::string& message);

}  // namespace regulars::messaging::fakes
