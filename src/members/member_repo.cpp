#include "members/member_repo.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/text.h"

namespace regulars::members {
namespace {

using store::Opt;
using store::Row;
using store::Rows;
using store::Value;

constexpr std::string_view kCols =
    "merchant_id, id, phone, name, email, birthday, gender, region, city, tags, attributes, "
    "notes, language, referral_code, home_branch_id, merged_into, erased_at, created_at, "
    "updated_at";

std::string TagsJson(const std::vector<std::string>& tags) { return nlohmann::json(tags).dump(); }

std::vector<std::string> ParseTags(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& t : j)
      if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}

Member FromRow(const Row& r) {
  Member m;
  m.merchant_id = r.Int(0);
  m.id = r.Int(1);
  m.phone = r.OptStr(2);
  m.name = r.OptStr(3);
  m.email = r.OptStr(4);
  if (auto b = r.OptStr(5)) m.birthday = ParseDate(*b);
  m.gender = r.OptStr(6);
  m.region = r.OptStr(7);
  m.city = r.OptStr(8);
  m.tags = ParseTags(r.Str(9));
  m.attributes_json = r.Str(10);
  m.notes = r.OptStr(11);
  m.language = r.OptStr(12);
  m.referral_code = r.Str(13);
  m.home_branch_id = r.OptInt(14);
  m.merged_into = r.OptInt(15);
  m.erased_at = r.OptInt(16);
  m.created_at = r.Int(17);
  m.updated_at = r.Int(18);
  return m;
}

// Column values in kCols order after (merchant_id, id), plus the derived search columns.
std::vector<Value> Values(const Member& m) {
  std::optional<std::string> birthday;
  if (m.birthday) birthday = FormatDate(*m.birthday);
  return {Opt(m.phone),
          Opt(m.name),
          Opt(m.email),
          Opt(birthday),
          Opt(m.gender),
          Opt(m.region),
          Opt(m.city),
          TagsJson(m.tags),
          m.attributes_json,
          Opt(m.notes),
          Opt(m.language),
          m.referral_code,
          Opt(m.home_branch_id),
          Opt(m.merged_into),
          Opt(m.erased_at),
          m.created_at,
          m.updated_at,
          m.phone ? Value(ReversedDigits(*m.phone)) : Value(),
          m.name ? Value(FoldForSearch(*m.name)) : Value(),
          Opt(m.email),
          m.birthday ? Value(int64_t{m.birthday->month}) : Value(),
          m.birthday ? Value(int64_t{m.birthday->day}) : Value()};
}

Status LoadConsents(store::Tx& tx, std::vector<Member*> members) {
  if (members.empty()) return {};
  std::string in;
  std::vector<Value> params = {members[0]->merchant_id};
  for (size_t i = 0; i < members.size(); ++i) {
    in += i ? ", ?" : "?";
    params.push_back(members[i]->id);
  }
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT member_id, channel, granted, changed_at, source, branch_id, "
                           "staff_id FROM member_consents WHERE merchant_id = ? AND member_id IN "
                           "({})",
                           in),
               params));
  for (const auto& r : rows) {
    auto ch = ParseChannel(r.Str(1));
    if (!ch) continue;
    for (Member* m : members) {
      if (m->id != r.Int(0)) continue;
      m->consent[static_cast<size_t>(*ch)] =
          Consent{r.Bool(2), r.Int(3), r.Str(4), r.OptInt(5), r.OptInt(6)};
    }
  }
  return {};
}

Status SaveConsents(store::Tx& tx, const Member& m) {
  RG_TRY(tx.Exec("DELETE FROM member_consents WHERE merchant_id = ? AND member_id = ?",
                 {m.merchant_id, m.id}));
  for (Channel ch : kChannels) {
    const auto& c = m.consent[static_cast<size_t>(ch)];
    if (!c) continue;
    RG_TRY(
        tx.Exec("INSERT INTO member_consents (merchant_id, member_id, channel, granted, "
                "changed_at, source, branch_id, staff_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                {m.merchant_id, m.id, std::string(ChannelName(ch)), int64_t{c->granted ? 1 : 0},
                 c->changed_at, c->source, Opt(c->branch_id), Opt(c->staff_id)}));
  }
  return {};
}

