#include "messaging/outbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

#include "events/event_repo.h"

namespace regulars::messaging {
namespace {

using store::Rows;
using store::Tx;
using store::Value;

constexpr std::array<std::pair<MessageStatus, std::string_view>, 8> kStatusNames = {{
    {MessageStatus::kQueued, "queued"},
    {MessageStatus::kSending, "sending"},
    {MessageStatus::kSent, "sent"},
    {MessageStatus::kDelivered, "delivered"},
    {MessageStatus::kFailed, "failed"},
    {MessageStatus::kDeferred, "deferred"},
    {MessageStatus::kSkipped, "skipped"},
    {MessageStatus::kSuppressed, "suppressed"},
}};

constexpr std::string_view kColumns =
    "merchant_id, id, dedup_key, member_id, channel_id, medium, purpose, template_id, recipient, "
    "subject, body_text, body_html, headers, status, attempts, max_attempts, next_attempt_at, "
    "lease_owner, lease_until, provider_id, last_error, cost_minor, created_at, updated_at, "
    "sent_at, delivered_at";

constexpr std::string_view kListUnsubscribe = "List-Unsubscribe";
constexpr std::string_view kListUnsubscribePost = "List-Unsubscribe-Post";
constexpr std::string_view kOneClick = "List-Unsubscribe=One-Click";

Message FromRow(const store::Row& r) {
  Message m;
  m.merchant_id = r.Int(0);
  m.id = r.Int(1);
  m.dedup_key = r.Str(2);
  m.member_id = r.OptInt(3);
  m.channel_id = r.Int(4);
  m.medium = ParseMedium(r.Str(5)).value_or(Medium::kEmail);
  m.purpose = ParsePurpose(r.Str(6)).value_or(Purpose::kTransactional);
  m.template_id = r.OptInt(7);
  m.recipient = r.Str(8);
  m.subject = r.Str(9);
  m.text = r.Str(10);
  m.html = r.Str(11);
  m.headers = DecodeHeaders(r.Str(12));
  m.status = ParseMessageStatus(r.Str(13)).value_or(MessageStatus::kQueued);
  m.attempts = static_cast<int>(r.Int(14));
  m.max_attempts = static_cast<int>(r.Int(15));
  m.next_attempt_at = r.Int(16);
  m.lease_owner = r.OptStr(17);
  m.lease_until = r.OptInt(18);
  m.provider_id = r.OptStr(19);
  m.last_error = r.OptStr(20);
  m.cost_minor = r.OptInt(21);
  m.created_at = r.Int(22);
  m.updated_at = r.Int(23);
  m.sent_at = r.OptInt(24);
  m.delivered_at = r.OptInt(25);
  return m;
}

std::vector<Message> FromRows(const Rows& rows) {
  std::vector<Message> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Status AppendMessageEvent(Tx& tx, const Message& m, std::string_view type, Micros now,
                          nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json data = {{"message_id", IdToString(m.id)},
                         {"dedup_key", m.dedup_key},
                         {"medium", MediumName(m.medium)},
                         {"purpose", PurposeName(m.purpose)},
                         {"channel_id", IdToString(m.channel_id)}};
  for (auto& [k, v] : extra.items()) data[k] = v;
  RG_TRY(
      events::AppendEvent(tx, m.merchant_id, now,
                          events::NewEvent{std::string(type), m.member_id, "system", data.dump()}));
  return {};
}

// Runs `fn` on the message row if the worker still holds its lease, then appends the event.
Status UnderLease(store::Database& db, const Message& m, std::string_view worker,
                  const store::WriteOptions& wo, const std::function<Status(Tx&)>& fn) {
  return db.Write(wo, [&](Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(
        Rows rows,
        tx.Query("SELECT status, lease_owner FROM outbox WHERE merchant_id = ? AND id = ?",
                 {m.merchant_id, m.id}));
    if (rows.empty()) return Fail(Code::kNotFound, "message not found", "message_id");
    if (rows[0].Str(0) != "sending" || rows[0].Str(1) != worker)
      return Fail(Code::kFailedPrecondition,
                  fmt::format("lease lost: message {} is {} (lease owner {})", m.id, rows[0].Str(0),
                              rows[0].Str(1)),
                  "message_id");
    return fn(tx);
  });
}

}  // namespace

std::string_view MessageStatusName(MessageStatus s) {
  for (const auto& [st, name] : kStatusNames)
    if (st == s) return name;
  return "queued";
}

std::optional<MessageStatus> ParseMessageStatus(std::string_view s) {
  for (const auto& [st, name] : kStatusNames)
    if (name == s) return st;
  return std::nullopt;
}

Envelope Message::ToEnvelope() const {
  Envelope e;
  e.message_id = id;
  e.dedup_key = fmt::format("{}/{}", merchant_id, dedup_key);
  e.to = recipient;
  e.subject = subject;
  e.text = text;
  e.html = html;
  e.headers = headers;
  return e;
}

void AppendJsonString(std::string& out, std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(),
                           [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; });
  if (plain) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
  } else {
    out.append(nlohmann::json(std::string(s)).dump());
  }
}

