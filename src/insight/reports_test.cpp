// Insight reports on both databases over one small shop whose every number is worked out by hand
// below: two branches, five members (one erased), member and anonymous orders, a full and a
// partial refund, an order after the range, tiers with an override, and (for churn) a fitted
// model's scores. (rfm_test.cpp checks the RFM scoring itself; here the report around it.)

#include "insight/reports.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "accounts/account_service.h"
#include "commerce/branch_service.h"
#include "insight/rfm.h"
#include "insight/xlsx.h"
#include "loyalty/order_service.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::insight {
namespace {

Micros T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

// Cells compare by value; doubles within 1e-9.
void ExpectRow(const std::vector<Cell>& got, const std::vector<Cell>& want,
               const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (const auto* d = std::get_if<double>(&want[i])) {
      ASSERT_TRUE(std::holds_alternative<double>(got[i])) << what << " cell " << i;
      EXPECT_NEAR(std::get<double>(got[i]), *d, 1e-9) << what << " cell " << i;
    } else {
      EXPECT_EQ(got[i], want[i]) << what << " cell " << i;
    }
  }
}

class ReportsTest : public store::BackendTest {
 protected:
  // The shop. Times are noon in Taipei (04:00 UTC). The range is the first half of 2026 local.
  //   Amy  home North, joined 2025-06-01: 2025-11-10 North 1000, 2026-02-10 North 2000,
  //        2026-03-05 South 3000. Tier Gold.
  //   Ben  home North, joined 2026-02-01: 2026-02-01 North 5000, 2026-02-20 North 5000 (fully
  //        refunded), 2026-04-15 North 1500 (500 refunded). Tier Silver, overridden to Gold.
  //   Cat  home South, joined 2026-03-10: 2026-03-10 South 4000, 2026-07-05 South 2500 (after
  //        the range). Tier Silver.
  //   Dan  home South, joined 2026-05-01: no orders. No tier.
  //   Eve  home North, joined 2026-01-05: 2026-01-20 North 1000, then erased.
  //   Anonymous: 2026-03-01 South 700, 2026-06-01 North 300.
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    now_ = T("2026-07-15T12:00:00+08:00");
    q_.from = T("2026-01-01T00:00:00+08:00");
    q_.to = T("2026-07-01T00:00:00+08:00");
    auto r = db().Write([&](store::Tx& tx) -> Status {
      accounts::Merchant in;
      in.name = "Tea";
      RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, T("2025-01-01T00:00:00Z"), in));
      merchant_ = m.id;
      accounts::Actor sys = accounts::SystemActor(m.id, now_);
      commerce::BranchPatch bp;
      bp.name = "North";
      RG_ASSIGN_OR_RETURN(auto north, commerce::CreateBranch(tx, sys, bp));
      bp.name = "South";
      RG_ASSIGN_OR_RETURN(auto south, commerce::CreateBranch(tx, sys, bp));
      north_ = north.id;
      south_ = south.id;
      auto member = [&](const char* name, const char* phone, Id home,
                        const char* joined) -> Result<Id> {
        members::MemberInput mi;
        mi.phone = phone;
        mi.name = std::optional<std::string>(name);
        mi.branch_id = home;
        RG_ASSIGN_OR_RETURN(auto mem, members::CreateMember(
                                          tx, accounts::SystemActor(m.id, T(joined)), {"TW"}, mi));
        return mem.id;
      };
      RG_ASSIGN_OR_RETURN(amy_, member("Amy", "0912000001", north_, "2025-06-01T12:00:00+08:00"));
      RG_ASSIGN_OR_RETURN(ben_, member("Ben", "0912000002", north_, "2026-02-01T12:00:00+08:00"));
      RG_ASSIGN_OR_RETURN(cat_, member("Cat", "0912000003", south_, "2026-03-10T12:00:00+08:00"));
      RG_ASSIGN_OR_RETURN(dan_, member("Dan", "0912000004", south_, "2026-05-01T12:00:00+08:00"));
      RG_ASSIGN_OR_RETURN(Id eve, member("Eve", "0912000005", north_, "2026-01-05T12:00:00+08:00"));
      int n = 0;
      auto order = [&](std::optional<Id> who, Id branch, const char* day,
                       int64_t total) -> Result<Id> {
        loyalty::OrderInput o;
        o.external_id = "o" + std::to_string(++n);
        o.member_id = who;
        o.branch_id = branch;
        o.occurred_at = T((std::string(day) + "T12:00:00+08:00").c_str());
        o.total_minor = total;
        RG_ASSIGN_OR_RETURN(auto res, loyalty::CreateOrder(tx, sys, o));
        return res.order.id;
      };
      RG_TRY(order(amy_, north_, "2025-11-10", 1000));
      RG_TRY(order(amy_, north_, "2026-02-10", 2000));
      RG_TRY(order(amy_, south_, "2026-03-05", 3000));
      RG_TRY(order(ben_, north_, "2026-02-01", 5000));
      RG_ASSIGN_OR_RETURN(Id refunded, order(ben_, north_, "2026-02-20", 5000));
      RG_ASSIGN_OR_RETURN(Id partly, order(ben_, north_, "2026-04-15", 1500));
      RG_TRY(order(cat_, south_, "2026-03-10", 4000));
      RG_TRY(order(cat_, south_, "2026-07-05", 2500));
      RG_TRY(order(eve, north_, "2026-01-20", 1000));
      RG_TRY(order(std::nullopt, south_, "2026-03-01", 700));
      RG_TRY(order(std::nullopt, north_, "2026-06-01", 300));
      RG_TRY(loyalty::RefundOrder(tx, sys, refunded, {}));
      loyalty::RefundInput part;
      part.amount_minor = 500;
      RG_TRY(loyalty::RefundOrder(tx, sys, partly, part));
      RG_TRY(members::EraseMember(tx, sys, eve));
      // Tiers straight into their tables: the report reads them, it does not qualify anyone.
      silver_ = NewId();
      gold_ = NewId();
      for (auto [id, level, name] : {std::tuple{silver_, 1, "Silver"}, {gold_, 2, "Gold"}})
        RG_TRY(tx.Exec(
            "INSERT INTO tiers (merchant_id, id, level, name, threshold, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            {m.id, id, int64_t{level}, std::string(name), int64_t{level * 10000}, now_, now_}));
      RG_TRY(tx.Exec("DELETE FROM member_tiers WHERE merchant_id = ?", {m.id}));
      RG_TRY(
          tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since) VALUES (?, "
                  "?, 2, ?), (?, ?, 1, ?)",
                  {m.id, amy_, now_, m.id, cat_, now_}));
      RG_TRY(
          tx.Exec("INSERT INTO member_tiers (merchant_id, member_id, level, since, "
                  "override_level, override_until) VALUES (?, ?, 1, ?, 2, ?)",
                  {m.id, ben_, now_, now_ + kMicrosPerDay}));
      return {};
    });
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }

  Result<Report> Run(std::string_view name, const ReportQuery& q) {
    accounts::Actor a = accounts::SystemActor(merchant_, now_);
    return db().ReadValue([&](store::Tx& tx) { return RunReport(tx, a, name, q); });
  }
  Report Must(std::string_view name, const ReportQuery& q) {
    auto r = Run(name, q);
    EXPECT_TRUE(r.has_value()) << name << ": " << r.error().ToString();
    return r.value_or(Report{});
  }

  Micros now_ = 0;
  ReportQuery q_;
  Id merchant_ = 0, north_ = 0, south_ = 0, amy_ = 0, ben_ = 0, cat_ = 0, dan_ = 0;
  Id silver_ = 0, gold_ = 0;
};

