#pragma once

// Transactional messages: from the event log an e-receipt after an order, a receipt after a
// wallet top-up, a tier change, a coupon received; from a daily job (EnqueuePointsExpiring) the
// points about to expire. The merchant switches each kind on in the messaging settings and may
// pick its own template; otherwise the kind's default template (one variant per language, created
// on first use and editable like any other) is used.
//
// TransactionalConsumer is an events::Consumer: it runs inside the dispatcher's transaction and
// enqueues into the outbox in that same transaction, so with the durable cursor each event
// yields its message exactly once; the dedup key ("receipt:<order id>") makes a replay (a
// renamed consumer, a re-run) enqueue nothing new either.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "events/dispatcher.h"
#include "events/event.h"
#include "messaging/outbox.h"
#include "messaging/secrets.h"
#include "messaging/template.h"
#include "store/db.h"

namespace regulars::messaging {

enum class TransactionalKind { kReceipt, kTopUp, kPointsExpiring, kTierChanged, kCouponIssued };
inline constexpr TransactionalKind kTransactionalKinds[] = {
    TransactionalKind::kReceipt, TransactionalKind::kTopUp, TransactionalKind::kPointsExpiring,
    TransactionalKind::kTierChanged, TransactionalKind::kCouponIssued};

// Wire names: "receipt", "top_up", "points_expiring", "tier_changed", "coupon_issued".
std::string_view TransactionalKindName(TransactionalKind k);
std::optional<TransactionalKind> ParseTransactionalKind(std::string_view s);

// One message an event asks for: whom, which kind, the dedup key that makes it once-only, and
// the template variables the event supplies (the member's and shop's are added when rendering).
struct TransactionalRequest {
  TransactionalKind kind = TransactionalKind::kReceipt;
  Id member_id = 0;
  std::string dedup_key;  // "receipt:<order id>", "top_up:<entry id>", "tier:<event id>", ...
  nlohmann::json variables = nlohmann::json::object();
};

// Pure: the message `e` asks for, or nullopt (an event of another type, one without a member,
// or an order of no value). Variables carry amounts both as `*_minor` and as display strings
// such as "1,234 TWD".
std::optional<TransactionalRequest> TransactionalFor(const events::Event& e);

// The default template of a kind in one language: subject (e-mail), text and HTML. Variables
// are Mustache: {{member.name}}, {{merchant.name}}, {{order.total}}, {{points.earned}}, ...
struct DefaultVariant {
  std::string subject, text, html;
};
DefaultVariant DefaultTemplate(TransactionalKind k, std::string_view language);

// A display string for a money amount: "1,234 TWD", "12.50 USD".
std::string FormatAmount(int64_t minor, std::string_view currency);

// Channels, templates and the settings object are stored through messaging_repo.h.

// ---- Unsubscribe links ----------------------------------------------------------------------

// What an unsubscribe link stands for: one member's marketing on one medium, at one address.
struct UnsubscribeClaim {
  Id merchant_id = 0;
  Id member_id = 0;
  Medium medium = Medium::kEmail;
  std::string address;
};
// The token in /u/<token>: the claim sealed by the server's SecretBox (so it is both signed
// and unreadable), as URL-safe text. Tokens never expire: a link in an old e-mail still works.
std::string UnsubscribeToken(const SecretBox& box, const UnsubscribeClaim& c);
// invalid_argument "token: not a valid unsubscribe link" for anything the box did not seal.
Result<UnsubscribeClaim> ParseUnsubscribeToken(const SecretBox& box, std::string_view token);

// ---- Composing one message -------------------------------------------------------------------

struct ComposeRequest {
  Id member_id = 0;
  const Template* tmpl = nullptr;
  Id channel_id = 0;
  std::string dedup_key;
  nlohmann::json variables = nlohmann::json::object();  // merged over BuildContext's
  std::optional<Id> order_id, coupon_id;                // for BuildContext
  // "http://host:port": the unsubscribe link's origin. With `box`, e-mail and SMS get
  // {{unsubscribe_url}} and (e-mail marketing) List-Unsubscribe headers.
  std::string base_url;
  const SecretBox* box = nullptr;
  int64_t sms_price_minor = 0;
};
// Renders `tmpl` for the member in their language and addresses it by the template's medium
// (e-mail, E.164 phone, LINE user id, member id for webhooks). failed_precondition naming
// "member_id" when the member has no address for the medium or was erased.
Result<NewMessage> Compose(store::Tx& tx, const accounts::Merchant& merchant, Micros now,
                           const ComposeRequest& req);

// The name of a kind's default template ("Default: e-receipt"), e-mail, in three languages.
std::string DefaultTemplateName(TransactionalKind k);

// Enqueues the message `req` asks for, if the merchant enabled its kind: the merchant's chosen
// template or the kind's default (created on first use), the first active channel of the
// template's medium. Returns whether a message was enqueued (false: kind off, no channel, the
// member has no address for it, or a message with this dedup key exists already).
Result<bool> EnqueueTransactional(store::Tx& tx, Id merchant_id, Micros now,
                                  const TransactionalRequest& req, const SecretBox* box,
                                  const std::string& base_url);

// ---- Points about to expire ------------------------------------------------------------------

// settings.transactional.points_expiring.days_before: how many local days ahead of a lot's last
// day the member is told. 1..60, default 7.
inline constexpr int kDefaultPointsExpiringDaysBefore = 7;
inline constexpr int kMaxPointsExpiringDaysBefore = 60;
// The job enqueues nothing before this local hour, so no one is texted at midnight.
inline constexpr int kPointsExpiringEarliestHour = 9;

// "points_expiring:<member id>:<point type id>:<YYYY-MM-DD>": one message per member, point type
// and last local day of the lots (a lot expiring at local midnight D+1 has last day D).
std::string PointsExpiringDedupKey(Id member_id, Id point_type_id, const Date& last_day);

// The daily "points about to expire" job, for every merchant that switched points_expiring on:
// from kPointsExpiringEarliestHour local time, each member's open lots (remaining > 0) of one
// point type whose last local day is today .. today + days_before are told in one message, with
// {{points.expiring}} (their remaining points), {{points.expires_on}} (the last day, YYYY-MM-DD),
// {{points.type}} / {{points.type_name}} and {{points.balance}} (the type's balance now). The
// dedup key (PointsExpiringDedupKey) makes every run after the first enqueue nothing for the same
// lots, and a missed day is caught up by the next run. Erased and merged-away members are left
// out; a member without an address for the template's medium gets nothing. At most
// `max_per_merchant` messages per merchant per run. Returns the number enqueued. Run it as often
// as convenient (the server: hourly); several servers may run it at once.
Result<int64_t> EnqueuePointsExpiring(store::Tx& tx, Micros now, const SecretBox* box,
                                      const std::string& base_url, int max_per_merchant = 10'000);

class TransactionalConsumer : public events::Consumer {
 public:
  // `box` seals unsubscribe links (may be null: none); `base_url` is their origin. Both must
  // outlive the consumer.
  TransactionalConsumer(const SecretBox* box, std::string base_url)
      : box_(box), base_url_(std::move(base_url)) {}
  std::string name() const override { return "messaging.transactional"; }
  Status Handle(store::Tx& tx, const events::Event& event) override;

 private:
  const SecretBox* box_;
  std::string base_url_;
};

}  // namespace regulars::messaging