std::string EncodeHeaders(const std::vector<std::pair<std::string, std::string>>& h) {
  if (h.size() == 2 && h[0].first == kListUnsubscribe && h[1].first == kListUnsubscribePost &&
      h[1].second == kOneClick && h[0].second.size() >= 2 && h[0].second.front() == '<' &&
      h[0].second.back() == '>') {
    std::string_view url(h[0].second);
    std::string out = "{\"unsubscribe\":";
    AppendJsonString(out, url.substr(1, url.size() - 2));
    out.push_back('}');
    return out;
  }
  if (h.empty()) return "[]";
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [k, v] : h) j.push_back({k, v});
  return j.dump();
}

std::vector<std::pair<std::string, std::string>> DecodeHeaders(std::string_view stored) {
  std::vector<std::pair<std::string, std::string>> out;
  auto j = nlohmann::json::parse(stored, nullptr, false);
  if (j.is_object()) {
    auto url = j.find("unsubscribe");
    if (j.size() == 1 && url != j.end() && url->is_string()) {
      out.emplace_back(kListUnsubscribe, "<" + url->get<std::string>() + ">");
      out.emplace_back(kListUnsubscribePost, kOneClick);
    }
    return out;
  }
  if (!j.is_array()) return out;
  for (const auto& p : j)
    if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string())
      out.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  return out;
}

Status ValidateNewMessage(const NewMessage& n) {
  if (n.dedup_key.empty()) return InvalidField("dedup_key", "required");
  if (n.dedup_key.size() > 200) return InvalidField("dedup_key", "at most 200 bytes");
  if (n.recipient.empty()) return InvalidField("recipient", "required");
  if (n.channel_id <= 0) return InvalidField("channel_id", "required");
  if (n.max_attempts < 1 || n.max_attempts > 50)
    return InvalidField("max_attempts", "must be from 1 to 50");
  return {};
}

Result<Enqueued> Enqueue(Tx& tx, Id merchant_id, Micros now, const NewMessage& n,
                         std::string_view /*actor*/) {
  RG_TRY(ValidateNewMessage(n));
  RG_ASSIGN_OR_RETURN(auto existing, GetMessageByDedupKey(tx, merchant_id, n.dedup_key));
  if (existing) return Enqueued{std::move(*existing), false};

  Message m;
  m.merchant_id = merchant_id;
  m.id = NewId();
  m.dedup_key = n.dedup_key;
  m.member_id = n.member_id;
  m.channel_id = n.channel_id;
  m.medium = n.medium;
  m.purpose = n.purpose;
  m.template_id = n.template_id;
  m.recipient = n.recipient;
  m.subject = n.subject;
  m.text = n.text;
  m.html = n.html;
  m.headers = n.headers;
  m.status = MessageStatus::kQueued;
  m.max_attempts = n.max_attempts;
  m.next_attempt_at = std::max(now, n.not_before.value_or(now));
  m.cost_minor = n.cost_minor;
  m.created_at = now;
  m.updated_at = now;
  RG_TRY(tx.Exec(
      "INSERT INTO outbox (merchant_id, id, dedup_key, member_id, channel_id, medium, purpose, "
      "template_id, recipient, subject, body_text, body_html, headers, status, attempts, "
      "max_attempts, next_attempt_at, cost_minor, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)",
      {merchant_id, m.id, m.dedup_key, store::Opt(m.member_id), m.channel_id,
       std::string(MediumName(m.medium)), std::string(PurposeName(m.purpose)),
       store::Opt(m.template_id), m.recipient, m.subject, m.text, m.html, EncodeHeaders(m.headers),
       int64_t{m.max_attempts}, m.next_attempt_at, store::Opt(m.cost_minor), now, now}));
  // No message_queued event: the row itself is the "queued" step (outbox.h, member_timeline.h).
  return Enqueued{std::move(m), true};
}