TEST_P(ReportsTest, Overview) {
  Report rep = Must("overview", q_);
  ASSERT_EQ(rep.tables.size(), 1u);
  ASSERT_EQ(rep.tables[0].rows.size(), 1u);
  // Members: Amy, Ben, Cat, Dan (Eve erased); new: Ben, Cat, Dan. Orders in range: 8 (Ben's
  // fully refunded one and Cat's July one left out), member revenue 2000+3000+5000+1000+4000
  // +1000 (Eve's order still counts), anonymous 700+300; 17000 / 8 = 2125.
  ExpectRow(rep.tables[0].rows[0],
            {int64_t{4}, int64_t{3}, int64_t{3}, int64_t{2}, 2.0 / 3.0, int64_t{8}, int64_t{16000},
             int64_t{1000}, int64_t{17000}, int64_t{2125}},
            "overview");
  EXPECT_EQ(TableCsv(rep.tables[0]),
            "members_total,members_new,active_members,repeat_members,repeat_rate,orders,"
            "revenue_members_minor,revenue_anonymous_minor,revenue_minor,aov_minor\r\n"
            "4,3,3,2,0.6667,8,16000,1000,17000,2125\r\n");
  EXPECT_EQ(rep.currency, "TWD");

  // North: home members Amy and Ben (new: Ben); orders there 2000, 5000, 1000, Eve's 1000 and
  // the anonymous 300; buyers Amy (1) and Ben (2).
  ReportQuery north = q_;
  north.branch_id = north_;
  ExpectRow(Must("overview", north).tables[0].rows[0],
            {int64_t{2}, int64_t{1}, int64_t{2}, int64_t{1}, 0.5, int64_t{5}, int64_t{9000},
             int64_t{300}, int64_t{9300}, int64_t{1860}},
            "overview at North");
}