// Turns a unique violation into a precise message.
Status MapUnique(Status s, const Member& m) {
  if (s || s.error().code != Code::kAlreadyExists) return s;
  if (s.error().message.find("phone") != std::string::npos)
    return Fail(Code::kAlreadyExists, "phone: a member with this phone number already exists",
                "phone");
  return s;
}

}  // namespace

Result<std::optional<Member>> LoadMember(store::Tx& tx, Id merchant_id, Id member_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM members WHERE merchant_id "
                                                      "= ? AND id = ?",
                                                      kCols),
                                          {merchant_id, member_id}));
  if (rows.empty()) return std::optional<Member>{};
  Member m = FromRow(rows[0]);
  RG_TRY(LoadConsents(tx, {&m}));
  return std::optional<Member>(std::move(m));
}

Result<std::vector<Member>> LoadMembers(store::Tx& tx, Id merchant_id, const std::vector<Id>& ids) {
  std::vector<Member> out;
  if (ids.empty()) return out;
  std::string in;
  std::vector<Value> params = {merchant_id};
  for (size_t i = 0; i < ids.size(); ++i) {
    in += i ? ", ?" : "?";
    params.push_back(ids[i]);
  }
  RG_ASSIGN_OR_RETURN(Rows rows,
                      tx.Query(fmt::format("SELECT {} FROM members WHERE merchant_id = ? AND id "
                                           "IN ({})",
                                           kCols, in),
                               params));
  for (const auto& r : rows) out.push_back(FromRow(r));
  std::vector<Member*> ptrs;
  for (auto& m : out) ptrs.push_back(&m);
  RG_TRY(LoadConsents(tx, ptrs));
  return out;
}

Status InsertMember(store::Tx& tx, const Member& m) {
  std::vector<Value> v = {m.merchant_id, m.id};
  auto rest = Values(m);
  v.insert(v.end(), rest.begin(), rest.end());
  auto s = tx.Exec(
      "INSERT INTO members (merchant_id, id, phone, name, email, birthday, gender, region, city, "
      "tags, attributes, notes, language, referral_code, home_branch_id, merged_into, erased_at, "
      "created_at, updated_at, phone_rev, name_fold, email_fold, birth_month, birth_day) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      v);
  RG_TRY(MapUnique(s ? Status{} : Status(std::unexpected(s.error())), m));
  return SaveConsents(tx, m);
}

Status SaveMember(store::Tx& tx, const Member& m) {
  std::vector<Value> v = Values(m);
  v.push_back(m.merchant_id);
  v.push_back(m.id);
  auto s = tx.Exec(
      "UPDATE members SET phone = ?, name = ?, email = ?, birthday = ?, gender = ?, region = ?, "
      "city = ?, tags = ?, attributes = ?, notes = ?, language = ?, referral_code = ?, "
      "home_branch_id = ?, merged_into = ?, erased_at = ?, created_at = ?, updated_at = ?, "
      "phone_rev = ?, name_fold = ?, email_fold = ?, birth_month = ?, birth_day = ? "
      "WHERE merchant_id = ? AND id = ?",
      v);
  RG_TRY(MapUnique(s ? Status{} : Status(std::unexpected(s.error())), m));
  return SaveConsents(tx, m);
}

Result<std::optional<Id>> FindByPhone(store::Tx& tx, Id merchant_id, const std::string& e164) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT id FROM members WHERE merchant_id = ? AND "
                                          "phone = ?",
                                          {merchant_id, e164}));
  if (!rows.empty()) return std::optional<Id>(rows[0].Int(0));
  RG_ASSIGN_OR_RETURN(Rows ids, tx.Query("SELECT member_id FROM member_identities WHERE "
                                         "merchant_id = ? AND kind = 'phone' AND value = ?",
                                         {merchant_id, e164}));
  if (!ids.empty()) return std::optional<Id>(ids[0].Int(0));
  return std::optional<Id>{};
}