Result<std::vector<Message>> Claim(store::Database& db, int n, std::string_view worker,
                                   Micros lease, Micros now, const store::WriteOptions& wo) {
  if (n <= 0) return std::vector<Message>{};
  return db.WriteValue(wo, [&](Tx& tx) -> Result<std::vector<Message>> {
    // One leg per status, each walking its index in order and stopping at `n` rows
    // (outbox_due for queued and deferred, outbox_lease for expired leases, which are few);
    // then the first `n` of those by next_attempt_at. A single WHERE with OR made SQLite
    // collect and sort every due row for each claim (quadratic over a large campaign).
    const bool pg = tx.dialect() == store::Dialect::kPostgres;
    auto leg = [&](std::string_view where, std::string_view alias) {
      return fmt::format(
          "SELECT merchant_id, id, next_attempt_at FROM (SELECT merchant_id, id, next_attempt_at "
          "FROM outbox WHERE {} ORDER BY next_attempt_at LIMIT ?{}) {}",
          where, pg ? " FOR UPDATE SKIP LOCKED" : "", alias);
    };
    std::string pick = fmt::format(
        "SELECT merchant_id, id FROM ({} UNION ALL {} UNION ALL {}) due "
        "ORDER BY next_attempt_at LIMIT ?",
        leg("status = 'queued' AND next_attempt_at <= ?", "q"),
        leg("status = 'deferred' AND next_attempt_at <= ?", "d"),
        leg("status = 'sending' AND lease_until <= ?", "s"));
    std::string sql = fmt::format(
        "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ?, "
        "attempts = attempts + 1, updated_at = ? WHERE (merchant_id, id) IN ({}) RETURNING {}",
        pick, kColumns);
    const int64_t limit = n;
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, {std::string(worker), now + lease, now, now, limit,
                                                  now, limit, now, limit, limit}));
    std::vector<Message> out = FromRows(rows);
    std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) {
      return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                    : a.id < b.id;
    });
    return out;
  });
}

Status Complete(store::Database& db, const Message& m, std::string_view worker,
                std::string_view provider_id, Micros now, const store::WriteOptions& wo) {
  return UnderLease(db, m, worker, wo, [&](Tx& tx) -> Status {
    RG_TRY(
        tx.Exec("UPDATE outbox SET status = 'sent', provider_id = ?, lease_owner = NULL, "
                "lease_until = NULL, last_error = NULL, sent_at = ?, updated_at = ? "
                "WHERE merchant_id = ? AND id = ?",
                {std::string(provider_id), now, now, m.merchant_id, m.id}));
    return Status{};  // no event: the row is the timeline's "sent" step (outbox.h)
  });
}

Result<std::vector<Status>> CompleteMany(store::Database& db, const std::vector<Delivered>& done,
                                         Micros now, const store::WriteOptions& wo) {
  std::vector<Status> out(done.size());
  if (done.empty()) return out;
  RG_TRY(db.Write(wo, [&](Tx& tx) -> Status {
    // The function may run again (PostgreSQL retries), so every slot is rewritten each time.
    for (size_t i = 0; i < done.size(); ++i) {
      const Message& m = done[i].message;
      // The lease check and the write in one statement: 1 row changed <=> still ours.
      RG_ASSIGN_OR_RETURN(
          int64_t changed,
          tx.Exec(
              "UPDATE outbox SET status = 'sent', provider_id = ?, lease_owner = NULL, "
              "lease_until = NULL, last_error = NULL, sent_at = ?, updated_at = ? "
              "WHERE merchant_id = ? AND id = ? AND status = 'sending' AND lease_owner = ?",
              {done[i].provider_id, done[i].sent_at, now, m.merchant_id, m.id, done[i].worker}));
      if (changed == 1) {  // no event: the row is the timeline's "sent" step (outbox.h)
        out[i] = {};
        continue;
      }
      RG_ASSIGN_OR_RETURN(
          Rows rows,
          tx.Query("SELECT status, lease_owner FROM outbox WHERE merchant_id = ? AND id = ?",
                   {m.merchant_id, m.id}));
      out[i] = rows.empty() ? Fail(Code::kNotFound, "message not found", "message_id")
                            : Fail(Code::kFailedPrecondition,
                                   fmt::format("lease lost: message {} is {} (lease owner {})",
                                               m.id, rows[0].Str(0), rows[0].Str(1)),
                                   "message_id");
    }
    return {};
  }));
  return out;
}