TEST_P(ReportsTest, CohortsByLocalMonthOfFirstPurchase) {
  Report rep = Must("cohorts", q_);
  const Table& t = rep.tables[0];
  // Amy first bought in November 2025 (before the range). Ben: February, again in April (+2);
  // Cat: March, again in July (+4, after the range but before now). Months after July have
  // not started by now (15 July): null.
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(TableCsv(t),
            "cohort,members,m1,m2,m3,m4,m5,m6,m7,m8,m9,m10,m11,m12\r\n"
            "2026-02,1,0.0000,1.0000,0.0000,0.0000,0.0000,,,,,,,\r\n"
            "2026-03,1,0.0000,0.0000,0.0000,1.0000,,,,,,,,\r\n");
  EXPECT_EQ(t.rows[0][0], Cell(DaysFromCivil(2026, 2, 1)));

  ReportQuery wide = q_;
  wide.from = T("2025-11-01T00:00:00+08:00");
  // Amy's cohort: November 2025, again in February (+3) and March (+4).
  Report amy = Must("cohorts", wide);
  ASSERT_FALSE(amy.tables[0].rows.empty());
  const auto& first = amy.tables[0].rows[0];
  EXPECT_EQ(CellText(first[0], ColumnType::kMonth), "2025-11");
  ExpectRow(std::vector<Cell>(first.begin() + 1, first.begin() + 6),
            {int64_t{1}, 0.0, 0.0, 1.0, 1.0}, "Amy's cohort");
}

