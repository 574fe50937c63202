// The order import engine on SQLite and PostgreSQL: grouping, member matching and creation,
// anonymous sales, returns matched to their order or stand-alone, idempotent re-runs (the same
// file, a cancelled run resumed, a fresh export), dry runs, all-or-nothing, rejected lines with
// their exact line / column / reason, Big5 input, the Shopify preset, points, and the full UCI
// Online Retail file checked against figures this test computes from the file with its own
// reader. Every test ends with the ledger and wallet audits (`regulars check`).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unicode/ucnv.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "accounts/account_service.h"
#include "importer/order_import.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/wallet_service.h"
#include "members/member_repo.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::importer {
namespace {

using accounts::Actor;

constexpr char kHeader[] =
    "order_id,occurred_at,sku,name,quantity,unit_price,customer_id,phone,email,customer_name\n";

// A1/A2/A3 match three existing members (customer id, phone, e-mail); A4 is anonymous; R1
// returns one TEA of A1; R2 returns a MUG nobody bought.
constexpr char kShop[] =
    "A1,2026-01-05 10:00:00,TEA,Black tea,2,50,C1,,,Amy\n"
    "A1,2026-01-05 10:00:00,CAKE,Cake,1,80,C1,,,Amy\n"
    "A2,2026-01-06 11:00:00,TEA,Black tea,1,50,,0912345678,,\n"
    "A3,2026-01-07 12:00:00,TEA,Black tea,3,50,,,Bob@Example.com,Bob\n"
    "A4,2026-01-08 12:00:00,TEA,Black tea,1,50,,,,\n"
    "R1,2026-01-09 12:00:00,TEA,Black tea,-1,50,C1,,,\n"
    "R2,2026-01-09 13:00:00,MUG,Mug,-1,200,C1,,,\n";

class ImportTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto m = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
      accounts::Merchant in;
      in.name = "Leaf";
      RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
      return merchant.id;
    });
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
    merchant_ = *m;
  }
  void TearDown() override {
    if (!db_) return;
    std::vector<std::string> problems;
    auto s = db().Read([&](store::Tx& tx) -> Status {
      RG_TRY(loyalty::CheckLedger(tx, &problems));
      return loyalty::CheckWallets(tx, &problems);
    });
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    for (const auto& p : problems) ADD_FAILURE() << "check: " << p;
  }
  Actor A() { return accounts::SystemActor(merchant_, clock_.Now()); }

  // Existing members: C1 by the store's customer id, one by phone, one by e-mail.
  void AddMembers() {
    auto s = db().Write([&](store::Tx& tx) -> Status {
      members::MemberInput a;
      a.phone = "0911111111";
      RG_ASSIGN_OR_RETURN(auto ma, members::CreateMember(tx, A(), {"TW"}, a));
      RG_TRY(members::AddIdentity(tx, merchant_, ma.id, {"customer_id", "C1", clock_.Now()}));
      by_cid_ = ma.id;
      members::MemberInput b;
      b.phone = "0912345678";
      RG_ASSIGN_OR_RETURN(auto mb, members::CreateMember(tx, A(), {"TW"}, b));
      by_phone_ = mb.id;
      members::MemberInput c;
      c.phone = "0913333333";
      c.email = std::optional<std::string>("bob@example.com");
      RG_ASSIGN_OR_RETURN(auto mc, members::CreateMember(tx, A(), {"TW"}, c));
      by_email_ = mc.id;
      return {};
    });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
  }

  Result<ImportReport> Run(const std::string& csv, ImportOptions o = {},
                           const ProgressFn& progress = {}) {
    if (o.mapping.order_id.empty()) o.mapping = *PresetMapping("generic");
    o.reopen = [csv, opts = o.csv]() { return CsvReader::FromString(csv, opts); };
    auto reader = CsvReader::FromString(csv, o.csv);
    if (!reader) return std::unexpected(reader.error());
    return ImportOrders(db(), A(), **reader, o, progress);
  }

  int64_t Count(const std::string& sql) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, {merchant_}));
      return rows.empty() ? 0 : rows[0].Int(0);
    });
    EXPECT_TRUE(r.has_value()) << sql << ": " << r.error().ToString();
    return r.value_or(-1);
  }
  // Rows written by imports, to prove that something wrote nothing.
  std::string Footprint() {
    return fmt::format(
        "orders={} items={} members={} identities={} returns={} refunds={} events={}",
        Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM members WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM member_identities WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM order_returns WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM refunds WHERE merchant_id = ?"),
        Count("SELECT COUNT(*) FROM events WHERE merchant_id = ?"));
  }

  Id merchant_ = 0;
  Id by_cid_ = 0, by_phone_ = 0, by_email_ = 0;
};

// The report's numbers as one string, so a mismatch shows every field.
std::string Numbers(const ImportReport& r) {
  return fmt::format(
      "lines={} imported={} rejected={} orders={} existing={} anonymous={} refunds={} "
      "standalone={} returns_existing={} members_created={} members_matched={} revenue={} "
      "refunded={} points={}",
      r.lines, r.lines_imported, r.lines_rejected, r.orders_created, r.orders_existing,
      r.anonymous_orders, r.refunds, r.standalone_returns, r.returns_existing, r.members_created,
      r.members_matched, r.revenue_minor, r.refunded_minor, r.points_awarded);
}

