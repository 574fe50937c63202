// The prepaid wallet: balance and history, top-ups, charges, refunds, adjustments, and bonus
// schemes. Every answer about a wallet carries its balance after the change.

#include "http/router.h"
#include "loyalty/wallet_service.h"

namespace regulars::http {
namespace {

using loyalty::BonusScheme;
using loyalty::WalletBalance;
using loyalty::WalletEntry;

loyalty::WalletContext Wc(const Request& r) { return {r.merchant.currency}; }

json IdOrNull(const std::optional<Id>& v) { return v ? json(IdToString(*v)) : json(nullptr); }
template <class T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
json TimeOrNull(const std::optional<Micros>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

json BalanceJson(const WalletBalance& b, const std::string& currency) {
  return {{"paid_minor", b.paid_minor},
          {"bonus_minor", b.bonus_minor},
          {"total_minor", b.total_minor()},
          {"currency", currency}};
}

json EntryJson(const WalletEntry& e) {
  json j = {{"id", IdToString(e.id)},
            {"seq", e.seq},
            {"kind", loyalty::WalletEntryKindName(e.kind)},
            {"amount_minor", e.amount_minor()},
            {"paid_minor", e.paid_minor},
            {"bonus_minor", e.bonus_minor},
            {"paid_after_minor", e.paid_after},
            {"bonus_after_minor", e.bonus_after},
            {"total_after_minor", e.paid_after + e.bonus_after},
            {"currency", e.currency},
            {"scheme_id", IdOrNull(e.scheme_id)},
            {"order_id", OrNull(e.order_id)},
            {"charge_id", e.kind == loyalty::WalletEntryKind::kRefund ? IdOrNull(e.related_entry_id)
                                                                      : json(nullptr)},
            {"payment_method", OrNull(e.payment_method)},
            {"reason", OrNull(e.reason)},
            {"branch_id", IdOrNull(e.branch_id)},
            {"staff_id", IdOrNull(e.staff_id)},
            {"actor", e.actor},
            {"created_at", FormatRfc3339(e.created_at)}};
  if (e.kind == loyalty::WalletEntryKind::kCharge) j["refunded_minor"] = e.refunded_minor;
  return j;
}

json SchemeJson(const BonusScheme& s, const std::string& currency) {
  return {{"id", IdToString(s.id)},
          {"name", s.name},
          {"pay_minor", s.pay_minor},
          {"bonus_minor", s.bonus_minor},
          {"repeats", s.repeats},
          {"currency", currency},
          {"valid_from", TimeOrNull(s.valid_from)},
          {"valid_to", TimeOrNull(s.valid_to)},
          {"active", s.active},
          {"created_at", FormatRfc3339(s.created_at)},
          {"updated_at", FormatRfc3339(s.updated_at)}};
}

Reply ChangeReply(const Request& r, Id member_id, const loyalty::WalletChange& c) {
  return Reply{201,
               {{"member_id", IdToString(member_id)},
                {"entry", EntryJson(c.entry)},
                {"balance", BalanceJson(c.balance, r.merchant.currency)}}};
}

Result<loyalty::BonusSchemeInput> SchemeFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"name", "pay_minor", "bonus_minor", "repeats",
                                                  "valid_from", "valid_to", "active"}));
  loyalty::BonusSchemeInput in;
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  RG_ASSIGN_OR_RETURN(in.pay_minor, f.Int("pay_minor"));
  RG_ASSIGN_OR_RETURN(in.bonus_minor, f.Int("bonus_minor"));
  RG_ASSIGN_OR_RETURN(in.repeats, f.Bool("repeats"));
  RG_ASSIGN_OR_RETURN(in.valid_from, f.NullableString("valid_from"));
  RG_ASSIGN_OR_RETURN(in.valid_to, f.NullableString("valid_to"));
  RG_ASSIGN_OR_RETURN(in.active, f.Bool("active"));
  return in;
}

}  // namespace