TEST_P(ReportsTest, RfmGridAndGroups) {
  Report rep = Must("rfm", q_);
  ASSERT_EQ(rep.tables.size(), 2u);
  // As of 1 July local: Amy 117 days since her last order, 2 orders, 5000; Ben 76 days, 2
  // orders, 6000; Cat 112 days, 1 order, 4000. Quintiles of three: R Amy 1, Cat 2, Ben 4;
  // F Cat 1, Amy 2, Ben 2; M Cat 1, Amy 2, Ben 4. With FM = round((F + M) / 2): Amy (R1, FM2)
  // lost, Ben (R4, FM3) potential_loyalist, Cat (R2, FM1) hibernating.
  const Table& grid = rep.tables[0];
  ASSERT_EQ(grid.rows.size(), 25u);
  int64_t members = 0;
  for (const auto& row : grid.rows) {
    int64_t r = std::get<int64_t>(row[0]), f = std::get<int64_t>(row[1]);
    std::vector<Cell> want = {r, f, int64_t{0}, int64_t{0}};
    if (r == 1 && f == 2) want[2] = int64_t{1}, want[3] = int64_t{5000};
    if (r == 4 && f == 2) want[2] = int64_t{1}, want[3] = int64_t{6000};
    if (r == 2 && f == 1) want[2] = int64_t{1}, want[3] = int64_t{4000};
    ExpectRow(row, want, "grid " + std::to_string(r) + "x" + std::to_string(f));
    members += std::get<int64_t>(row[2]);
  }
  EXPECT_EQ(members, 3);
  EXPECT_EQ(std::get<int64_t>(grid.rows[0][0]), 5);  // rows run r 5..1, f 1..5
  const Table& groups = rep.tables[1];
  ASSERT_EQ(groups.rows.size(), RfmGroupNames().size());
  for (const auto& row : groups.rows) {
    std::string g = std::get<std::string>(row[0]);
    int64_t spend = g == "lost"                 ? 5000
                    : g == "potential_loyalist" ? 6000
                    : g == "hibernating"        ? 4000
                                                : 0;
    if (spend > 0)
      ExpectRow(row, {g, int64_t{1}, 1.0 / 3.0, spend}, g);
    else
      ExpectRow(row, {g, int64_t{0}, 0.0, int64_t{0}}, g);
  }
}

TEST_P(ReportsTest, ChurnByOrderGapWithoutAModel) {
  Report rep = Must("churn", q_);
  ASSERT_EQ(rep.facts.size(), 1u);
  EXPECT_EQ(rep.facts[0], (std::pair<std::string, std::string>{"basis", "order_gap"}));
  // Ben: 2 orders 73 days apart, 76 days since: 3000 × 365 / 73 = 15000. Amy: 3 orders over 115
  // days (gap 57.5), 117 days since: 2000 × 365 / 57.5 = 12695.65. Cat has one order by then.
  const Table& t = rep.tables[0];
  ASSERT_EQ(t.rows.size(), 2u);
  ExpectRow(
      t.rows[0],
      {int64_t{ben_}, std::string("Ben"), std::string("+886912000002"), int64_t{2}, int64_t{6000},
       int64_t{T("2026-04-15T04:00:00Z")}, int64_t{76}, 73.0, Cell(), Cell(), int64_t{15000}},
      "Ben");
  ExpectRow(
      t.rows[1],
      {int64_t{amy_}, std::string("Amy"), std::string("+886912000001"), int64_t{3}, int64_t{6000},
       int64_t{T("2026-03-05T04:00:00Z")}, int64_t{117}, 57.5, Cell(), Cell(), int64_t{12696}},
      "Amy");
  ReportQuery one = q_;
  one.limit = 1;
  EXPECT_EQ(Must("churn", one).tables[0].rows.size(), 1u);
}

TEST_P(ReportsTest, ChurnByModelScores) {
  auto w = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(
        tx.Exec("INSERT INTO insight_models (merchant_id, kind, params_json, customers, "
                "calibration_end, fitted_at) VALUES (?, 'bgnbd_gg', '{}', 3, ?, ?)",
                {merchant_, now_, now_}));
    for (auto [id, p, ev] :
         {std::tuple{amy_, 0.25, 10000.0}, {ben_, 0.5, 20000.0}, {cat_, 0.9, 5000.0}})
      RG_TRY(
          tx.Exec("INSERT INTO member_scores (merchant_id, member_id, p_alive, "
                  "expected_purchases_90d, expected_value_minor, scored_at) VALUES (?, ?, ?, "
                  "1.0, ?, ?)",
                  {merchant_, id, p, ev, now_}));
    return {};
  });
  ASSERT_TRUE(w.has_value()) << w.error().ToString();
  Report rep = Must("churn", q_);
  EXPECT_EQ(rep.facts[0].second, "model");
  // Value at risk = expected value × (1 − p_alive): Ben 10000, Amy 7500, Cat 500.
  const Table& t = rep.tables[0];
  ASSERT_EQ(t.rows.size(), 3u);
  ExpectRow(t.rows[0],
            {int64_t{ben_}, std::string("Ben"), std::string("+886912000002"), int64_t{2},
             int64_t{6000}, int64_t{T("2026-04-15T04:00:00Z")}, int64_t{76}, Cell(), 0.5,
             int64_t{20000}, int64_t{10000}},
            "Ben");
  EXPECT_EQ(t.rows[1][0], Cell(int64_t{amy_}));
  EXPECT_EQ(t.rows[1][10], Cell(int64_t{7500}));
  ExpectRow(
      t.rows[2],
      {int64_t{cat_}, std::string("Cat"), std::string("+886912000003"), int64_t{1}, int64_t{4000},
       int64_t{T("2026-03-10T04:00:00Z")}, int64_t{112}, Cell(), 0.9, int64_t{5000}, int64_t{500}},
      "Cat");
}