Result<std::optional<Id>> FindByCode(store::Tx& tx, Id merchant_id, const std::string& code) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT id FROM members WHERE merchant_id = ? AND "
                                          "referral_code = ?",
                                          {merchant_id, code}));
  if (!rows.empty()) return std::optional<Id>(rows[0].Int(0));
  RG_ASSIGN_OR_RETURN(Rows ids, tx.Query("SELECT member_id FROM member_identities WHERE "
                                         "merchant_id = ? AND kind = 'card' AND value = ?",
                                         {merchant_id, code}));
  if (!ids.empty()) return std::optional<Id>(ids[0].Int(0));
  return std::optional<Id>{};
}

Status AddIdentity(store::Tx& tx, Id merchant_id, Id member_id, const Identity& i) {
  auto s = tx.Exec(
      "INSERT INTO member_identities (merchant_id, kind, value, member_id, "
      "created_at) VALUES (?, ?, ?, ?, ?)",
      {merchant_id, i.kind, i.value, member_id, i.created_at});
  if (!s) return std::unexpected(s.error());
  return {};
}

Result<std::vector<Identity>> ListIdentities(store::Tx& tx, Id merchant_id, Id member_id) {
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT kind, value, created_at FROM "
                                          "member_identities WHERE merchant_id = ? AND "
                                          "member_id = ? ORDER BY kind, value",
                                          {merchant_id, member_id}));
  std::vector<Identity> out;
  for (const auto& r : rows) out.push_back({r.Str(0), r.Str(1), r.Int(2)});
  return out;
}

Status MoveIdentities(store::Tx& tx, Id merchant_id, Id from_member, Id to_member) {
  RG_TRY(
      tx.Exec("UPDATE member_identities SET member_id = ? WHERE merchant_id = ? AND "
              "member_id = ?",
              {to_member, merchant_id, from_member}));
  return {};
}

Status DeleteIdentities(store::Tx& tx, Id merchant_id, Id member_id) {
  RG_TRY(tx.Exec("DELETE FROM member_identities WHERE merchant_id = ? AND member_id = ?",
                 {merchant_id, member_id}));
  return {};
}

namespace {

// The smallest string greater than every string with prefix `p` (for range scans).
std::string PrefixEnd(std::string p) {
  while (!p.empty()) {
    unsigned char c = static_cast<unsigned char>(p.back());
    if (c < 0xff) {
      p.back() = static_cast<char>(c + 1);
      return p;
    }
    p.pop_back();
  }
  return std::string(1, '\xff');
}

std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::vector<Id>> SearchMemberIds(store::Tx& tx, Id merchant_id, const SearchQuery& q) {
  std::string where = "merchant_id = ? AND merged_into IS NULL";
  std::vector<Value> params = {merchant_id};
  switch (q.kind) {
    case SearchKind::kAll:
      break;
    case SearchKind::kPhoneExact:
      where += " AND phone = ?";
      params.push_back(q.term);
      break;
    case SearchKind::kPhoneSuffix:
      where += " AND phone_rev >= ? AND phone_rev < ?";
      params.push_back(q.term);
      params.push_back(PrefixEnd(q.term));
      break;
    case SearchKind::kEmailPrefix:
      where += " AND email_fold >= ? AND email_fold < ?";
      params.push_back(q.term);
      params.push_back(PrefixEnd(q.term));
      break;
    case SearchKind::kNameContains:
      where += " AND name_fold LIKE ? ESCAPE '\\'";
      params.push_back("%" + EscapeLike(q.term) + "%");
      break;
  }
  if (q.before) {
    where += " AND id < ?";
    params.push_back(*q.before);
  }
  params.push_back(int64_t{q.limit + 1});
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT id FROM members WHERE {} ORDER BY id DESC LIMIT ?", where),
               params));
  std::vector<Id> out;
  for (const auto& r : rows) out.push_back(r.Int(0));
  return out;
}

