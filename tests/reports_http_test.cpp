// The insight reports over HTTP on SQLite and PostgreSQL: JSON values, CSV text byte for byte,
// and an Excel file opened (unzipped with `unzip -p`) whose sheet XML holds the numbers. The
// loyalty reports (liability) still answer on the same route, an unknown name is not_found with
// every name listed, and bad parameters name their field.
//
// Data (all at branch Main, noon Taipei, range = the first half of 2026 local): Amy orders
// 1000 on 2026-02-10 and 3000 on 2026-03-05; Ben 5000 on 2026-04-15; an anonymous 700 sale on
// 2026-03-01. Both joined "now" (the fixture's clock, 2026-09-21), so none is new in range.

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "http_fixture.h"

namespace regulars::testing {
namespace {

constexpr const char* kRange = "from=2025-12-31T16:00:00Z&to=2026-06-30T16:00:00Z";

// The entry `name` of the zip in `bytes`, through `unzip -p`.
std::string Unzip(const std::string& bytes, const std::string& name) {
  char path[] = "/tmp/reports_http_test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
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

class ReportsApi : public HttpTest {
 protected:
  void SetUp() override {
    HttpTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    amy_ = Member("0912000001", "Amy");
    ben_ = Member("0912000002", "Ben");
    Order("a1", amy_, "2026-02-10", 1000);
    Order("a2", amy_, "2026-03-05", 3000);
    Order("b1", ben_, "2026-04-15", 5000);
    Order("x1", "", "2026-03-01", 700);
  }
  std::string Member(const std::string& phone, const std::string& name) {
    auto r = Post("/api/v1/members", a_.owner_key,
                  {{"phone", phone}, {"name", name}, {"branch_id", a_.branch_id}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }
  void Order(const std::string& ext, const std::string& member, const std::string& day,
             int64_t total) {
    json body = {{"external_id", ext},
                 {"branch_id", a_.branch_id},
                 {"occurred_at", day + "T12:00:00+08:00"},
                 {"total_minor", total},
                 {"items", json::array()}};
    if (!member.empty()) body["member_id"] = member;
    auto r = Post("/api/v1/orders", a_.owner_key, body);
    EXPECT_EQ(r.status, 201) << r.raw;
  }
  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
  }
  std::string amy_, ben_;
};

TEST_P(ReportsApi, OverviewAsJson) {
  auto r = Get(std::string("/api/v1/reports/overview?") + kRange, a_.owner_key);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["report"], "overview");
  EXPECT_EQ(r.body["from"], "2025-12-31T16:00:00.000Z");
  EXPECT_EQ(r.body["to"], "2026-06-30T16:00:00.000Z");
  EXPECT_EQ(r.body["branch_id"], nullptr);
  EXPECT_EQ(r.body["currency"], "TWD");
  EXPECT_EQ(r.body["columns"][4], (json{{"name", "repeat_rate"}, {"type", "ratio"}}));
  ASSERT_EQ(r.body["data"].size(), 1u) << r.raw;
  // Members joined at the fixture's "now", after the range: none counts as a member then.
  EXPECT_EQ(r.body["data"][0], (json{{"members_total", 0},
                                     {"members_new", 0},
                                     {"active_members", 2},
                                     {"repeat_members", 1},
                                     {"repeat_rate", 0.5},
                                     {"orders", 4},
                                     {"revenue_members_minor", 9000},
                                     {"revenue_anonymous_minor", 700},
                                     {"revenue_minor", 9700},
                                     {"aov_minor", 2425}}))
      << r.raw;
  EXPECT_EQ(r.body["facts"], json::object());
  // The other merchant sees none of it.
  auto b = Get(std::string("/api/v1/reports/overview?") + kRange, b_.owner_key);
  ASSERT_EQ(b.status, 200) << b.raw;
  EXPECT_EQ(b.body["data"][0]["orders"], 0);
  EXPECT_EQ(b.body["data"][0]["aov_minor"], nullptr);
}

TEST_P(ReportsApi, BranchesAsCsv) {
  auto r = Call("GET", std::string("/api/v1/reports/branches?") + kRange, a_.owner_key, "",
                {{"Accept", "text/csv"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.raw, "branch_id,branch,orders,revenue_minor,members,new_members,repeat_rate\r\n" +
                       a_.branch_id + ",Main,4,9700,2,0,0.5000\r\n");
  EXPECT_EQ(r.headers.find("Content-Type")->second, "text/csv; charset=utf-8");
  EXPECT_EQ(r.headers.find("Content-Disposition")->second, "attachment; filename=\"branches.csv\"");
  // ?format=csv says the same; rfm's groups are a second table chosen with ?table=.
  auto groups =
      Get(std::string("/api/v1/reports/rfm?format=csv&table=groups&") + kRange, a_.owner_key);
  ASSERT_EQ(groups.status, 200) << groups.raw;
  EXPECT_TRUE(groups.raw.starts_with("group,members,share,spend_minor\r\nchampions,"))
      << groups.raw;
  EXPECT_EQ(groups.headers.find("Content-Disposition")->second,
            "attachment; filename=\"rfm-groups.csv\"");
  ExpectError(Get(std::string("/api/v1/reports/rfm?format=csv&table=nope&") + kRange, a_.owner_key),
              400, "invalid_argument", "table: rfm has the tables grid, groups", "table");
}

TEST_P(ReportsApi, ChurnAsExcel) {
  auto r = Get(std::string("/api/v1/reports/churn?format=xlsx&") + kRange, a_.owner_key);
  ASSERT_EQ(r.status, 200) << r.raw.substr(0, 200);
  EXPECT_EQ(r.headers.find("Content-Type")->second,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(r.headers.find("Content-Disposition")->second, "attachment; filename=\"churn.xlsx\"");
  ASSERT_TRUE(r.raw.starts_with("PK")) << "not a zip";
  // No model fitted: Amy (2 orders 23 days apart, 117 days since) is at risk by her order gap;
  // value 2000 × 365 / 23 = 31739.13 → 31739 minor = 317.39 TWD.
  std::string sheet = Unzip(r.raw, "xl/worksheets/sheet1.xml");
  ASSERT_FALSE(sheet.empty());
  EXPECT_NE(sheet.find("<pane ySplit=\"1\""), std::string::npos) << "frozen header";
  EXPECT_NE(sheet.find("<v>317.39</v>"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("<v>23</v>"), std::string::npos) << sheet;  // usual gap, days
  // Last order 2026-03-05 12:00 Taipei = Excel serial 46086.5, as a local date-time.
  EXPECT_NE(sheet.find("<v>46086.5</v>"), std::string::npos) << sheet;
  // Texts in constant-memory mode are inline strings in the sheet.
  EXPECT_NE(sheet.find("<t>Amy</t>"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("<t>value_at_risk (TWD)</t>"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("<t>+886912000001</t>"), std::string::npos) << sheet;
  std::string styles = Unzip(r.raw, "xl/styles.xml");
  EXPECT_NE(styles.find("formatCode=\"&quot;TWD&quot; #,##0.00\""), std::string::npos) << styles;
  EXPECT_NE(styles.find("<b/>"), std::string::npos) << "bold header";
  std::string workbook = Unzip(r.raw, "xl/workbook.xml");
  EXPECT_NE(workbook.find("name=\"churn\""), std::string::npos) << workbook;
  EXPECT_NE(workbook.find("name=\"about\""), std::string::npos) << workbook;
  std::string about = Unzip(r.raw, "xl/worksheets/sheet2.xml");
  EXPECT_NE(about.find("<t>order_gap</t>"), std::string::npos) << about;

  // The Accept header asks for the same.
  auto accept =
      Call("GET", std::string("/api/v1/reports/tiers?") + kRange, a_.owner_key, "",
           {{"Accept", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}});
  ASSERT_EQ(accept.status, 200);
  EXPECT_TRUE(accept.raw.starts_with("PK"));
}

TEST_P(ReportsApi, LoyaltyReportsStayAndErrorsNameTheField) {
  auto liability = Get("/api/v1/reports/liability", a_.owner_key);
  ASSERT_EQ(liability.status, 200) << liability.raw;
  EXPECT_EQ(liability.body["report"], "liability");
  ExpectError(Get("/api/v1/reports/nope", a_.owner_key), 404, "not_found",
              "report not found (liability, points-activity, overview, cohorts, rfm, churn, "
              "tiers, branches)");
  ExpectError(Get("/api/v1/reports/overview?from=yesterday", a_.owner_key), 400, "invalid_argument",
              "from: must be an RFC 3339 time", "from");
  ExpectError(Get("/api/v1/reports/overview?format=pdf", a_.owner_key), 400, "invalid_argument",
              "format: must be json, csv or xlsx", "format");
  ExpectError(Get("/api/v1/reports/churn?limit=0", a_.owner_key), 400, "invalid_argument",
              "limit: must be 1 to 10000", "limit");
  ExpectError(Get("/api/v1/reports/cohorts?from=2026-06-30T16:00:00Z&to=2026-01-01T00:00:00Z",
                  a_.owner_key),
              400, "invalid_argument", "to: must be after from", "to");
  // Another merchant's branch is no branch at all.
  ExpectError(Get("/api/v1/reports/branches?branch_id=" + b_.branch_id, a_.owner_key), 404,
              "not_found", "branch_id: no such branch", "branch_id");
  ExpectError(Get("/api/v1/reports/overview", a_.cashier_key), 403, "permission_denied",
              "only an owner or manager may see reports");
  // Default range: the 365 days before now.
  auto def = Get("/api/v1/reports/cohorts", a_.owner_key);
  ASSERT_EQ(def.status, 200) << def.raw;
  EXPECT_EQ(def.body["to"], "2026-09-21T14:13:20.000Z");
  EXPECT_EQ(def.body["from"], "2025-09-21T14:13:20.000Z");
  // Cohorts: Amy first bought in February (again in March, +1), Ben in April.
  ASSERT_EQ(def.body["data"].size(), 2u) << def.raw;
  EXPECT_EQ(def.body["data"][0]["cohort"], "2026-02");
  EXPECT_EQ(def.body["data"][0]["m1"], 1.0);
  EXPECT_EQ(def.body["data"][1]["cohort"], "2026-04");
  EXPECT_EQ(def.body["data"][1]["m1"], 0.0);
  EXPECT_EQ(def.body["data"][1]["m6"], nullptr);  // October has not started
}

RG_INSTANTIATE_BACKENDS(ReportsApi);

}  // namespace
}  // namespace regulars::testing