TEST_P(ReportsTest, Tiers) {
  Report rep = Must("tiers", q_);
  const Table& t = rep.tables[0];
  // No tier: Dan. Silver: Cat (4000 in range). Gold: Amy (5000) and Ben by override (6000).
  ASSERT_EQ(t.rows.size(), 3u);
  ExpectRow(t.rows[0],
            {Cell(), int64_t{0}, std::string(""), int64_t{1}, 0.25, int64_t{0}, int64_t{0}},
            "no tier");
  ExpectRow(t.rows[1],
            {int64_t{silver_}, int64_t{1}, std::string("Silver"), int64_t{1}, 0.25, int64_t{4000},
             int64_t{4000}},
            "silver");
  ExpectRow(t.rows[2],
            {int64_t{gold_}, int64_t{2}, std::string("Gold"), int64_t{2}, 0.5, int64_t{11000},
             int64_t{5500}},
            "gold");
}

TEST_P(ReportsTest, Branches) {
  Report rep = Must("branches", q_);
  const Table& t = rep.tables[0];
  // North: 2000, 5000, 1000, Eve's 1000, anonymous 300; buyers Amy and Ben (Ben twice); new
  // home members: Ben (Eve is erased). South: 3000, 4000, anonymous 700; buyers Amy and Cat;
  // new: Cat and Dan.
  ASSERT_EQ(t.rows.size(), 2u);
  ExpectRow(t.rows[0],
            {int64_t{north_}, std::string("North"), int64_t{5}, int64_t{9300}, int64_t{2},
             int64_t{1}, 0.5},
            "North");
  ExpectRow(t.rows[1],
            {int64_t{south_}, std::string("South"), int64_t{3}, int64_t{7700}, int64_t{2},
             int64_t{2}, 0.0},
            "South");
  ReportQuery south = q_;
  south.branch_id = south_;
  EXPECT_EQ(Must("branches", south).tables[0].rows.size(), 1u);
}

TEST_P(ReportsTest, RefusesWithExactErrors) {
  accounts::Actor cashier = accounts::SystemActor(merchant_, now_);
  cashier.role = accounts::Role::kCashier;
  auto denied =
      db().ReadValue([&](store::Tx& tx) { return RunReport(tx, cashier, "overview", q_); });
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, Code::kPermissionDenied);

  auto unknown = Run("nope", q_);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
  EXPECT_EQ(unknown.error().message,
            "report not found (overview, cohorts, rfm, churn, tiers, branches)");

  ReportQuery backwards = q_;
  backwards.to = backwards.from;
  auto b = Run("overview", backwards);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, Code::kInvalidArgument);
  EXPECT_EQ(b.error().field, "to");
  EXPECT_EQ(b.error().message, "to: must be after from");

  ReportQuery elsewhere = q_;
  elsewhere.branch_id = NewId();
  auto e = Run("branches", elsewhere);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, Code::kNotFound);
  EXPECT_EQ(e.error().field, "branch_id");

  accounts::Actor limited = accounts::SystemActor(merchant_, now_);
  limited.role = accounts::Role::kManager;
  limited.branch_ids = {north_};
  auto mine = db().ReadValue([&](store::Tx& tx) { return RunReport(tx, limited, "overview", q_); });
  ASSERT_FALSE(mine.has_value());
  EXPECT_EQ(mine.error().code, Code::kPermissionDenied);
  EXPECT_EQ(mine.error().field, "branch_id");
}

