#include "messaging/outbox_bulk.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace regulars::messaging {
namespace {

using store::Tx;
using store::Value;

// Rows per multi-row INSERT: few statements, far below SQLite's 32,766 and PostgreSQL's 65,535
// parameters (18 per outbox row).
constexpr size_t kRowsPerInsert = 128;

constexpr std::string_view kOutboxHead =
    "INSERT INTO outbox (merchant_id, id, dedup_key, member_id, channel_id, medium, purpose, "
    "template_id, recipient, subject, body_text, body_html, headers, status, attempts, "
    "max_attempts, next_attempt_at, cost_minor, created_at, updated_at) VALUES ";
constexpr std::string_view kOutboxRow =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)";
constexpr size_t kOutboxParams = 18;
constexpr std::string_view kOutboxTail = " ON CONFLICT (merchant_id, dedup_key) DO NOTHING";

// "head row, row, ... tail" for n rows, built once per (statement, n).
class SqlCache {
 public:
  SqlCache(std::string_view head, std::string_view row, std::string_view tail)
      : head_(head), row_(row), tail_(tail) {}
  const std::string& Get(size_t n) {
    std::string& s = by_rows_[n];
    if (s.empty()) {
      s.reserve(head_.size() + n * (row_.size() + 2) + tail_.size());
      s.append(head_);
      for (size_t i = 0; i < n; ++i) {
        if (i) s.append(", ");
        s.append(row_);
      }
      s.append(tail_);
    }
    return s;
  }

 private:
  std::string_view head_, row_, tail_;
  std::map<size_t, std::string> by_rows_;
};

// Where the texts of row r sit in an outbox INSERT's parameters.
constexpr size_t kRecipientParam = 8, kSubjectParam = 9, kTextParam = 10, kHtmlParam = 11;
constexpr std::string NewMessage::*kLentFields[] = {&NewMessage::recipient, &NewMessage::subject,
                                                    &NewMessage::text, &NewMessage::html};

// Moves the texts of messages [start, start + n) back from `params` into `lent` when it goes
// out of scope (after the statement, whether it succeeded, failed or threw).
struct GiveBack {
  std::vector<NewMessage>* lent;
  std::vector<Value>& params;
  size_t start = 0, n = 0;
  ~GiveBack() { Now(); }
  void Now() {
    if (!lent) return;
    Restore();
    lent = nullptr;
  }
  void Restore() {
    for (size_t r = 0; r < n; ++r)
      for (size_t f = 0; f < 4; ++f) {
        size_t p = r * kOutboxParams + kRecipientParam + f;
        if (p >= params.size()) return;  // the parameters stop here (an exception while built)
        if (auto* s = std::get_if<std::string>(&params[p]))
          (*lent)[start + r].*kLentFields[f] = std::move(*s);
      }
  }
};