void RegisterWalletRoutes(Router& router) {
  router.Read("GET", "/api/v1/members/{id}/wallet",
              "A member's prepaid wallet: balance and entries, newest first",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto view,
                                    loyalty::GetWallet(tx, r.actor, id, r.Cursor(), limit));
                json data = json::array();
                for (const auto& e : view.entries) data.push_back(EntryJson(e));
                json body = PageJson(data, view.next_cursor);
                body["member_id"] = IdToString(id);
                body["balance"] = BalanceJson(view.balance, r.merchant.currency);
                return Reply{200, body};
              });
  router.Write("POST", "/api/v1/members/{id}/wallet/top-ups",
               "Top up a member's wallet; the best bonus scheme applies",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(
                     Fields f, Fields::Of(r.body, {"amount_minor", "payment_method", "scheme_id",
                                                   "branch_id", "note"}));
                 loyalty::WalletTopUpInput in;
                 RG_ASSIGN_OR_RETURN(in.amount_minor, f.Int("amount_minor"));
                 RG_ASSIGN_OR_RETURN(in.payment_method, f.String("payment_method"));
                 RG_ASSIGN_OR_RETURN(in.scheme_id, f.IdValue("scheme_id"));
                 RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
                 RG_ASSIGN_OR_RETURN(in.note, f.String("note"));
                 RG_ASSIGN_OR_RETURN(auto c, loyalty::TopUpWallet(tx, r.actor, Wc(r), id, in));
                 return ChangeReply(r, id, c);
               });
  router.Write("POST", "/api/v1/members/{id}/wallet/charges", "Pay from a member's wallet",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"amount_minor", "order_id",
                                                                   "branch_id", "note"}));
                 loyalty::WalletChargeInput in;
                 RG_ASSIGN_OR_RETURN(in.amount_minor, f.Int("amount_minor"));
                 RG_ASSIGN_OR_RETURN(in.order_id, f.String("order_id"));
                 RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
                 RG_ASSIGN_OR_RETURN(in.note, f.String("note"));
                 RG_ASSIGN_OR_RETURN(auto c, loyalty::ChargeWallet(tx, r.actor, Wc(r), id, in));
                 return ChangeReply(r, id, c);
               });
  router.Write(
      "POST", "/api/v1/members/{id}/wallet/refunds", "Give back (part of) a wallet charge",
      [](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
        RG_ASSIGN_OR_RETURN(Fields f,
                            Fields::Of(r.body, {"charge_id", "amount_minor", "branch_id", "note"}));
        loyalty::WalletRefundInput in;
        RG_ASSIGN_OR_RETURN(in.charge_id, f.IdValue("charge_id"));
        RG_ASSIGN_OR_RETURN(in.amount_minor, f.Int("amount_minor"));
        RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
        RG_ASSIGN_OR_RETURN(in.note, f.String("note"));
        RG_ASSIGN_OR_RETURN(auto c, loyalty::RefundWalletCharge(tx, r.actor, Wc(r), id, in));
        return ChangeReply(r, id, c);
      });
  router.Write("POST", "/api/v1/members/{id}/wallet/adjustments",
               "Correct a member's wallet (owner or manager, with a reason)",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "member"));
                 RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"paid_minor", "bonus_minor",
                                                                   "reason", "branch_id"}));
                 loyalty::WalletAdjustInput in;
                 RG_ASSIGN_OR_RETURN(in.paid_minor, f.Int("paid_minor"));
                 RG_ASSIGN_OR_RETURN(in.bonus_minor, f.Int("bonus_minor"));
                 RG_ASSIGN_OR_RETURN(in.reason, f.String("reason"));
                 RG_ASSIGN_OR_RETURN(in.branch_id, f.IdValue("branch_id"));
                 RG_ASSIGN_OR_RETURN(auto c, loyalty::AdjustWallet(tx, r.actor, Wc(r), id, in));
                 return ChangeReply(r, id, c);
               });
  router.Read("GET", "/api/v1/wallet/bonus-schemes", "Wallet bonus schemes (pay X, get Y)",
              [](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(int limit, r.Limit());
                RG_ASSIGN_OR_RETURN(auto page,
                                    loyalty::ListBonusSchemes(tx, r.actor, r.Cursor(), limit));
                json data = json::array();
                for (const auto& s : page.items) data.push_back(SchemeJson(s, r.merchant.currency));
                return Reply{200, PageJson(data, page.next_cursor)};
              });
  router.Write("POST", "/api/v1/wallet/bonus-schemes", "Create a wallet bonus scheme",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, SchemeFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto s, loyalty::CreateBonusScheme(tx, r.actor, in));
                 return Reply{201, SchemeJson(s, r.merchant.currency)};
               });
  router.Write("PATCH", "/api/v1/wallet/bonus-schemes/{id}",
               "Change or retire a wallet bonus scheme",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "bonus scheme"));
                 RG_ASSIGN_OR_RETURN(auto in, SchemeFields(r.body));
                 RG_ASSIGN_OR_RETURN(auto s, loyalty::UpdateBonusScheme(tx, r.actor, id, in));
                 return Reply{200, SchemeJson(s, r.merchant.currency)};
               });
}

}  // namespace regulars::http
