#pragma once

// What providers tell us after a send, parsed and authenticated: Twilio status callbacks and
// inbound SMS (with STOP keywords), and LINE webhooks (unfollow = consent off). Every parser
// checks the provider's signature first and answers permission_denied with the exact reason
// (missing header, no match under the configured secret) before reading a single field, so a
// forged callback can change nothing. Pure functions over the request's URL, body and header;
// the HTTP routes (routes_messaging.cpp) only pass them through.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/time.h"

namespace regulars::messaging {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded ("a=1&b=x+y%21") in order, '+' as space. invalid_argument
// naming the byte offset of a bad %-escape.
Result<FormFields> ParseForm(std::string_view body);

// ---- Keywords in inbound texts ---------------------------------------------------------------

enum class InboundKeyword { kNone, kOptOut, kOptIn, kHelp };
// The whole text, trimmed of spaces and trailing . ! 。 ！, compared after folding case, width
// and Traditional/Simplified (FoldForSearch): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
// 退訂, 退订 opt out; START, YES, UNSTOP opt back in; HELP, INFO ask for help. "Stop sending me
// this" is no keyword: like carriers, only a bare keyword counts.
InboundKeyword ClassifyInboundKeyword(std::string_view text);

// ---- Twilio ----------------------------------------------------------------------------------

// X-Twilio-Signature: base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 ...))
// with the POST parameters sorted by name (then value). `url` is the full URL Twilio called, as
// configured there, query string included.
std::string TwilioSignature(std::string_view auth_token, std::string_view url,
                            const FormFields& params);
Status VerifyTwilioSignature(std::string_view auth_token, std::string_view url,
                             const FormFields& params, std::string_view signature_header);

struct DeliveryReceipt {
  enum class Kind {
    kProgress,   // queued, accepted, sending, sent, scheduled: not final yet
    kDelivered,  // delivered (and read)
    kFailed,     // undelivered, failed, canceled
  } kind = Kind::kProgress;
  std::string provider_id;      // MessageSid: what SendOutcome::provider_id held
  std::string provider_status;  // MessageStatus as Twilio wrote it
  std::string to;
  std::string error_code;  // ErrorCode, e.g. "30005"; empty if none
  std::string error;       // "30005: Unknown destination handset"
  // The number can never receive (unknown or landline number, recipient unsubscribed at the
  // carrier): suppress it rather than retry.
  bool hard_bounce = false;
};

// A status callback: form body with MessageSid, MessageStatus, ErrorCode, To...
Result<DeliveryReceipt> ParseTwilioStatusCallback(std::string_view auth_token, std::string_view url,
                                                  std::string_view body,
                                                  std::string_view signature_header);

struct InboundSms {
  std::string provider_id;  // MessageSid
  std::string from;         // the member's phone, E.164 as Twilio sends it
  std::string to;           // our number
  std::string body;
  InboundKeyword keyword = InboundKeyword::kNone;
};

// An incoming SMS webhook: form body with MessageSid, From, To, Body. The keyword is Body's
// (ClassifyInboundKeyword), unless Twilio's Advanced Opt-Out sent its own verdict
// (OptOutType STOP / START / HELP), which wins.
Result<InboundSms> ParseTwilioInbound(std::string_view auth_token, std::string_view url,
                                      std::string_view body, std::string_view signature_header);

// ---- LINE ------------------------------------------------------------------------------------

// X-Line-Signature: base64(HMAC-SHA256(channel_secret, raw body)).
std::string LineSignature(std::string_view channel_secret, std::string_view body);
Status VerifyLineSignature(std::string_view channel_secret, std::string_view body,
                           std::string_view signature_header);

struct LineEvent {
  enum class Kind { kFollow, kUnfollow, kMessage, kOther } kind = Kind::kOther;
  std::string type;     // LINE's event type ("unfollow", "follow", "message", ...)
  std::string user_id;  // source.userId; empty for group sources without one
  Micros timestamp = 0;
  std::string webhook_event_id;  // stable across LINE's redeliveries: dedup on it
  bool redelivery = false;
  std::string text;                                // text messages only
  InboundKeyword keyword = InboundKeyword::kNone;  // of `text`

  // The member withdrew consent for LINE: unfollowed (blocked) the account, or texted STOP.
  bool opt_out() const { return kind == Kind::kUnfollow || keyword == InboundKeyword::kOptOut; }
};

struct LineWebhook {
  std::string destination;  // the bot's user id
  std::vector<LineEvent> events;
};

Result<LineWebhook> ParseLineWebhook(std::string_view channel_secret, std::string_view body,
                                     std::string_view signature_header);

}  // namespace regulars::messaging