Micros BackoffDelay(const RetryPolicy& p, int attempt, double u) {
  double d = static_cast<double>(p.base) * std::pow(2.0, std::max(0, attempt - 1));
  d = std::min(d, static_cast<double>(p.max));
  d *= 1.0 - p.jitter + 2.0 * p.jitter * std::clamp(u, 0.0, 1.0);
  return static_cast<Micros>(d);
}

Result<MessageStatus> Retry(store::Database& db, const Message& m, std::string_view worker,
                            const SendOutcome& outcome, Micros now, const RetryPolicy& p, double u,
                            const store::WriteOptions& wo) {
  MessageStatus result = MessageStatus::kFailed;
  RG_TRY(UnderLease(db, m, worker, wo, [&](Tx& tx) -> Status {
    bool permanent = outcome.kind == SendOutcome::Kind::kPermanent;
    if (permanent || m.attempts >= m.max_attempts) {
      result = MessageStatus::kFailed;
      RG_TRY(
          tx.Exec("UPDATE outbox SET status = 'failed', lease_owner = NULL, lease_until = NULL, "
                  "last_error = ?, updated_at = ? WHERE merchant_id = ? AND id = ?",
                  {outcome.error, now, m.merchant_id, m.id}));
      return AppendMessageEvent(
          tx, m, "message_failed", now,
          {{"error", outcome.error}, {"permanent", permanent}, {"attempts", m.attempts}});
    }
    Micros delay = outcome.retry_after
                       ? std::clamp<Micros>(*outcome.retry_after, 0, p.max_retry_after)
                       : BackoffDelay(p, m.attempts, u);
    result = MessageStatus::kQueued;
    RG_TRY(tx.Exec(
        "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, "
        "last_error = ?, next_attempt_at = ?, updated_at = ? WHERE merchant_id = ? AND id = ?",
        {outcome.error, now + delay, now, m.merchant_id, m.id}));
    return AppendMessageEvent(tx, m, "message_retry_scheduled", now,
                              {{"error", outcome.error},
                               {"attempts", m.attempts},
                               {"next_attempt_at", FormatRfc3339(now + delay)}});
  }));
  return result;
}

Status Defer(store::Database& db, const Message& m, std::string_view worker, Micros until,
             std::string_view reason, Micros now, const store::WriteOptions& wo) {
  return UnderLease(db, m, worker, wo, [&](Tx& tx) -> Status {
    RG_TRY(
        tx.Exec("UPDATE outbox SET status = 'deferred', lease_owner = NULL, lease_until = NULL, "
                "attempts = attempts - 1, next_attempt_at = ?, last_error = ?, updated_at = ? "
                "WHERE merchant_id = ? AND id = ?",
                {until, std::string(reason), now, m.merchant_id, m.id}));
    return AppendMessageEvent(tx, m, "message_deferred", now,
                              {{"reason", reason}, {"until", FormatRfc3339(until)}});
  });
}

namespace {
Status Finish(store::Database& db, const Message& m, std::string_view worker,
              std::string_view status, std::string_view event, std::string_view reason, Micros now,
              const store::WriteOptions& wo) {
  return UnderLease(db, m, worker, wo, [&](Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "UPDATE outbox SET status = ?, lease_owner = NULL, lease_until = NULL, "
        "attempts = attempts - 1, last_error = ?, updated_at = ? WHERE merchant_id = ? AND id = ?",
        {std::string(status), std::string(reason), now, m.merchant_id, m.id}));
    return AppendMessageEvent(tx, m, event, now, {{"reason", reason}});
  });
}
}  // namespace

Status Skip(store::Database& db, const Message& m, std::string_view worker, std::string_view reason,
            Micros now, const store::WriteOptions& wo) {
  return Finish(db, m, worker, "skipped", "message_skipped", reason, now, wo);
}

