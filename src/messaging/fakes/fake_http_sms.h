#pragma once

// A local SMS gateway of the kind the generic HTTP SMS channel (http_sms_channel.h) is for.
// It speaks one small, typical API:
//   POST /api/sms   JSON {"to", "text"} or form to=…&text=…;   GET /api/sms?to=…&text=…
//   X-Api-Key: <key>  (when the fake has one)
//   Idempotency-Key: <key>  (optional)
// Answers, in JSON mode: 200 {"status": "ok", "id": "gw-1"}; a refused message is
// 200 {"status": "error", "error": "to: not an E.164 number"} (gateways often answer 200 and put
// the verdict in the body); a bad key 401 {"status": "error", "error": "invalid api key"}.
// In text mode: "OK id=gw-1" / "ERR to: not an E.164 number" as text/plain.
// A request whose Idempotency-Key was accepted before gets the first answer again (same id) and
// sends nothing: that is how a retried message is recognised.

#include <map>
#include <string>
#include <vector>

#include "messaging/fakes/fake_server.h"

namespace regulars::messaging::fakes {

class FakeHttpSms final : public FakeServer {
 public:
  explicit FakeHttpSms(std::string api_key = "");

  // Plain-text answers instead of JSON.
  void set_text_mode(bool on);

  struct Message {
    std::string id;  // "gw-<n>"
    std::string to;
    std::string text;
    std::string idempotency_key;
  };
  // Messages sent (accepted), in order; a replayed Idempotency-Key is not a new message.
  std::vector<Message> messages() const;
  // Requests answered from an earlier acceptance of their Idempotency-Key.
  size_t replays() const;
  // Requests received per Idempotency-Key (raw, before dedup).
  std::map<std::string, int> attempts_by_key() const;

  // The next answer is 429 with this Retry-After ("" for none).
  void ThrottleNext(std::string retry_after);

 private:
  std::string api_key_;
  bool text_mode_ = false;                // under mu_
  std::vector<Message> messages_;         // under mu_
  std::map<std::string, size_t> by_key_;  // accepted Idempotency-Key -> index, under mu_
  std::map<std::string, int> attempts_;   // under mu_
  size_t replays_ = 0;                    // under mu_
};

}  // namespace regulars::messaging::fakes