TEST_P(ImportTest, GroupsMatchesMembersAndRecordsReturns) {
  AddMembers();
  auto r = Run(std::string(kHeader) + kShop);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(Numbers(*r),
            "lines=7 imported=7 rejected=0 orders=4 existing=0 anonymous=1 refunds=1 "
            "standalone=1 returns_existing=0 members_created=0 members_matched=3 revenue=43000 "
            "refunded=25000 points=0");
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->currency, "TWD");
  auto order_of = [&](const std::string& ext) {
    return db()
        .ReadValue([&](store::Tx& tx) -> Result<std::vector<int64_t>> {
          RG_ASSIGN_OR_RETURN(auto rows,
                              tx.Query("SELECT COALESCE(member_id, 0), total_minor, "
                                       "refunded_minor FROM orders WHERE merchant_id = ? AND "
                                       "external_id = ?",
                                       {merchant_, ext}));
          if (rows.empty()) return std::vector<int64_t>{};
          return std::vector<int64_t>{rows[0].Int(0), rows[0].Int(1), rows[0].Int(2)};
        })
        .value();
  };
  EXPECT_EQ(order_of("A1"), (std::vector<int64_t>{by_cid_, 18000, 5000}));
  EXPECT_EQ(order_of("A2"), (std::vector<int64_t>{by_phone_, 5000, 0}));
  EXPECT_EQ(order_of("A3"), (std::vector<int64_t>{by_email_, 15000, 0}));
  EXPECT_EQ(order_of("A4"), (std::vector<int64_t>{0, 5000, 0}));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ?"), 5);
  EXPECT_EQ(Count("SELECT SUM(refunded_quantity) FROM order_items WHERE merchant_id = ?"), 1);
  EXPECT_EQ(Count("SELECT SUM(amount_minor) FROM refunds WHERE merchant_id = ?"), 5000);
  EXPECT_EQ(Count("SELECT standalone_minor FROM order_returns WHERE merchant_id = ? AND "
                  "external_id = 'R2'"),
            20000);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_return_items WHERE merchant_id = ? AND "
                  "order_id IS NULL"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE merchant_id = ? AND type = 'order_created'"),
            4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE merchant_id = ? AND type = "
                  "'order_refunded'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE merchant_id = ? AND type = "
                  "'return_recorded'"),
            1);
  // Event numbers stay dense: seq 1..n.
  EXPECT_EQ(Count("SELECT MAX(seq) - COUNT(*) FROM events WHERE merchant_id = ?"), 0);
}

TEST_P(ImportTest, CreatesMembersThatLookLikeAnyOther) {
  std::string csv = std::string(kHeader) +
                    "B1,2026-02-01 09:00,TEA,Black tea,1,50,9001,0922 000 111,Ann@Example.com,"
                    "陳小明\n"
                    "B2,2026-02-02 09:00,TEA,Black tea,1,50,9001,,,\n"
                    "B3,2026-02-03 09:00,TEA,Black tea,1,50,,,zed@example.com,Zed\n";
  auto r = Run(csv);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->members_created, 2);
  EXPECT_EQ(r->members_matched, 0);
  EXPECT_EQ(r->orders_created, 3);
  // Found by phone, by the folded name and by the store's id, like a member made at the counter.
  auto found = db().ReadValue([&](store::Tx& tx) -> Result<members::Member> {
    return members::LookupByPhone(tx, A(), {"TW"}, "0922000111");
  });
  ASSERT_TRUE(found.has_value()) << found.error().ToString();
  EXPECT_EQ(found->name, "陳小明");
  EXPECT_EQ(found->email, "ann@example.com");
  EXPECT_EQ(found->referral_code.size(), 8u);
  auto page = db().ReadValue([&](store::Tx& tx) {
    return members::SearchMembers(tx, A(), {"TW"}, "陈小明", std::nullopt, 10);
  });
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, found->id);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM member_identities WHERE merchant_id = ? AND kind = "
                  "'customer_id' AND value = '9001'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ? AND member_id IS NOT NULL"),
            3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE merchant_id = ? AND type = "
                  "'member_created' AND member_id IS NOT NULL"),
            2);
}

TEST_P(ImportTest, RunningTheSameFileAgainAddsNothing) {
  AddMembers();
  std::string csv = std::string(kHeader) + kShop;
  ASSERT_TRUE(Run(csv).has_value());
  std::string before = Footprint();
  auto again = Run(csv);
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(Numbers(*again),
            "lines=7 imported=0 rejected=0 orders=0 existing=4 anonymous=0 refunds=0 "
            "standalone=0 returns_existing=2 members_created=0 members_matched=0 revenue=0 "
            "refunded=0 points=0");
  EXPECT_EQ(Footprint(), before);
}