Status Suppress(store::Database& db, const Message& m, std::string_view worker,
                std::string_view reason, Micros now, const store::WriteOptions& wo) {
  return Finish(db, m, worker, "suppressed", "message_suppressed", reason, now, wo);
}

Result<MessageStatus> ApplyReceipt(Tx& tx, Id channel_id, std::string_view provider_id,
                                   ReceiptKind kind, std::string_view error, Micros now) {
  if (provider_id.empty()) return InvalidField("provider_id", "required");
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM outbox WHERE channel_id = ? AND "
                                           "provider_id = ?",
                                           kColumns),
                               {channel_id, std::string(provider_id)}));
  if (rows.empty())
    return Fail(Code::kNotFound, "no message with this provider id on this channel", "provider_id");
  Message m = FromRow(rows[0]);
  if (m.status == MessageStatus::kDelivered || m.status == MessageStatus::kFailed) return m.status;
  if (kind == ReceiptKind::kDelivered) {
    RG_TRY(
        tx.Exec("UPDATE outbox SET status = 'delivered', delivered_at = ?, updated_at = ? "
                "WHERE merchant_id = ? AND id = ?",
                {now, now, m.merchant_id, m.id}));
    RG_TRY(AppendMessageEvent(tx, m, "message_delivered", now));
    return MessageStatus::kDelivered;
  }
  RG_TRY(
      tx.Exec("UPDATE outbox SET status = 'failed', last_error = ?, updated_at = ? "
              "WHERE merchant_id = ? AND id = ?",
              {std::string(error), now, m.merchant_id, m.id}));
  RG_TRY(AppendMessageEvent(
      tx, m, "message_failed", now,
      {{"error", error}, {"permanent", true}, {"bounced", kind == ReceiptKind::kBounced}}));
  if (kind == ReceiptKind::kBounced)
    RG_TRY(AddSuppression(tx, m.merchant_id, m.medium, m.recipient, SuppressionReason::kBounced,
                          m.member_id, now));
  return MessageStatus::kFailed;
}

Status AddSuppression(Tx& tx, Id merchant_id, Medium medium, std::string_view address,
                      SuppressionReason reason, std::optional<Id> member_id, Micros now) {
  if (address.empty()) return InvalidField("address", "required");
  // A bounce overrides an unsubscribe (it blocks more); otherwise the first reason stays.
  RG_TRY(
      tx.Exec("INSERT INTO message_suppressions (merchant_id, medium, address, reason, member_id, "
              "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id, medium, address) DO "
              "UPDATE SET reason = CASE WHEN excluded.reason = 'bounced' THEN 'bounced' ELSE "
              "message_suppressions.reason END",
              {merchant_id, std::string(MediumName(medium)), std::string(address),
               std::string(SuppressionReasonName(reason)), store::Opt(member_id), now}));
  return {};
}

Result<std::optional<SuppressionRecord>> FindSuppressionRecord(Tx& tx, Id merchant_id,
                                                               Medium medium,
                                                               std::string_view address) {
  RG_ASSIGN_OR_RETURN(
      Rows rows, tx.Query("SELECT reason, created_at FROM message_suppressions WHERE "
                          "merchant_id = ? AND medium = ? AND address = ?",
                          {merchant_id, std::string(MediumName(medium)), std::string(address)}));
  if (rows.empty()) return std::optional<SuppressionRecord>{};
  std::optional<SuppressionReason> reason = ParseSuppressionReason(rows[0].Str(0));
  if (!reason) return std::optional<SuppressionRecord>{};
  return std::optional<SuppressionRecord>{SuppressionRecord{*reason, rows[0].Int(1)}};
}

Result<std::optional<SuppressionReason>> FindSuppression(Tx& tx, Id merchant_id, Medium medium,
                                                         std::string_view address) {
  RG_ASSIGN_OR_RETURN(auto record, FindSuppressionRecord(tx, merchant_id, medium, address));
  if (!record) return std::optional<SuppressionReason>{};
  return std::optional<SuppressionReason>{record->reason};
}

Result<std::vector<Micros>> RecentSends(Tx& tx, Id merchant_id, Id member_id, Medium medium,
                                        Micros since) {
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query("SELECT sent_at FROM outbox WHERE merchant_id = ? AND "
                               "member_id = ? AND medium = ? AND sent_at >= ? ORDER BY sent_at",
                               {merchant_id, member_id, std::string(MediumName(medium)), since}));
  std::vector<Micros> out;
  for (const auto& r : rows) out.push_back(r.Int(0));
  return out;
}

