#include "loyalty/report_service.h"

#include <fmt/format.h>

#include <map>

#include "base/zone.h"
#include "loyalty/loyalty_service.h"

namespace regulars::loyalty {
namespace {

using store::Rows;

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string IdCell(const std::optional<Id>& id) { return id ? IdToString(*id) : ""; }

}  // namespace

Result<std::vector<LiabilityRow>> LiabilityReport(store::Tx& tx, const accounts::Actor& actor) {
  if (!actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may see reports");
  std::vector<LiabilityRow> out;
  RG_ASSIGN_OR_RETURN(
      Rows points,
      tx.Query("SELECT p.code, p.value_minor_per_1000, m.home_branch_id, COUNT(*), SUM(b.balance) "
               "FROM point_balances b JOIN point_types p ON p.merchant_id = b.merchant_id AND p.id "
               "= b.point_type_id JOIN members m ON m.merchant_id = b.merchant_id AND m.id = "
               "b.member_id WHERE b.merchant_id = ? AND b.balance > 0 GROUP BY p.code, "
               "p.value_minor_per_1000, m.home_branch_id ORDER BY p.code, m.home_branch_id",
               {actor.merchant_id}));
  for (const auto& r : points) {
    int64_t outstanding = r.Int(4);
    out.push_back({"points", r.Str(0), r.OptInt(2), r.Int(3), outstanding,
                   static_cast<int64_t>(static_cast<__int128>(outstanding) * r.Int(1) / 1000)});
  }
  RG_ASSIGN_OR_RETURN(
      Rows wallet,
      tx.Query("SELECT m.home_branch_id, COUNT(*), SUM(w.paid_minor), SUM(w.bonus_minor) FROM "
               "wallet_balances w JOIN members m ON m.merchant_id = w.merchant_id AND m.id = "
               "w.member_id WHERE w.merchant_id = ? AND (w.paid_minor > 0 OR w.bonus_minor > 0) "
               "GROUP BY m.home_branch_id ORDER BY m.home_branch_id",
               {actor.merchant_id}));
  for (const auto& r : wallet) {
    // Paid value is owed in full; bonus value is owed as goods, counted at face value too.
    out.push_back({"wallet", "paid", r.OptInt(0), r.Int(1), r.Int(2), r.Int(2)});
    out.push_back({"wallet", "bonus", r.OptInt(0), r.Int(1), r.Int(3), r.Int(3)});
  }
  return out;
}

Result<std::vector<ActivityRow>> PointsActivityReport(store::Tx& tx, const accounts::Actor& actor,
                                                      Micros from, Micros to,
                                                      std::optional<Id> branch_id) {
  if (!actor.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may see reports");
  if (to <= from) return InvalidField("to", "must be after from");
  if (to - from > 400 * kMicrosPerDay) return InvalidField("to", "at most 400 days per report");
  RG_ASSIGN_OR_RETURN(MerchantSettings ms, LoadMerchantSettings(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(LocalTime lt, ToLocal(from, ms.timezone));
  RG_ASSIGN_OR_RETURN(Micros local_midnight,
                      FromLocal(lt.year, lt.month, lt.day, 0, 0, 0, ms.timezone));
  // The zone's offset at `from`: exact for zones without daylight saving (Asia/Taipei).
  Micros offset = (DaysFromCivil(lt.year, lt.month, lt.day) * kMicrosPerDay) - local_midnight;
  std::string sql =
      "SELECT (e.created_at + ?) / ? AS day, e.branch_id, p.code, e.kind, SUM(e.amount) FROM "
      "ledger_entries e JOIN point_types p ON p.merchant_id = e.merchant_id AND p.id = "
      "e.point_type_id WHERE e.merchant_id = ? AND e.created_at >= ? AND e.created_at < ? AND "
      "e.kind IN ('earn', 'reserve', 'release', 'expire', 'reverse')";
  std::vector<store::Value> params = {offset, kMicrosPerDay, actor.merchant_id, from, to};
  if (branch_id) {
    sql += " AND e.branch_id = ?";
    params.push_back(*branch_id);
  }
  sql += " GROUP BY 1, e.branch_id, p.code, e.kind";
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(sql, params));
  std::map<std::tuple<int64_t, int64_t, std::string>, ActivityRow> by;
  for (const auto& r : rows) {
    int64_t day = r.Int(0);
    auto key = std::tuple{day, r.OptInt(1).value_or(0), r.Str(2)};
    ActivityRow& a = by[key];
    if (a.day.empty()) {
      a.day = FormatDate(CivilFromDays(day));
      a.branch_id = r.OptInt(1);
      a.point_type = r.Str(2);
    }
    std::string kind = r.Str(3);
    int64_t sum = r.Int(4);
    if (kind == "earn")
      a.earned += sum;
    else if (kind == "reserve" || kind == "release")
      a.redeemed -= sum;
    else if (kind == "expire")
      a.expired -= sum;
    else if (kind == "reverse")
      a.reversed -= sum;
  }
  std::vector<ActivityRow> out;
  for (auto& [k, v] : by) out.push_back(std::move(v));
  return out;
}

std::string LiabilityCsv(const std::vector<LiabilityRow>& rows) {
  std::string out = "kind,point_type,branch_id,members,outstanding,value_minor\r\n";
  for (const auto& r : rows)
    out += fmt::format("{},{},{},{},{},{}\r\n", r.kind, Csv(r.point_type), IdCell(r.branch_id),
                       r.members, r.outstanding, r.value_minor);
  return out;
}

std::string ActivityCsv(const std::vector<ActivityRow>& rows) {
  std::string out = "day,branch_id,point_type,earned,redeemed,expired,reversed\r\n";
  for (const auto& r : rows)
    out += fmt::format("{},{},{},{},{},{},{}\r\n", r.day, IdCell(r.branch_id), Csv(r.point_type),
                       r.earned, r.redeemed, r.expired, r.reversed);
  return out;
}

}  // namespace regulars::loyalty