// Each new order's order_created event carries exactly the JSON a JSON writer makes of it (keys
// sorted, strings escaped), with and without a branch, whatever the order number holds.
TEST_P(ImportTest, OrderCreatedEventDataIsCanonicalJson) {
  auto branch = db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO branches (merchant_id, id, name, code, created_at, updated_at) VALUES (?, "
        "77, 'Main', 'B1', 0, 0)",
        {merchant_}));
    return {};
  });
  ASSERT_TRUE(branch.has_value()) << branch.error().ToString();
  std::string csv =
      "order_id,occurred_at,sku,name,quantity,unit_price,customer_id,branch\n"
      "\"Q\"\"1\\x\t/\",2026-01-05 10:00:00,TEA,Black tea,2,50,C1,B1\n"
      "Q2,2026-01-05 11:00:00,TEA,Black tea,1,50,,\n";
  auto r = Run(csv);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->orders_created, 2);
  auto rows = db().ReadValue([&](store::Tx& tx) -> Result<store::Rows> {
    return tx.Query(
        "SELECT e.data, o.id FROM events e JOIN orders o ON o.merchant_id = e.merchant_id AND "
        "o.external_id = ? WHERE e.merchant_id = ? AND e.type = 'order_created' AND "
        "e.data LIKE ? ORDER BY e.seq",
        {std::string("Q\"1\\x\t/"), merchant_, std::string("%branch%")});
  });
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Str(0),
            fmt::format("{{\"branch_id\":\"77\",\"currency\":\"TWD\",\"external_id\":"
                        "\"Q\\\"1\\\\x\\t/\",\"items\":1,\"occurred_at\":"
                        "\"2026-01-05T02:00:00.000Z\",\"order_id\":\"{}\",\"source\":\"import\","
                        "\"total_minor\":10000}}",
                        (*rows)[0].Str(1)));
  auto plain = db().ReadValue([&](store::Tx& tx) -> Result<store::Rows> {
    return tx.Query(
        "SELECT e.data, o.id FROM events e JOIN orders o ON o.merchant_id = e.merchant_id AND "
        "o.external_id = 'Q2' WHERE e.merchant_id = ? AND e.type = 'order_created' AND "
        "e.data LIKE '%\"Q2\"%'",
        {merchant_});
  });
  ASSERT_TRUE(plain.has_value()) << plain.error().ToString();
  ASSERT_EQ(plain->size(), 1u);
  EXPECT_EQ((*plain)[0].Str(0),
            fmt::format("{{\"currency\":\"TWD\",\"external_id\":\"Q2\",\"items\":1,"
                        "\"occurred_at\":\"2026-01-05T03:00:00.000Z\",\"order_id\":\"{}\","
                        "\"source\":\"import\",\"total_minor\":5000}}",
                        (*plain)[0].Str(1)));
}

TEST_P(ImportTest, CancelledImportRunAgainCompletesWithoutDuplicates) {
  AddMembers();
  std::string csv = std::string(kHeader) + kShop;
  ImportOptions o;
  o.batch_orders = 1;
  int calls = 0;
  auto first = Run(csv, o, [&](const Progress&) { return ++calls < 2; });
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_TRUE(first->cancelled);
  EXPECT_EQ(first->orders_created, 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"), 2);
  auto second = Run(csv, o);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_FALSE(second->cancelled);
  EXPECT_EQ(second->orders_existing, 2);
  EXPECT_EQ(second->orders_created, 2);
  EXPECT_EQ(second->refunds, 1);
  EXPECT_EQ(second->standalone_returns, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"), 4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ?"), 5);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM refunds WHERE merchant_id = ?"), 1);
  EXPECT_EQ(Count("SELECT SUM(refunded_minor) FROM orders WHERE merchant_id = ?"), 5000);
}