Result<std::optional<Message>> GetMessage(Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM outbox WHERE merchant_id = ? AND id = ?", kColumns),
               {merchant_id, id}));
  if (rows.empty()) return std::optional<Message>{};
  return FromRow(rows[0]);
}

Result<std::optional<Message>> GetMessageByDedupKey(Tx& tx, Id merchant_id,
                                                    std::string_view dedup_key) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(
          fmt::format("SELECT {} FROM outbox WHERE merchant_id = ? AND dedup_key = ?", kColumns),
          {merchant_id, std::string(dedup_key)}));
  if (rows.empty()) return std::optional<Message>{};
  return FromRow(rows[0]);
}

Result<std::vector<Message>> ListMessages(Tx& tx, Id merchant_id, std::optional<Id> member_id,
                                          std::optional<MessageStatus> status, Id before_id,
                                          int limit) {
  std::string sql = fmt::format("SELECT {} FROM outbox WHERE merchant_id = ?", kColumns);
  std::vector<Value> params = {merchant_id};
  if (member_id) {
    sql += " AND member_id = ?";
    params.push_back(*member_id);
  }
  if (status) {
    sql += " AND status = ?";
    params.push_back(std::string(MessageStatusName(*status)));
  }
  if (before_id > 0) {
    sql += " AND id < ?";
    params.push_back(before_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.push_back(int64_t{std::clamp(limit, 1, 1000)});
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  return FromRows(rows);
}

Result<std::vector<QueuedEntry>> MemberQueuedEntries(Tx& tx, Id merchant_id, Id member_id,
                                                     std::optional<QueuedPosition> at_or_before,
                                                     int limit) {
  // Both steps of each row as one stream: (step_at, step) is (created_at, 0) for every row and
  // (sent_at, 1) for a row that was sent.
  constexpr std::string_view kStep =
      "SELECT id, dedup_key, channel_id, medium, purpose, template_id, subject, "
      "{} AS step_at, {} AS step, provider_id, attempts "
      "FROM outbox WHERE merchant_id = ? AND member_id = ?{}";
  std::string sql = fmt::format(
      "SELECT id, dedup_key, channel_id, medium, purpose, template_id, subject, step_at, step, "
      "provider_id, attempts FROM ({} UNION ALL {}) steps",
      fmt::format(kStep, "created_at", 0, ""),
      fmt::format(kStep, "sent_at", 1, " AND sent_at IS NOT NULL"));
  std::vector<Value> params = {merchant_id, member_id, merchant_id, member_id};
  if (at_or_before) {
    const int64_t step = static_cast<int64_t>(at_or_before->step);
    sql += " WHERE step_at < ? OR (step_at = ? AND (id < ? OR (id = ? AND step <= ?)))";
    params.insert(params.end(), {at_or_before->created_at, at_or_before->created_at,
                                 at_or_before->id, at_or_before->id, step});
  }
  sql += " ORDER BY step_at DESC, id DESC, step DESC LIMIT ?";
  params.push_back(int64_t{std::max(limit, 0)});
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  std::vector<QueuedEntry> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    QueuedEntry q;
    q.id = r.Int(0);
    q.dedup_key = r.Str(1);
    q.channel_id = r.Int(2);
    q.medium = ParseMedium(r.Str(3)).value_or(Medium::kEmail);
    q.purpose = ParsePurpose(r.Str(4)).value_or(Purpose::kTransactional);
    q.template_id = r.OptInt(5);
    q.subject = r.Str(6);
    q.created_at = r.Int(7);
    q.step = r.Int(8) == 1 ? MessageStep::kSent : MessageStep::kQueued;
    q.provider_id = r.OptStr(9).value_or("");
    q.attempts = static_cast<int>(r.Int(10));
    out.push_back(std::move(q));
  }
  return out;
}

Status MoveMemberMessages(Tx& tx, Id merchant_id, Id from_member, Id to_member) {
  RG_TRY(tx.Exec("UPDATE outbox SET member_id = ? WHERE merchant_id = ? AND member_id = ?",
                 {to_member, merchant_id, from_member}));
  return {};
}

}  // namespace regulars::messaging
