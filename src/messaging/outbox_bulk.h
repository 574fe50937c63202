#pragma once

// Bulk enqueue: one template rendered for many members and queued in a few statements, for
// campaigns and segment sends. It writes what calling Enqueue once per message, in order, would
// write — the same outbox rows and, as Enqueue, no event (the row is the "queued" step of the
// member timeline, messaging/member_timeline.h) — apart from the ids NewId hands out. What makes it
// fast: the template's variants are compiled once and the members' variables are bound by position
// (CompiledTemplate::Bind, no JSON context per member); rows go in as multi-row INSERTs through
// the drivers' cached prepared statements; a message whose dedup key exists already is left
// out by the INSERT itself (ON CONFLICT DO NOTHING, no probe first), so a second run of the
// same batch enqueues nothing.
//
// Send-time decisions (consent, suppression, quiet hours, caps) are not taken here: as with
// Enqueue, the sender applies policy.h's Decide to every row it claims, so bulk rows meet the
// same rules.
//
// Transactions: everything happens in the caller's transaction; a batch of 10k-50k messages per
// transaction keeps the commit cost low and the memory bounded (every message of the batch is
// held rendered until its rows are written).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "messaging/outbox.h"
#include "messaging/template.h"
#include "store/db.h"

namespace regulars::messaging {

struct BulkEnqueued {
  int64_t created = 0;
  int64_t existing = 0;  // dedup key already in the outbox, or earlier in the same batch
  // The ids of the created messages, in message order.
  std::vector<Id> ids;
};

// Enqueues already rendered messages as Enqueue would, one after the other. A message whose
// dedup key is taken (in the outbox or earlier in `messages`) is skipped and counted, as
// Enqueue returns the first message unchanged. Validation comes first: the first invalid
// message fails the whole call (its index in the field: "messages[3].recipient"), nothing
// written.
Result<BulkEnqueued> EnqueueMany(store::Tx& tx, Id merchant_id, Micros now,
                                 std::span<const NewMessage> messages,
                                 std::string_view actor = "system");

// One member of a bulk send: the address, the dedup key, the language and the values of the
// variables the request binds, in the order of BulkRequest::variables (nullopt = null).
struct BulkMember {
  Id member_id = 0;
  std::string dedup_key;  // e.g. "campaign:<id>:<member id>"
  std::string recipient;
  std::string language;  // the member's language; "" = none (the merchant's applies)
  std::vector<std::optional<std::string>> values;
};

struct BulkRequest {
  // Rendered with Bind/RenderBound; EnqueueBatch binds it (replacing an earlier binding). Not
  // owned; one caller at a time.
  CompiledTemplate* tmpl = nullptr;
  Id channel_id = 0;
  std::string merchant_language;
  // The variables each member supplies (member.name, unsubscribe_url, ...) and the context
  // everyone shares (merchant.*).
  std::vector<std::string> variables;
  nlohmann::json shared = nlohmann::json::object();
  int64_t sms_price_minor = 0;  // SMS: cost_minor = parts × this
  int max_attempts = 8;
  std::optional<Micros> not_before;
  std::string actor = "system";  // not recorded, as Enqueue's (outbox.h)
};

// Renders `tmpl` for every member into the messages EnqueueBatch would enqueue, outside any
// transaction (a caller may render the next batch while the database writes this one). Errors
// as EnqueueBatch's for rendering.
Result<std::vector<NewMessage>> RenderBatch(const BulkRequest& req,
                                            std::span<const BulkMember> members);

// Renders `tmpl` for every member (the variant of the member's language, as Compose picks it)
// and enqueues the messages with EnqueueMany: medium and purpose from the template,
// template_id its id (none when 0), headers and SMS cost from the rendering. Errors: those of
// Bind (naming "variables[i]"), RenderBound and EnqueueMany, with the member's index
// ("members[12].values").
Result<BulkEnqueued> EnqueueBatch(store::Tx& tx, Id merchant_id, Micros now, const BulkRequest& req,
                                  std::span<const BulkMember> members);

// The second half of EnqueueBatch, for messages RenderBatch made from `req`'s members (errors
// name "members[i]"). The messages are copied, never consumed: the transaction may run again.
Result<BulkEnqueued> EnqueueRendered(store::Tx& tx, Id merchant_id, Micros now,
                                     const BulkRequest& req, std::span<const NewMessage> messages);
// The same without copying the texts: `messages` is lent to the call, which moves each
// statement's recipients, subjects, texts and HTML into its parameters and back right after
// it, also when it fails. The messages are unchanged when it returns (success or error), so
// the transaction may run again; nothing else may use them meanwhile.
Result<BulkEnqueued> EnqueueRendered(store::Tx& tx, Id merchant_id, Micros now,
                                     const BulkRequest& req, std::vector<NewMessage>& messages);

}  // namespace regulars::messaging