// The next batch is parsed while one is written; progress still reports each batch where it
// ended in the file, once it is committed, and every row of the file is written exactly once.
TEST_P(ImportTest, ProgressReportsEachBatchWhereItEnded) {
  AddMembers();
  std::string csv = std::string(kHeader) + kShop;
  ImportOptions o;
  o.batch_orders = 1;
  std::vector<int64_t> lines, orders_then;
  auto r = Run(csv, o, [&](const Progress& p) {
    lines.push_back(p.lines);
    // Runs outside the import's transactions and sees every batch before it committed.
    orders_then.push_back(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?") +
                          Count("SELECT COUNT(*) FROM order_returns WHERE merchant_id = ?"));
    return true;
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  // A1 ends when line 3 (A2) is read, A2 at line 4, ... R2 at the end of the file (line 7).
  EXPECT_EQ(lines, (std::vector<int64_t>{3, 4, 5, 6, 7, 7}));
  EXPECT_EQ(orders_then, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r->lines, 7);
  EXPECT_EQ(r->orders_created, 4);
  EXPECT_EQ(Footprint(), "orders=4 items=5 members=3 identities=1 returns=2 refunds=1 events=9");
}

// Stopped after the first batch: the batch parsed meanwhile (here with a rejected line) is not
// written, and the report counts the lines up to where the written batch ended.
TEST_P(ImportTest, StoppedImportReportsLinesUpToTheLastWrittenBatch) {
  std::string csv = std::string(kHeader) +
                    "B1,2026-01-05 10:00:00,TEA,Black tea,1,50,,,,\n"
                    "B2,2026-01-05 11:00:00,TEA,Black tea,1,50,,,,\n"
                    "B3,2026-01-05 12:00:00,TEA,Black tea,x,50,,,,\n"
                    "B4,2026-01-05 13:00:00,TEA,Black tea,1,50,,,,\n";
  ImportOptions o;
  o.batch_orders = 1;
  auto r = Run(csv, o, [&](const Progress&) { return false; });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->lines, 2);
  EXPECT_EQ(r->lines_rejected, 0);
  EXPECT_TRUE(r->rejected.empty());
  EXPECT_EQ(r->orders_created, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"), 1);
}

// A batch is planned while the one before it is written, against what the database held then.
// Here B2 is written by someone else after B2 was planned (the ProgressFn of B1 runs meanwhile):
// B2's write finds it and goes back to planning inside its transaction, so B2 is existing and
// creates no member, and B3, planned on top of B2's plan (the member of C9 that B2 would have
// created), is planned again and creates that member itself.
TEST_P(ImportTest, BatchWhoseOrderAppearedAfterItsPlanIsPlannedAgainInItsWrite) {
  std::string csv = std::string(kHeader) +
                    "B1,2026-01-05 10:00:00,TEA,Black tea,1,50,C8,,,\n"
                    "B2,2026-01-05 11:00:00,TEA,Black tea,2,50,C9,,,\n"
                    "B3,2026-01-05 12:00:00,TEA,Black tea,3,50,C9,,,\n";
  ImportOptions o;
  o.batch_orders = 1;
  int calls = 0;
  auto r = Run(csv, o, [&](const Progress&) {
    if (++calls == 1) {
      auto s = db().Write([&](store::Tx& tx) -> Status {
        RG_TRY(
            tx.Exec("INSERT INTO orders (merchant_id, id, external_id, occurred_at, currency, "
                    "total_minor, created_at) VALUES (?, 5, 'B2', 0, 'TWD', 100, 0)",
                    {merchant_}));
        return {};
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    }
    return true;
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Numbers(*r),
            "lines=3 imported=2 rejected=0 orders=2 existing=1 anonymous=0 refunds=0 "
            "standalone=0 returns_existing=0 members_created=2 members_matched=0 revenue=20000 "
            "refunded=0 points=0");
  EXPECT_EQ(Footprint(), "orders=3 items=2 members=2 identities=2 returns=0 refunds=0 events=4");
  // B3 belongs to the member whose customer id is C9.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders o JOIN member_identities i ON i.merchant_id = "
                  "o.merchant_id AND i.member_id = o.member_id AND i.kind = 'customer_id' AND "
                  "i.value = 'C9' WHERE o.merchant_id = ? AND o.external_id = 'B3' AND "
                  "o.total_minor = 15000"),
            1);
}

TEST_P(ImportTest, FreshExportAddsOnlyWhatIsNew) {
  AddMembers();
  std::string day1 = std::string(kHeader) +
                     "A1,2026-01-05 10:00:00,TEA,Black tea,2,50,C1,,,Amy\n"
                     "A2,2026-01-06 11:00:00,TEA,Black tea,1,50,,0912345678,,\n";
  std::string day2 = day1 +
                     "A5,2026-01-10 10:00:00,TEA,Black tea,1,50,C1,,,Amy\n"
                     "R5,2026-01-11 10:00:00,TEA,Black tea,-2,50,C1,,,Amy\n";
  ASSERT_TRUE(Run(day1).has_value());
  auto r = Run(day2);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->orders_created, 1);
  EXPECT_EQ(r->orders_existing, 2);
  EXPECT_EQ(r->members_matched, 1);
  // Two TEA back: A5 has one, so the return refunds yesterday's A1 (two TEA) from the database.
  EXPECT_EQ(r->refunds, 1);
  EXPECT_EQ(r->standalone_returns, 0);
  EXPECT_EQ(Count("SELECT refunded_minor FROM orders WHERE merchant_id = ? AND external_id = "
                  "'A1'"),
            10000);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"), 3);
}

TEST_P(ImportTest, DryRunWritesNothingAndReportsTheSame) {
  AddMembers();
  std::string csv = std::string(kHeader) + kShop +
                    "N1,2026-01-12 10:00:00,TEA,Black tea,1,50,NEW1,,,\n"
                    "N2,2026-01-12 11:00:00,TEA,Black tea,1,50,NEW1,,,\n"
                    "RN,2026-01-13 11:00:00,TEA,Black tea,-1,50,NEW1,,,\n"
                    "BAD,2026-01-13 11:00:00,TEA,Black tea,x,50,,,,\n";
  std::string before = Footprint();
  ImportOptions o;
  o.dry_run = true;
  o.batch_orders = 2;  // returns refund orders of earlier (uncommitted) batches
  auto dry = Run(csv, o);
  ASSERT_TRUE(dry.has_value()) << dry.error().ToString();
  EXPECT_TRUE(dry->dry_run);
  EXPECT_FALSE(dry->committed);
  EXPECT_EQ(Footprint(), before);
  o.dry_run = false;
  auto real = Run(csv, o);
  ASSERT_TRUE(real.has_value()) << real.error().ToString();
  EXPECT_TRUE(real->committed);
  EXPECT_EQ(Numbers(*dry), Numbers(*real));
  EXPECT_EQ(Numbers(*real),
            "lines=11 imported=10 rejected=1 orders=6 existing=0 anonymous=1 refunds=2 "
            "standalone=1 returns_existing=0 members_created=1 members_matched=3 revenue=53000 "
            "refunded=30000 points=0");
}

TEST_P(ImportTest, AllOrNothingWithOneBadLineWritesNothing) {
  std::string csv = std::string(kHeader) + kShop + "A9,2026-01-05 10:00:00,TEA,Tea,abc,50,,,,\n";
  std::string before = Footprint();
  ImportOptions o;
  o.all_or_nothing = true;
  auto r = Run(csv, o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(r->lines, 8);
  EXPECT_EQ(r->lines_rejected, 1);
  EXPECT_EQ(r->orders_created, 0);
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_EQ(r->rejected[0].line, 9);
  EXPECT_EQ(r->rejected[0].column, "quantity");
  EXPECT_EQ(Footprint(), before);
  // Without the bad line everything goes in.
  auto ok = Run(std::string(kHeader) + kShop, o);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_TRUE(ok->committed);
  EXPECT_EQ(ok->orders_created, 4);
  // A reader that cannot be read twice cannot promise all or nothing.
  ImportOptions no_reopen;
  no_reopen.mapping = *PresetMapping("generic");
  no_reopen.all_or_nothing = true;
  auto reader = CsvReader::FromString(std::string(kHeader) + kShop, {});
  ASSERT_TRUE(reader.has_value());
  auto refused = ImportOrders(db(), A(), **reader, no_reopen);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kFailedPrecondition);
}

TEST_P(ImportTest, RejectedLinesNameLineColumnAndReason) {
  std::string csv = std::string(kHeader) +
                    "X1,2026-01-05 10:00:00,TEA,Tea,abc,50,,,,\n"       // 2
                    "X2,2026-01-05 10:00:00,TEA,Tea,0,50,,,,\n"         // 3
                    "X3,2026-01-05 10:00:00,TEA,Tea,1,1.234,,,,\n"      // 4
                    "X4,2026-01-05 10:00:00,TEA,Tea,1,-5,,,,\n"         // 5
                    "X5,2026-01-05 10:00:00,TEA,Tea,-3,0,,,,\n"         // 6
                    "X6,yesterday,TEA,Tea,1,5,,,,\n"                    // 7
                    "X7,2026-01-05 10:00:00,,,1,5,,,,\n"                // 8
                    "X8,2026-01-05 10:00:00,TEA,Tea,1,5,,12,,\n"        // 9
                    "X9,2026-01-05 10:00:00,TEA,Tea,1,5,,,not-mail,\n"  // 10
                    "Y1,2026-01-05 10:00:00,TEA,Tea,1,5,,,,\n"          // 11
                    "Y2,2026-01-05 10:00:00,TEA,Tea,1,5,,,,\n"          // 12
                    "Y1,2026-01-05 10:00:00,TEA,Tea,1,5,,,,\n"          // 13
                    ",2026-01-05 10:00:00,TEA,Tea,1,5,,,,\n"            // 14
                    "Y3,2027-01-05 10:00:00,TEA,Tea,1,5,,,,\n"          // 15
                    "Y4,2026-01-05 10:00:00,TEA,Te\"a,1,5,,,,\n";       // 16
  auto r = Run(csv);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  std::vector<std::string> got;
  for (const auto& j : r->rejected)
    got.push_back(fmt::format("line {}, column {}: {}", j.line, j.column, j.reason));
  std::vector<std::string> want = {
      "line 2, column quantity: not a whole number: \"abc\"",
      "line 3, column quantity: must not be 0",
      "line 4, column unit_price: 1.234 has more decimals than TWD allows (2)",
      "line 5, column unit_price: must not be negative",
      "line 6, column quantity: negative at unit price 0: a stock adjustment, not a sale or a "
      "return",
      "line 7, column occurred_at: not a date and time: \"yesterday\"",
      "line 8, column sku: is empty (and so is the name)",
      "line 9, column phone: not a valid phone number for region TW: \"12\"",
      "line 10, column email: not an e-mail address: \"not-mail\"",
      "line 13, column order_id: order Y1 already ended at line 11; an order's lines must be "
      "together",
      "line 14, column order_id: is empty",
      "line 15, column occurred_at: is in the future",
      "line 16, column name: unexpected quote in unquoted field",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(r->lines, 15);
  EXPECT_EQ(r->lines_rejected, 13);
  EXPECT_EQ(r->orders_created, 2);
}

TEST_P(ImportTest, MissingMappedColumnIsAnErrorNamingIt) {
  ImportOptions o;
  auto m = ParseMappingToml("preset = \"generic\"\nphone = \"Mobile\"\n");
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  o.mapping = *m;
  auto r = Run(std::string(kHeader) + kShop, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message, "phone: column \"Mobile\" is not in the file's header");
}

std::string ToBig5(const std::string& utf8) {
  UErrorCode err = U_ZERO_ERROR;
  std::string out(utf8.size() * 2 + 16, '\0');
  int32_t n = ucnv_convert("big5", "utf-8", out.data(), static_cast<int32_t>(out.size()),
                           utf8.data(), static_cast<int32_t>(utf8.size()), &err);
  EXPECT_TRUE(U_SUCCESS(err)) << u_errorName(err);
  out.resize(n);
  return out;
}

TEST_P(ImportTest, Big5File) {
  std::string utf8 = std::string(kHeader) +
                     "T1,2026-02-01 09:00,TEA,烏龍茶,1,120,,0922000111,,林美玲\n"
                     "T1,2026-02-01 09:00,CAKE,鳳梨酥,2,45,,0922000111,,林美玲\n";
  ImportOptions o;
  o.csv.encoding = Encoding::kBig5;
  auto r = Run(ToBig5(utf8), o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->encoding, "big5");
  EXPECT_EQ(r->orders_created, 1);
  EXPECT_EQ(r->revenue_minor, 21000);
  auto m = db().ReadValue(
      [&](store::Tx& tx) { return members::LookupByPhone(tx, A(), {"TW"}, "0922000111"); });
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "林美玲");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ? AND name = '鳳梨酥'"), 1);
}

TEST_P(ImportTest, ShopifyPreset) {
  std::ifstream in(std::string(REGULARS_IMPORTER_TESTDATA) + "/shopify_orders.csv");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string csv = ss.str();
  ASSERT_FALSE(csv.empty());
  std::vector<std::string> header;
  {
    std::string first = csv.substr(0, csv.find('\n'));
    std::stringstream hs(first);
    for (std::string h; std::getline(hs, h, ',');) header.push_back(h);
  }
  EXPECT_EQ(GuessPreset(header), "shopify");
  ImportOptions o;
  o.mapping = *PresetMapping("shopify");
  auto r = Run(csv, o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(Numbers(*r),
            "lines=6 imported=6 rejected=0 orders=4 existing=0 anonymous=1 refunds=1 "
            "standalone=0 returns_existing=0 members_created=2 members_matched=0 revenue=132000 "
            "refunded=19000 points=0");
  auto amy = db().ReadValue(
      [&](store::Tx& tx) { return members::LookupByPhone(tx, A(), {"TW"}, "0912345678"); });
  ASSERT_TRUE(amy.has_value());
  EXPECT_EQ(amy->name, "Amy Chen");
  EXPECT_EQ(amy->email, "amy.chen@example.com");
  EXPECT_EQ(amy->city, "Taipei");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ? AND member_id IS NOT NULL"),
            3);
  // The cancelled order is refunded in full, against itself.
  EXPECT_EQ(Count("SELECT refunded_minor FROM orders WHERE merchant_id = ? AND external_id = "
                  "'#1004'"),
            19000);
  // 2026-03-02 10:15:30 +0800 is 02:15:30 UTC.
  EXPECT_EQ(Count("SELECT occurred_at FROM orders WHERE merchant_id = ? AND external_id = "
                  "'#1001'"),
            *ParseRfc3339("2026-03-02T02:15:30Z"));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ? AND name = 'Gift Box, "
                  "Red'"),
            1);
}

