#pragma once

// Transactional messages from the event log: an e-receipt after an order, a receipt after a
// wallet top-up, a tier change, a coupon received (points expiring soon has a kind, a default
// template and a setting, but nothing enqueues it yet: the daily sweep does not report it). The
// merchant switches each kind on in the messaging settings and may pick its own template; otherwise
// the kind's default template (one variant per language, created on first use and editable like any
// other) is used.
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

// ---- Storage of channels, templates and settings (migration 10's tables) --------------------
// Stand-ins for messaging_repo.h (the console and the routes need them now); the SQL follows
// the house rules: merchant first in every filter, written once for both databases.

struct ChannelRecord {
  Id merchant_id = 0;
  Id id = 0;
  ChannelKind kind = ChannelKind::kLog;
  std::string name;
  nlohmann::json settings = nlohmann::json::object();
  std::optional<std::string> sealed_secrets;  // SecretBox::SealJson of the secrets, or none
  bool active = true;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct TemplateRecord {
  Template t;
  Micros created_at = 0;
  Micros updated_at = 0;
};

Result<std::vector<ChannelRecord>> RepoListChannels(store::Tx& tx, Id merchant_id);
// not_found "channel not found".
Result<ChannelRecord> RepoGetChannel(store::Tx& tx, Id merchant_id, Id id);
// Provider callbacks name a channel by its id alone (ids are unique across merchants).
Result<ChannelRecord> RepoGetChannelAnyMerchant(store::Tx& tx, Id id);
// The first active channel of the medium; a log channel only when no real one is set up.
Result<std::optional<Id>> RepoFirstChannel(store::Tx& tx, Id merchant_id, Medium medium);
// already_exists naming "name" for a name in use.
Result<ChannelRecord> RepoCreateChannel(store::Tx& tx, const accounts::Actor& a, ChannelRecord c,
                                        const nlohmann::json& secrets, const SecretBox& box);
Result<ChannelRecord> RepoUpdateChannel(store::Tx& tx, const accounts::Actor& a, ChannelRecord c,
                                        const nlohmann::json& secrets, const SecretBox& box);
Result<std::vector<TemplateRecord>> RepoListTemplates(store::Tx& tx, Id merchant_id);
// not_found "template not found".
Result<TemplateRecord> RepoGetTemplate(store::Tx& tx, Id merchant_id, Id id);
Result<TemplateRecord> RepoCreateTemplate(store::Tx& tx, const accounts::Actor& a, Template t);
Result<TemplateRecord> RepoUpdateTemplate(store::Tx& tx, const accounts::Actor& a,
                                          const Template& t);
// The merchant's settings object: messaging_repo.h GetSettingsJson / PutMessagingSettings.

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