namespace {

// Runs `head` + "(?, ...), ..." over `values` (rows of `cols` values). PostgreSQL: statements of
// 100, 10 and 1 rows (three shapes per table for the driver's statement cache; one round trip per
// 100 rows). SQLite: the one-row statement once per row. A multi-row INSERT into a table with a
// UNIQUE index or a foreign key gets a statement journal on SQLite, and ending each one inside a
// savepoint walks the whole in-memory sub-journal, which grows with every page the transaction
// touched (a bulk import's cost grew with its batch squared); a one-row INSERT needs none, and
// the driver's cached prepared statement costs no more per row.
Status InsertChunked(store::Tx& tx, std::string_view head, size_t cols,
                     const std::vector<Value>& values) {
  size_t rows = values.size() / cols;
  size_t done = 0;
  std::string row = "(";
  for (size_t c = 0; c < cols; ++c) row += c ? ", ?" : "?";
  row += ")";
  const bool one_by_one = tx.dialect() == store::Dialect::kSqlite;
  std::string one_row = std::string(head) + row;
  std::vector<Value> params;
  while (done < rows) {
    size_t left = rows - done;
    size_t n = one_by_one ? 1 : left >= 100 ? 100 : left >= 10 ? 10 : 1;
    std::string many;
    if (n > 1) {
      many = head;
      for (size_t i = 0; i < n; ++i) {
        if (i) many += ", ";
        many += row;
      }
    }
    params.assign(values.begin() + done * cols, values.begin() + (done + n) * cols);
    RG_TRY(tx.Exec(n > 1 ? many : one_row, params));
    done += n;
  }
  return {};
}

}  // namespace

Status InsertMembers(store::Tx& tx, const std::vector<Member>& members) {
  std::vector<Value> v;
  v.reserve(members.size() * 24);
  for (const auto& m : members) {
    v.push_back(m.merchant_id);
    v.push_back(m.id);
    auto rest = Values(m);
    for (auto& x : rest) v.push_back(std::move(x));
  }
  auto s = InsertChunked(
      tx,
      "INSERT INTO members (merchant_id, id, phone, name, email, birthday, gender, region, city, "
      "tags, attributes, notes, language, referral_code, home_branch_id, merged_into, erased_at, "
      "created_at, updated_at, phone_rev, name_fold, email_fold, birth_month, birth_day) VALUES ",
      24, v);
  if (!s && !members.empty()) return MapUnique(s, members.front());
  return s;
}

Status AddIdentities(store::Tx& tx, Id merchant_id, const std::vector<NewIdentity>& identities) {
  std::vector<Value> v;
  v.reserve(identities.size() * 5);
  for (const auto& i : identities) {
    v.push_back(merchant_id);
    v.push_back(i.identity.kind);
    v.push_back(i.identity.value);
    v.push_back(i.member_id);
    v.push_back(i.identity.created_at);
  }
  return InsertChunked(tx,
                       "INSERT INTO member_identities (merchant_id, kind, value, member_id, "
                       "created_at) VALUES ",
                       5, v);
}

std::string NewMemberCode() {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string raw = RandomToken(16);
  std::string out;
  for (size_t i = 0; i < 8; ++i)
    out.push_back(kAlphabet[static_cast<unsigned char>(raw[i] * 7 + raw[i + 8]) % 32]);
  return out;
}

Result<std::vector<std::string>> TakenReferralCodes(store::Tx& tx, Id merchant_id,
                                                    const std::vector<std::string>& codes) {
  std::vector<std::string> out;
  for (size_t start = 0; start < codes.size(); start += 500) {
    // Always 500 placeholders (the last code repeated), so one statement shape serves.
    std::string in;
    std::vector<Value> params = {merchant_id};
    for (size_t i = 0; i < 500; ++i) {
      in += i ? ", ?" : "?";
      params.push_back(codes[std::min(start + i, codes.size() - 1)]);
    }
    RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT referral_code FROM members WHERE "
                                                        "merchant_id = ? AND referral_code IN "
                                                        "({})",
                                                        in),
                                            params));
    for (const auto& r : rows) out.push_back(r.Str(0));
  }
  return out;
}

}  // namespace regulars::members