TEST_P(ImportTest, AwardPointsByTodaysRules) {
  auto s = db().Write([&](store::Tx& tx) -> Status {
    loyalty::PointTypeInput pt;
    pt.code = "points";
    pt.name = "Points";
    RG_TRY(loyalty::CreatePointType(tx, A(), pt));
    loyalty::RuleInput rule;
    rule.point_type = "points";
    rule.name = "1 per NT$10";
    rule.definition_json = R"({"kind":"per_amount","points":1,"per_amount_minor":1000})";
    RG_TRY(loyalty::CreateRule(tx, A(), rule));
    return {};
  });
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  AddMembers();
  ImportOptions o;
  o.award_points = true;
  o.rebuild_tiers = true;
  ImportOptions dry = o;
  dry.dry_run = true;
  auto d = Run(std::string(kHeader) + kShop, dry);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  auto r = Run(std::string(kHeader) + kShop, o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  // A1 180.00 → 18, A2 50.00 → 5, A3 150.00 → 15; A4 is anonymous.
  EXPECT_EQ(r->points_awarded, 38);
  EXPECT_EQ(d->points_awarded, 38);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM ledger_entries WHERE merchant_id = ? AND kind = 'earn'"),
            3);
  // R1 refunds 50.00 of A1's 180.00: 5 of its 18 points come back.
  auto bal =
      db().ReadValue([&](store::Tx& tx) { return loyalty::LoadBalances(tx, merchant_, by_cid_); });
  ASSERT_TRUE(bal.has_value());
  ASSERT_EQ(bal->size(), 1u);
  EXPECT_EQ((*bal)[0].balance, 13);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_earnings WHERE merchant_id = ?"), 3);
}