// `lent`, when given, holds `messages` themselves: each INSERT's recipients, subjects, texts
// and HTML are moved into its parameters and moved back right after it (GiveBack), so they
// are not copied and are unchanged when this returns — the transaction may run again (SQLite
// group commit replays a batch; PostgreSQL retries). Otherwise they are copied.
Result<BulkEnqueued> EnqueueManyLabelled(Tx& tx, Id merchant_id, Micros now,
                                         std::span<const NewMessage> messages,
                                         std::vector<NewMessage>* lent, std::string_view label) {
  static_assert(kSubjectParam == kRecipientParam + 1 && kTextParam == kRecipientParam + 2 &&
                kHtmlParam == kRecipientParam + 3);
  auto take = [&](size_t i, std::string NewMessage::*field) -> Value {
    if (lent) return std::move((*lent)[i].*field);
    return messages[i].*field;
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    if (auto s = ValidateNewMessage(messages[i]); !s) {
      Error e = s.error();
      std::string field = fmt::format("{}[{}].{}", label, i, e.field);
      e.message = fmt::format("{}[{}].{}", label, i, e.message);
      e.field = std::move(field);
      return std::unexpected(std::move(e));
    }
  }
  BulkEnqueued out;
  out.ids.reserve(messages.size());
  // The rows go in without RETURNING (whose result rows cost as much again): when a statement
  // inserts fewer rows than it carried, a lookup of its ids says which.
  std::vector<Id> ids(messages.size());
  for (Id& id : ids) id = NewId();

  SqlCache outbox_sql(kOutboxHead, kOutboxRow, kOutboxTail);
  SqlCache created_sql("SELECT id FROM outbox WHERE merchant_id = ? AND id IN (", "?", ")");
  std::vector<Value> params;
  for (size_t start = 0; start < messages.size(); start += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, messages.size() - start);
    params.clear();
    params.reserve(n * kOutboxParams);
    GiveBack give_back{lent, params, start, n};
    for (size_t i = start; i < start + n; ++i) {
      const NewMessage& m = messages[i];
      params.emplace_back(merchant_id);
      params.emplace_back(ids[i]);
      params.emplace_back(m.dedup_key);
      params.push_back(store::Opt(m.member_id));
      params.emplace_back(m.channel_id);
      params.emplace_back(std::string(MediumName(m.medium)));
      params.emplace_back(std::string(PurposeName(m.purpose)));
      params.push_back(store::Opt(m.template_id));
      params.push_back(take(i, &NewMessage::recipient));
      params.push_back(take(i, &NewMessage::subject));
      params.push_back(take(i, &NewMessage::text));
      params.push_back(take(i, &NewMessage::html));
      params.emplace_back(EncodeHeaders(m.headers));
      params.emplace_back(int64_t{m.max_attempts});
      params.emplace_back(std::max(now, m.not_before.value_or(now)));
      params.push_back(store::Opt(m.cost_minor));
      params.emplace_back(now);
      params.emplace_back(now);
    }
    RG_ASSIGN_OR_RETURN(int64_t changed, tx.Exec(outbox_sql.Get(n), params));
    if (changed == static_cast<int64_t>(n)) {
      out.ids.insert(out.ids.end(), ids.begin() + start, ids.begin() + start + n);
      continue;
    }
    // Some dedup keys were taken: the ids that made it into the table say which.
    give_back.Now();
    params.clear();
    params.emplace_back(merchant_id);
    for (size_t i = start; i < start + n; ++i) params.emplace_back(ids[i]);
    RG_ASSIGN_OR_RETURN(store::Rows rows, tx.Query(created_sql.Get(n), params));
    std::unordered_set<Id> created;
    for (const auto& r : rows) created.insert(r.Int(0));
    for (size_t i = start; i < start + n; ++i) {
      if (created.contains(ids[i]))
        out.ids.push_back(ids[i]);
      else
        ids[i] = 0;  // not created: its dedup key was taken
    }
  }
  out.created = static_cast<int64_t>(out.ids.size());
  out.existing = static_cast<int64_t>(messages.size()) - out.created;
  return out;
}

}  // namespace

Result<BulkEnqueued> EnqueueMany(Tx& tx, Id merchant_id, Micros now,
                                 std::span<const NewMessage> messages, std::string_view /*actor*/) {
  return EnqueueManyLabelled(tx, merchant_id, now, messages, nullptr, "messages");
}

Result<std::vector<NewMessage>> RenderBatch(const BulkRequest& req,
                                            std::span<const BulkMember> members) {
  if (!req.tmpl) return Fail(Code::kInternal, "EnqueueBatch without a template");
  CompiledTemplate& tmpl = *req.tmpl;
  RG_TRY(tmpl.Bind(req.variables, req.shared));
  const Template& t = tmpl.source();
  std::vector<NewMessage> messages(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const BulkMember& b = members[i];
    auto r = tmpl.RenderBound(b.values, b.language, req.merchant_language, req.sms_price_minor);
    if (!r) {
      Error e = r.error();
      e.message = fmt::format("members[{}].{}", i, e.message);
      e.field = fmt::format("members[{}].{}", i, e.field);
      return std::unexpected(std::move(e));
    }
    NewMessage& n = messages[i];
    n.dedup_key = b.dedup_key;
    n.member_id = b.member_id;
    n.channel_id = req.channel_id;
    n.medium = t.medium;
    n.purpose = t.purpose;
    if (t.id != 0) n.template_id = t.id;
    n.recipient = b.recipient;
    n.subject = std::move(r->subject);
    n.text = std::move(r->text);
    n.html = std::move(r->html);
    n.headers = std::move(r->headers);
    if (r->sms) n.cost_minor = r->sms->cost_minor;
    n.max_attempts = req.max_attempts;
    n.not_before = req.not_before;
  }
  return messages;
}

Result<BulkEnqueued> EnqueueBatch(Tx& tx, Id merchant_id, Micros now, const BulkRequest& req,
                                  std::span<const BulkMember> members) {
  RG_ASSIGN_OR_RETURN(std::vector<NewMessage> messages, RenderBatch(req, members));
  return EnqueueManyLabelled(tx, merchant_id, now, messages, &messages, "members");
}

Result<BulkEnqueued> EnqueueRendered(Tx& tx, Id merchant_id, Micros now, const BulkRequest& req,
                                     std::span<const NewMessage> messages) {
  return EnqueueManyLabelled(tx, merchant_id, now, messages, nullptr, "members");
}

Result<BulkEnqueued> EnqueueRendered(Tx& tx, Id merchant_id, Micros now, const BulkRequest& req,
                                     std::vector<NewMessage>& messages) {
  return EnqueueManyLabelled(tx, merchant_id, now, messages, &messages, "members");
}

}  // namespace regulars::messaging
