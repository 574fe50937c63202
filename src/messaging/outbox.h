#pragma once

// The outbox: one row per logical message, identified per merchant by its dedup key. Sender
// workers lease due rows (Claim), call the provider, and record the outcome (Complete, Retry,
// Defer, Skip, Suppress). Every status change after the enqueue except `sent` appends a member
// event in the same transaction: message_delivered, message_failed, message_deferred,
// message_skipped, message_suppressed, and message_retry_scheduled (a temporary error; the row
// goes back to queued with a later next_attempt_at). The enqueue and `sent` append none: the row
// records them (created_at, channel, template, subject; sent_at, provider_id, attempts) and the
// member timeline shows them as message_queued and message_sent entries
// (messaging/member_timeline.h). message_sent events written before that change stay in the
// event feed; the timeline leaves them out (the row stands for them).
//
// Exactly-once across a crash: Claim commits `sending` (with a lease) before the provider is
// called and Complete commits `sent` after it. A worker that dies in between leaves a `sending`
// row whose lease expires; the next Claim takes it again and the retry reaches the provider with
// the same identity (DeliveryIdentity of the dedup key), which receivers deduplicate.
//
// Writers of a finished attempt must still hold the lease: Complete/Retry/Defer/Skip/Suppress
// match (id, status 'sending', lease_owner) and return failed_precondition "lease lost" otherwise
// (another worker took the message after the lease ran out).
//
// Claim and the writers of an attempt's outcome take store::WriteOptions: durable by default; the
// sender commits them relaxed (store/db.h; why that is safe: messaging/sender.h). Enqueue runs in
// the caller's transaction, which must be durable: the message itself must survive power loss.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "base/time.h"
#include "messaging/channel.h"
#include "messaging/policy.h"
#include "store/db.h"

namespace regulars::messaging {

enum class MessageStatus {
  kQueued,
  kSending,
  kSent,
  kDelivered,
  kFailed,
  kDeferred,
  kSkipped,
  kSuppressed
};
std::string_view MessageStatusName(MessageStatus s);  // "queued", "sending", ...
std::optional<MessageStatus> ParseMessageStatus(std::string_view s);

struct NewMessage {
  std::string dedup_key;  // required, at most 200 bytes; unique per merchant
  std::optional<Id> member_id;
  Id channel_id = 0;
  Medium medium = Medium::kEmail;
  Purpose purpose = Purpose::kTransactional;
  std::optional<Id> template_id;
  std::string recipient;  // required
  std::string subject;
  std::string text;
  std::string html;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<int64_t> cost_minor;  // SMS: parts × the merchant's price per part
  int max_attempts = 8;               // 1..50
  std::optional<Micros> not_before;   // first attempt no earlier than this
};

struct Message {
  Id merchant_id = 0;
  Id id = 0;
  std::string dedup_key;
  std::optional<Id> member_id;
  Id channel_id = 0;
  Medium medium = Medium::kEmail;
  Purpose purpose = Purpose::kTransactional;
  std::optional<Id> template_id;
  std::string recipient;
  std::string subject;
  std::string text;
  std::string html;
  std::vector<std::pair<std::string, std::string>> headers;
  MessageStatus status = MessageStatus::kQueued;
  int attempts = 0;  // provider calls started (Claim counts them)
  int max_attempts = 8;
  Micros next_attempt_at = 0;
  std::optional<std::string> lease_owner;
  std::optional<Micros> lease_until;
  std::optional<std::string> provider_id;
  std::optional<std::string> last_error;
  std::optional<int64_t> cost_minor;
  Micros created_at = 0;
  Micros updated_at = 0;
  std::optional<Micros> sent_at;
  std::optional<Micros> delivered_at;