TEST(MappingTest, PresetsAndFiles) {
  EXPECT_EQ(PresetNames(), (std::vector<std::string>{"generic", "shopify", "online-retail"}));
  EXPECT_FALSE(PresetMapping("nope").has_value());
  auto uci = PresetMapping("online-retail");
  ASSERT_TRUE(uci.has_value());
  EXPECT_EQ(uci->order_id, "InvoiceNo");
  EXPECT_EQ(uci->cancel_prefix, "C");
  EXPECT_EQ(GuessPreset({"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "UnitPrice", "CustomerID", "Country"}),
            "online-retail");
  EXPECT_EQ(GuessPreset({"order_id", "occurred_at", "sku", "quantity", "unit_price"}), "generic");
  EXPECT_EQ(GuessPreset({"a", "b"}), std::nullopt);

  auto m = ParseMappingToml(
      "preset = \"online-retail\"\ncustomer_id = \"Member\"\ntimezone = \"Europe/London\"\n");
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  EXPECT_EQ(m->order_id, "InvoiceNo");
  EXPECT_EQ(m->customer_id, "Member");
  EXPECT_EQ(m->timezone, "Europe/London");
  EXPECT_EQ(m->required, (std::vector<std::string>{"order_id", "occurred_at", "customer_id"}));

  struct Bad {
    std::string text, message;
  };
  for (const Bad& b : std::vector<Bad>{
           {"order_id = \"Invoice\"\n", "occurred_at: is required"},
           {"preset = \"square\"\n",
            "preset: unknown preset \"square\" (known: generic, shopify, online-retail)"},
           {"preset = \"generic\"\ncolour = \"x\"\n", "colour: is not a mapping field"},
           {"preset = \"generic\"\nsku = 3\n", "sku: must be a string (a column name)"},
           {"order_id = \n", "mapping: line 1: "},
       }) {
    auto r = ParseMappingToml(b.text);
    ASSERT_FALSE(r.has_value()) << b.text;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << b.text;
    EXPECT_TRUE(r.error().message.starts_with(b.message)) << b.text << " → " << r.error().message;
  }
}

// ---- The full UCI Online Retail file ------------------------------------------------------
//
// The expected figures come from this test's own reading of the file (zlib and a small CSV
// splitter, not the engine) and the rules the engine documents: which lines are rejected and
// why, how lines group into invoices, which member each belongs to, and how each cancellation
// line finds the most recent earlier invoice of its customer holding the stock code with enough
// left to refund.

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

struct Expected {
  int64_t lines = 0, rejected = 0, orders = 0, anonymous = 0, members = 0, refunds = 0,
          standalone = 0, revenue = 0, refunded = 0, imported = 0;
  std::map<std::string, int64_t> reasons;  // column + reason kind → lines
  std::vector<std::pair<int64_t, std::string>> rejected_at;
};

std::string ReasonKind(const std::string& column, const std::string& reason) {
  if (reason.find("more decimals") != std::string::npos) return column + ": decimals";
  if (reason.find("already ended") != std::string::npos) return column + ": not together";
  if (reason.find("stock adjustment") != std::string::npos) return column + ": adjustment";
  if (reason == "must not be negative") return column + ": negative";
  return column + ": " + reason;
}

Expected ComputeFromFile(const std::string& path) {
  Expected e;
  gzFile f = gzopen(path.c_str(), "rb");
  std::string data;
  char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) data.append(buf, n);
  gzclose(f);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string l = data.substr(pos, nl - pos);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(l);
    pos = nl + 1;
  }
  struct Line {
    int64_t no;
    std::string sku;
    int64_t qty, price;
  };
  struct Inv {
    std::string id, customer, time;
    bool cancel;
    std::vector<Line> lines;
  };
  std::vector<Inv> invoices;
  std::map<std::string, int64_t> ended;
  auto reject = [&](int64_t no, const std::string& col, const std::string& kind) {
    ++e.rejected;
    ++e.reasons[col + ": " + kind];
    e.rejected_at.push_back({no, col});
  };
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    int64_t no = static_cast<int64_t>(i) + 1;
    ++e.lines;
    auto c = SplitCsv(lines[i]);
    const std::string &inv = c[0], &sku = c[1], &desc = c[2], &price_s = c[5];
    if (invoices.empty() || invoices.back().id != inv) {
      if (ended.contains(inv)) {
        reject(no, "InvoiceNo", "not together");
        continue;
      }
      invoices.push_back({inv, "", "", inv.size() > 1 && inv[0] == 'C', {}});
    }
    ended[inv] = no;
    Inv& g = invoices.back();
    int64_t qty = std::stoll(c[3]);
    if (qty == 0) {
      reject(no, "Quantity", "must not be 0");
      continue;
    }
    // Pence, refusing a third decimal.
    std::string p = price_s;
    bool neg = !p.empty() && p[0] == '-';
    if (neg) p = p.substr(1);
    size_t dot = p.find('.');
    std::string whole = dot == std::string::npos ? p : p.substr(0, dot);
    std::string frac = dot == std::string::npos ? "" : p.substr(dot + 1);
    while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
    if (frac.size() > 2) {
      reject(no, "UnitPrice", "decimals");
      continue;
    }
    while (frac.size() < 2) frac.push_back('0');
    int64_t price = std::stoll(whole) * 100 + std::stoll(frac);
    if (neg && price > 0) {
      reject(no, "UnitPrice", "negative");
      continue;
    }
    if (qty < 0 && price == 0 && !g.cancel) {
      reject(no, "Quantity", "adjustment");
      continue;
    }
    if (sku.empty() && desc.empty()) {
      reject(no, "StockCode", "is empty (and so is the name)");
      continue;
    }
    if (g.time.empty()) g.time = c[4];
    if (g.customer.empty()) {
      std::string cid = c[6];
      if (cid.size() > 2 && cid.ends_with(".0")) cid.resize(cid.size() - 2);
      g.customer = cid;
    }
    g.lines.push_back({no, sku.empty() ? desc : sku, qty, price});
    ++e.imported;
  }
  // Returns: (customer, sku) → lines of earlier invoices.
  struct Ref {
    size_t order;
    std::string time;
    int64_t qty, refunded;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Ref>> refs;
  std::map<size_t, std::pair<int64_t, int64_t>> totals;  // order → (total, refunded)
  std::set<std::string> members;
  for (size_t oi = 0; oi < invoices.size(); ++oi) {
    const Inv& g = invoices[oi];
    if (g.lines.empty()) continue;
    if (!g.customer.empty()) members.insert(g.customer);
    bool is_return = g.cancel || g.lines[0].qty < 0;  // UCI invoices never mix signs
    if (!is_return) {
      int64_t total = 0;
      for (const auto& l : g.lines) {
        total += l.qty * l.price;
        if (!g.customer.empty()) refs[{g.customer, l.sku}].push_back({oi, g.time, l.qty, 0});
      }
      totals[oi] = {total, 0};
      ++e.orders;
      if (g.customer.empty()) ++e.anonymous;
      e.revenue += total;
      continue;
    }
    std::set<size_t> targets;
    int64_t standalone = 0;
    for (const auto& l : g.lines) {
      int64_t q = l.qty < 0 ? -l.qty : l.qty;
      int64_t value = q * l.price;
      e.refunded += value;
      Ref* best = nullptr;
      if (!g.customer.empty()) {
        for (auto& r : refs[{g.customer, l.sku}]) {
          if (r.time > g.time || r.qty - r.refunded < q) continue;
          if (!best || r.time >= best->time) best = &r;
        }
      }
      if (!best) {
        standalone += value;
        continue;
      }
      best->refunded += q;
      auto& [total, refunded] = totals[best->order];
      int64_t m = std::min(value, total - refunded);
      refunded += m;
      standalone += value - m;
      targets.insert(best->order);
    }
    e.refunds += static_cast<int64_t>(targets.size());
    if (standalone > 0) ++e.standalone;
  }
  e.members = static_cast<int64_t>(members.size());
  return e;
}