RG_INSTANTIATE_BACKENDS(ReportsTest);

// ---- Pure parts ---------------------------------------------------------------------------------

TEST(TableCsv, QuotesAndTypes) {
  Table t;
  t.name = "x";
  t.columns = {{"name", ColumnType::kText},   {"id", ColumnType::kId},   {"at", ColumnType::kTime},
               {"share", ColumnType::kRatio}, {"m", ColumnType::kMonth}, {"n", ColumnType::kInt}};
  t.rows.push_back({std::string("a, \"b\""), int64_t{42}, int64_t{T("2026-01-02T03:04:05Z")}, 0.125,
                    DaysFromCivil(2026, 3, 1), Cell()});
  EXPECT_EQ(TableCsv(t),
            "name,id,at,share,m,n\r\n"
            "\"a, \"\"b\"\"\",42,2026-01-02T03:04:05.000Z,0.1250,2026-03,\r\n");
}

// The workbook's entry `name`, through `unzip -p`.
std::string Unzipped(const std::string& bytes, const std::string& name) {
  char path[] = "/tmp/reports_test-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "";
  close(fd);
  std::ofstream(path, std::ios::binary) << bytes;
  std::string out;
  if (FILE* p = popen(("unzip -p " + std::string(path) + " " + name).c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  std::remove(path);
  return out;
}

TEST(ReportXlsx, MoneyInTheCurrencysUnitsMonthsAsDatesNullsEmpty) {
  Report rep;
  rep.name = "t";
  rep.currency = "JPY";  // no minor unit: 1234 minor is 1234 yen
  rep.timezone = "Asia/Tokyo";
  rep.from = T("2026-01-01T00:00:00Z");
  rep.to = T("2026-02-01T00:00:00Z");
  Table t;
  t.name = "sheet";
  t.columns = {{"cohort", ColumnType::kMonth},
               {"revenue_minor", ColumnType::kMoney},
               {"share", ColumnType::kRatio},
               {"note", ColumnType::kText}};
  t.rows.push_back({DaysFromCivil(2026, 3, 1), int64_t{1234}, 0.25, Cell()});
  rep.tables.push_back(t);
  rep.facts.emplace_back("basis", "model");
  EXPECT_EQ(XlsxHeader(t.columns[1], "JPY"), "revenue (JPY)");
  auto bytes = ReportXlsx(rep);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
  std::string sheet = Unzipped(*bytes, "xl/worksheets/sheet1.xml");
  EXPECT_NE(sheet.find("<v>46082</v>"), std::string::npos) << sheet;  // 2026-03-01
  EXPECT_NE(sheet.find("<v>1234</v>"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("<v>0.25</v>"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("<t>revenue (JPY)</t>"), std::string::npos) << sheet;
  EXPECT_EQ(sheet.find("r=\"D2\""), std::string::npos) << "a null cell is left empty";
  std::string styles = Unzipped(*bytes, "xl/styles.xml");
  EXPECT_NE(styles.find("formatCode=\"&quot;JPY&quot; #,##0\""), std::string::npos) << styles;
  EXPECT_NE(styles.find("formatCode=\"yyyy-mm\""), std::string::npos) << styles;
  EXPECT_NE(styles.find("formatCode=\"0.0%\""), std::string::npos) << styles;
  std::string about = Unzipped(*bytes, "xl/worksheets/sheet2.xml");
  EXPECT_NE(about.find("<t>basis</t>"), std::string::npos) << about;
  EXPECT_NE(about.find("<t>2026-01-01T00:00:00.000Z</t>"), std::string::npos) << about;
}

}  // namespace
}  // namespace regulars::insight