  // What the channel receives; dedup_key becomes "<merchant_id>/<dedup key>".
  Envelope ToEnvelope() const;
};

struct Enqueued {
  Message message;
  bool created = false;  // false: the dedup key existed and `message` is the first one
};

// The checks Enqueue (and outbox_bulk.h) make on a message: invalid_argument naming dedup_key
// (required, at most 200 bytes), recipient (required), channel_id (required) or max_attempts
// (1..50).
Status ValidateNewMessage(const NewMessage& m);

// The outbox's headers column. Most rows carry exactly the two headers a marketing e-mail
// gets (template.h): List-Unsubscribe "<URL>" and List-Unsubscribe-Post
// "List-Unsubscribe=One-Click"; they are stored as {"unsubscribe":"URL"} (about 30 bytes
// instead of 110). Any other list is stored as before, a JSON array of [name, value] pairs
// ([] when empty). DecodeHeaders(EncodeHeaders(h)) == h for every h; DecodeHeaders reads both
// forms (rows written before the short one included) and yields no headers for anything else.
// Appends `s` as a JSON string literal exactly as nlohmann::json::dump writes it (printable ASCII
// without quotes or backslashes is copied; anything else is left to nlohmann itself).
void AppendJsonString(std::string& out, std::string_view s);
std::string EncodeHeaders(const std::vector<std::pair<std::string, std::string>>& headers);
std::vector<std::pair<std::string, std::string>> DecodeHeaders(std::string_view stored);

// Inserts a queued message in the caller's transaction, or returns the existing message with
// the same dedup key unchanged. invalid_argument naming the field for a missing
// dedup_key/recipient or out-of-range max_attempts. No event is appended: the outbox row is the
// "queued" step of the member's timeline (MemberQueuedEntries, messaging/member_timeline.h), so
// the event feed carries no message_queued. `actor` is not recorded (the row has no actor
// column; the timeline shows the queued step as "system").
Result<Enqueued> Enqueue(store::Tx& tx, Id merchant_id, Micros now, const NewMessage& m,
                         std::string_view actor = "system");

// Leases up to `n` due messages to `worker` until now + lease: queued or deferred rows whose
// next_attempt_at has come, and sending rows whose lease has expired. Marks them sending and
// counts the attempt, in one committed transaction. PostgreSQL: FOR UPDATE SKIP LOCKED, so
// concurrent workers take disjoint rows; SQLite: the single writer serialises claims.
Result<std::vector<Message>> Claim(store::Database& db, int n, std::string_view worker,
                                   Micros lease, Micros now, const store::WriteOptions& wo = {});

// sending -> sent, recording the provider's id and sent_at (no event: the row is the step).
Status Complete(store::Database& db, const Message& m, std::string_view worker,
                std::string_view provider_id, Micros now, const store::WriteOptions& wo = {});

// Several sending -> sent in ONE committed transaction (one commit, one fsync, for messages
// delivered by one or several workers). Each message is checked under its own lease (its
// `worker`): one whose lease is lost gets failed_precondition "lease lost: ..." in its slot and is
// left unchanged; the others are written. The result has one Status per entry of `done`, in
// order; an error of the transaction itself (database unavailable) is the Result's error and then
// nothing is written. Whoever groups deliveries widens the crash window: a crash before the
// commit re-delivers every message of the group (with the same identity; see the file comment).
struct Delivered {
  Message message;
  std::string worker;  // the lease owner that delivered it
  std::string provider_id;
  Micros sent_at = 0;  // when the provider accepted it (the row's sent_at: the timeline's step)
};
Result<std::vector<Status>> CompleteMany(store::Database& db, const std::vector<Delivered>& done,
                                         Micros now, const store::WriteOptions& wo = {});

struct RetryPolicy {
  Micros base = 30 * kMicrosPerSecond;     // first retry after about this long
  Micros max = 3600 * kMicrosPerSecond;    // never longer than this
  double jitter = 0.2;                     // the delay is scaled by a uniform factor in 1±jitter
  Micros max_retry_after = kMicrosPerDay;  // a provider's Retry-After is honoured up to this
};
// The delay before retry number `attempt` (1 = after the first failed attempt): base·2^(a-1)
// capped at max, times (1 - jitter + 2·jitter·u) for u in [0, 1).
Micros BackoffDelay(const RetryPolicy& p, int attempt, double u);

// A failed attempt. kPermanent -> failed. kTemporary/kThrottled -> failed when attempts reached
// max_attempts, else queued at now + (retry_after when given, capped) or BackoffDelay(u).
// Returns the new status.
Result<MessageStatus> Retry(store::Database& db, const Message& m, std::string_view worker,
                            const SendOutcome& outcome, Micros now, const RetryPolicy& p, double u,
                            const store::WriteOptions& wo = {});

// Policy outcomes at send time. Defer gives the attempt back (it did not reach a provider).
Status Defer(store::Database& db, const Message& m, std::string_view worker, Micros until,
             std::string_view reason, Micros now, const store::WriteOptions& wo = {});
Status Skip(store::Database& db, const Message& m, std::string_view worker, std::string_view reason,
            Micros now, const store::WriteOptions& wo = {});
Status Suppress(store::Database& db, const Message& m, std::string_view worker,
                std::string_view reason, Micros now, const store::WriteOptions& wo = {});

// A provider receipt for (channel, provider id): delivered -> delivered; failed -> failed;
// bounced -> failed plus a `bounced` suppression of the recipient on that medium. NotFound when
// no message has that provider id. A receipt for a message already delivered/failed is ignored
// (returns the current status).
enum class ReceiptKind { kDelivered, kFailed, kBounced };
Result<MessageStatus> ApplyReceipt(store::Tx& tx, Id channel_id, std::string_view provider_id,
                                   ReceiptKind kind, std::string_view error, Micros now);

// Suppressions (hard bounces for everything; unsubscribes/complaints for marketing).
Status AddSuppression(store::Tx& tx, Id merchant_id, Medium medium, std::string_view address,
                      SuppressionReason reason, std::optional<Id> member_id, Micros now);
Result<std::optional<SuppressionReason>> FindSuppression(store::Tx& tx, Id merchant_id,
                                                         Medium medium, std::string_view address);
// The same with the time the suppression was first recorded (policy.h rule 1).
struct SuppressionRecord {
  SuppressionReason reason;
  Micros created_at = 0;
};
Result<std::optional<SuppressionRecord>> FindSuppressionRecord(store::Tx& tx, Id merchant_id,
                                                               Medium medium,
                                                               std::string_view address);

// When the member's messages on `medium` were sent at or after `since` (for frequency caps).
Result<std::vector<Micros>> RecentSends(store::Tx& tx, Id merchant_id, Id member_id, Medium medium,
                                        Micros since);

Result<std::optional<Message>> GetMessage(store::Tx& tx, Id merchant_id, Id id);
Result<std::optional<Message>> GetMessageByDedupKey(store::Tx& tx, Id merchant_id,
                                                    std::string_view dedup_key);
// Newest first, id < before_id (0 = from the newest); optionally one member's / one status.
Result<std::vector<Message>> ListMessages(store::Tx& tx, Id merchant_id,
                                          std::optional<Id> member_id,
                                          std::optional<MessageStatus> status, Id before_id,
                                          int limit);

// A member's messages as the steps of their timeline that no event records: each row's
// "queued" step (at its created_at) and, once it was sent, its "sent" step (at its sent_at).
// Newest first by (at, id, step) with sent after queued, at or before `at_or_before` when given
// (the triple compared as one key), at most `limit`. Only the columns the timeline shows (no
// bodies).
enum class MessageStep { kQueued = 0, kSent = 1 };
struct QueuedPosition {
  Micros created_at = 0;  // the step's time: created_at (queued) or sent_at (sent)
  Id id = 0;
  MessageStep step = MessageStep::kQueued;
};
struct QueuedEntry {
  Id id = 0;
  MessageStep step = MessageStep::kQueued;
  std::string dedup_key;
  Id channel_id = 0;
  Medium medium = Medium::kEmail;
  Purpose purpose = Purpose::kTransactional;
  std::optional<Id> template_id;
  std::string subject;
  Micros created_at = 0;    // the step's time: created_at (queued) or sent_at (sent)
  std::string provider_id;  // sent steps
  int attempts = 0;         // sent steps: the provider calls it took
};
Result<std::vector<QueuedEntry>> MemberQueuedEntries(store::Tx& tx, Id merchant_id, Id member_id,
                                                     std::optional<QueuedPosition> at_or_before,
                                                     int limit);

// Member merge: re-points the messages of `from_member` at `to_member` in the caller's
// transaction, so they show on the survivor's timeline (as events::MoveMemberEvents does for the
// events) and count towards its frequency caps.
Status MoveMemberMessages(store::Tx& tx, Id merchant_id, Id from_member, Id to_member);

}  // namespace regulars::messaging