TEST_P(ImportTest, OnlineRetailFileMatchesItsOwnFigures) {
  std::string path = std::string(REGULARS_SHARED_DATA) + "/online-retail/online_retail.csv.gz";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "no " << path << " (the shared data folder is absent); skipping the full file";
  // A merchant that sells in pounds, in London.
  auto m = db().WriteValue([&](store::Tx& tx) -> Result<Id> {
    accounts::Merchant in;
    in.name = "Gifts";
    in.region = "GB";
    in.currency = "GBP";
    in.timezone = "Europe/London";
    in.language = "en";
    RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock_.Now(), in));
    return merchant.id;
  });
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  merchant_ = *m;
  Expected want = ComputeFromFile(path);

  ImportOptions o;
  o.mapping = *PresetMapping("online-retail");
  auto r = ImportOrdersFile(db(), A(), path, o);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->lines, want.lines);
  EXPECT_EQ(r->lines, 541909);
  EXPECT_EQ(r->lines_rejected, want.rejected);
  EXPECT_EQ(r->lines_imported, want.imported);
  EXPECT_EQ(r->orders_created, want.orders);
  EXPECT_EQ(r->anonymous_orders, want.anonymous);
  EXPECT_EQ(r->members_created, want.members);
  EXPECT_EQ(r->refunds, want.refunds);
  EXPECT_EQ(r->standalone_returns, want.standalone);
  EXPECT_EQ(r->revenue_minor, want.revenue);
  EXPECT_EQ(r->refunded_minor, want.refunded);
  std::map<std::string, int64_t> reasons;
  std::vector<std::pair<int64_t, std::string>> at;
  for (const auto& j : r->rejected) {
    ++reasons[ReasonKind(j.column, j.reason)];
    at.push_back({j.line, j.column});
  }
  EXPECT_EQ(reasons, want.reasons);
  EXPECT_EQ(at, want.rejected_at);
  // The database holds the same.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ?"), want.orders);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM orders WHERE merchant_id = ? AND member_id IS NULL"),
            want.anonymous);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM members WHERE merchant_id = ?"), want.members);
  EXPECT_EQ(Count("SELECT SUM(total_minor) FROM orders WHERE merchant_id = ?"), want.revenue);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM refunds WHERE merchant_id = ?"), want.refunds);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_returns WHERE merchant_id = ? AND "
                  "standalone_minor > 0"),
            want.standalone);
  EXPECT_EQ(Count("SELECT SUM(amount_minor) FROM order_returns WHERE merchant_id = ?"),
            want.refunded);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM order_items WHERE merchant_id = ?") +
                Count("SELECT COUNT(*) FROM order_return_items WHERE merchant_id = ?"),
            want.imported);
}

RG_INSTANTIATE_BACKENDS(ImportTest);

}  // namespace
}  // namespace regulars::importer
