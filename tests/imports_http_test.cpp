// The imports HTTP contract (POST /api/v1/imports/preview, POST /api/v1/imports, GET
// /api/v1/imports[/{id}[/rejected]], POST /api/v1/imports/{id}/cancel) end to end with the import
// worker, on SQLite and PostgreSQL.
//
// What it proves: a preview reads a Big5 file's header and rows and guesses its preset without
// writing; an upload becomes a queued job that the worker runs to a report whose numbers are
// exact for a small file written here; rejected lines come back as CSV; a dry run leaves no
// orders; cancelling works for queued and running jobs; a cashier is refused everything; bad
// options name their field; an Idempotency-Key replay returns the same job; and a job left
// `running` by a server that died (simulated by doing part of its work, then writing the row
// state a killed server leaves) is re-run to success without duplicating an order.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <iconv.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "accounts/account.h"
#include "http_fixture.h"
#include "importer/import_job.h"
#include "importer/order_import.h"

namespace regulars::testing {
namespace {

// Six lines in the generic preset's column names: orders A1 (two lines, member C1 by customer
// id and phone), A2 (a member by e-mail), A3 (anonymous), a line with a bad quantity (line 6),
// and A5, a return of one T1 by C1, which refunds A1.
constexpr std::string_view kOrders =
    "order_id,occurred_at,sku,name,quantity,unit_price,customer_id,phone,email,customer_name\n"
    "A1,2025-01-05 10:00:00,T1,珍珠奶茶,2,55,C1,0912345678,,陳小明\n"
    "A1,2025-01-05 10:00:00,T2,紅茶,1,30,C1,0912345678,,陳小明\n"
    "A2,2025-01-06 11:00:00,T1,珍珠奶茶,1,55,,,amy@example.com,Amy\n"
    "A3,2025-01-07 12:00:00,T3,\"Cookie, large\",3,20,,,,\n"
    "A4,2025-01-08 12:00:00,T1,珍珠奶茶,abc,55,C1,,,\n"
    "A5,2025-01-09 13:00:00,T1,珍珠奶茶,-1,55,C1,0912345678,,陳小明\n";

std::string ToBig5(std::string_view utf8) {
  iconv_t cd = iconv_open("BIG5", "UTF-8");
  EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1));
  std::string in(utf8), out(in.size() * 2, '\0');
  char* src = in.data();
  char* dst = out.data();
  size_t src_left = in.size(), dst_left = out.size();
  EXPECT_NE(iconv(cd, &src, &src_left, &dst, &dst_left), static_cast<size_t>(-1));
  iconv_close(cd);
  out.resize(out.size() - dst_left);
  return out;
}

class Imports : public HttpTest {
 protected:
  void TearDown() override {
    if (worker_) worker_->Stop();
    worker_.reset();
    HttpTest::TearDown();
    // Uploads of jobs that never ran stay in the shared temporary folder: remove this test's.
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(importer::DefaultUploadDir(), ec)) {
      std::string name = e.path().filename().string();
      if (name.starts_with(a_.merchant_id + "-") || name.starts_with(b_.merchant_id + "-"))
        std::filesystem::remove(e.path(), ec);
    }
  }

  importer::ImportWorkerOptions WorkerOptions() {
    importer::ImportWorkerOptions o;
    o.uploads.dir = importer::DefaultUploadDir();
    o.poll_interval = 20'000;
    return o;
  }
  void StartWorker() {
    worker_ = std::make_unique<importer::ImportWorker>(db(), clock_, WorkerOptions());
    worker_->Start();
  }

  Response Upload(std::string_view csv, const std::string& query, const std::string& key,
                  const std::string& idempotency_key = "") {
    httplib::Headers h;
    if (!idempotency_key.empty()) h.emplace("Idempotency-Key", idempotency_key);
    return Call("POST", "/api/v1/imports" + query, key, std::string(csv), h);
  }

  // Polls the job until it ends (the bound only guards against a hang; nothing is timed).
  json WaitForEnd(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = Get("/api/v1/imports/" + id, a_.owner_key);
      EXPECT_EQ(r.status, 200) << r.raw;
      std::string s = r.body.value("status", "");
      if (s == "succeeded" || s == "failed" || s == "cancelled") return r.body;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "import " << id << " did not end";
    return json();
  }

  void ExpectError(const Response& r, int status, const std::string& code,
                   const std::string& message, const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    EXPECT_EQ(r.body["error"]["message"], message) << r.raw;
    if (!field.empty()) EXPECT_EQ(r.body["error"].value("field", ""), field) << r.raw;
  }

  std::unique_ptr<importer::ImportWorker> worker_;
};

TEST_P(Imports, PreviewReadsBig5AndGuessesThePreset) {
  std::string file = ToBig5(
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
      "536365,85123A,珍珠奶茶,6,2010-12-01 08:26:00,2.55,17850.0,台灣\n"
      "536366,22633,\"紅茶, 大杯\",6,2010-12-01 08:28:00,1.85,17850.0,台灣\n");
  auto r = Call("POST", "/api/v1/imports/preview", a_.owner_key, file);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["encoding"], "big5");
  EXPECT_EQ(r.body["header"], json({"InvoiceNo", "StockCode", "Description", "Quantity",
                                    "InvoiceDate", "UnitPrice", "CustomerID", "Country"}));
  EXPECT_EQ(
      r.body["rows"],
      json({{"536365", "85123A", "珍珠奶茶", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "台灣"},
            {"536366", "22633", "紅茶, 大杯", "6", "2010-12-01 08:28:00", "1.85", "17850.0",
             "台灣"}}));
  EXPECT_EQ(r.body["preset"], "online-retail");
  EXPECT_EQ(r.body["mapping"], json({{"order_id", "InvoiceNo"},
                                     {"occurred_at", "InvoiceDate"},
                                     {"sku", "StockCode"},
                                     {"name", "Description"},
                                     {"quantity", "Quantity"},
                                     {"unit_price", "UnitPrice"},
                                     {"customer_id", "CustomerID"},
                                     {"country", "Country"}}));
  EXPECT_EQ(r.body["presets"], json({"generic", "shopify", "online-retail"}));
  EXPECT_EQ(r.body["fields"],
            json({"order_id", "occurred_at", "sku", "name", "category", "quantity", "unit_price",
                  "line_total", "customer_id", "phone", "email", "customer_name", "country", "city",
                  "branch", "currency", "cancelled"}));
  EXPECT_EQ(r.body["required"], json({"order_id", "occurred_at"}));

  // Chosen rather than detected; a header no preset fits.
  auto plain = Call("POST", "/api/v1/imports/preview?encoding=utf-8&delimiter=%3B", a_.owner_key,
                    "a;b\n1;2\n");
  ASSERT_EQ(plain.status, 200) << plain.raw;
  EXPECT_EQ(plain.body["encoding"], "utf-8");
  EXPECT_EQ(plain.body["header"], json({"a", "b"}));
  EXPECT_EQ(plain.body["rows"], json::array({json::array({"1", "2"})}));
  EXPECT_EQ(plain.body["preset"], nullptr);
  EXPECT_EQ(plain.body["mapping"], nullptr);

  ExpectError(Call("POST", "/api/v1/imports/preview", a_.owner_key, "order_id,occ\"urred_at\n"),
              400, "invalid_argument", "file: line 1, column 2: unexpected quote in unquoted field",
              "file");
  ExpectError(Call("POST", "/api/v1/imports/preview?encoding=latin1", a_.owner_key, "a\n"), 400,
              "invalid_argument", "encoding: must be auto, utf-8, big5 or gb18030", "encoding");
  ExpectError(Call("POST", "/api/v1/imports/preview", a_.owner_key, ""), 400, "invalid_argument",
              "file: is empty", "file");
  EXPECT_EQ(Count("import_jobs"), 0);
}

TEST_P(Imports, UploadRunsToAnExactReport) {
  StartWorker();
  auto created = Upload(kOrders, "?file_name=history.csv&preset=generic", a_.owner_key);
  ASSERT_EQ(created.status, 202) << created.raw;
  EXPECT_EQ(created.body["status"], "queued");
  EXPECT_EQ(created.body["file_name"], "history.csv");
  EXPECT_EQ(created.body["options"]["preset"], "generic");
  EXPECT_EQ(created.body["options"]["dry_run"], false);
  EXPECT_EQ(created.body["progress"]["total_bytes"], kOrders.size());
  EXPECT_EQ(created.body["report"], nullptr);
  std::string id = created.body["id"];

  json job = WaitForEnd(id);
  ASSERT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(job["error"], nullptr);
  EXPECT_EQ(job["progress"]["percent"], 100);
  EXPECT_NE(job["started_at"], nullptr);
  EXPECT_NE(job["finished_at"], nullptr);
  const json& rep = job["report"];
  EXPECT_EQ(rep["lines"], 6);
  EXPECT_EQ(rep["lines_imported"], 5);
  EXPECT_EQ(rep["lines_rejected"], 1);
  EXPECT_EQ(rep["orders_created"], 3);
  EXPECT_EQ(rep["orders_existing"], 0);
  EXPECT_EQ(rep["anonymous_orders"], 1);
  EXPECT_EQ(rep["refunds"], 1);
  EXPECT_EQ(rep["standalone_returns"], 0);
  EXPECT_EQ(rep["members_created"], 2);
  EXPECT_EQ(rep["revenue_minor"], (2 * 55 + 30 + 55 + 3 * 20) * 100);
  EXPECT_EQ(rep["refunded_minor"], 55 * 100);
  EXPECT_EQ(rep["currency"], "TWD");
  EXPECT_EQ(rep["encoding"], "utf-8");
  EXPECT_EQ(rep["dry_run"], false);
  EXPECT_EQ(rep["committed"], true);
  ASSERT_EQ(rep["rejected"].size(), 1u);
  EXPECT_EQ(rep["rejected"][0]["line"], 6);
  EXPECT_EQ(rep["rejected"][0]["column"], "quantity");
  EXPECT_EQ(Count("orders"), 3);
  EXPECT_EQ(Count("members"), 2);

  auto rejected = Get("/api/v1/imports/" + id + "/rejected", a_.owner_key);
  ASSERT_EQ(rejected.status, 200) << rejected.raw;
  EXPECT_EQ(rejected.headers.find("Content-Type")->second, "text/csv; charset=utf-8");
  std::string reason = rep["rejected"][0]["reason"];
  std::string cell = reason.find_first_of(",\"") == std::string::npos ? reason : "";
  if (cell.empty()) {
    cell = "\"";
    for (char c : reason) cell += c == '"' ? std::string("\"\"") : std::string(1, c);
    cell += "\"";
  }
  EXPECT_EQ(rejected.raw, "line,column,reason\r\n6,quantity," + cell + "\r\n");

  auto list = Get("/api/v1/imports", a_.owner_key);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["data"].size(), 1u);
  EXPECT_EQ(list.body["data"][0]["id"], id);
  EXPECT_EQ(list.body["next_cursor"], nullptr);
  // Another merchant sees none of it.
  EXPECT_EQ(Get("/api/v1/imports", b_.owner_key).body["data"].size(), 0u);
  ExpectError(Get("/api/v1/imports/" + id, b_.owner_key), 404, "not_found", "import not found");

  // The same file again adds nothing: every order is already there.
  auto again = Upload(kOrders, "?preset=generic", a_.owner_key);
  ASSERT_EQ(again.status, 202) << again.raw;
  json second = WaitForEnd(again.body["id"]);
  ASSERT_EQ(second["status"], "succeeded") << second.dump();
  EXPECT_EQ(second["report"]["orders_created"], 0);
  EXPECT_EQ(second["report"]["orders_existing"], 3);
  EXPECT_EQ(Count("orders"), 3);
  auto newest = Get("/api/v1/imports?limit=1", a_.owner_key);
  EXPECT_EQ(newest.body["data"][0]["id"], again.body["id"]);
  ASSERT_TRUE(newest.body["next_cursor"].is_string());
  auto older =
      Get("/api/v1/imports?limit=1&cursor=" + newest.body["next_cursor"].get<std::string>(),
          a_.owner_key);
  EXPECT_EQ(older.body["data"][0]["id"], id);
}

TEST_P(Imports, DryRunLeavesNoOrders) {
  StartWorker();
  auto created = Upload(kOrders, "?preset=generic&dry_run=true", a_.owner_key);
  ASSERT_EQ(created.status, 202) << created.raw;
  EXPECT_EQ(created.body["options"]["dry_run"], true);
  json job = WaitForEnd(created.body["id"]);
  ASSERT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(job["report"]["dry_run"], true);
  EXPECT_EQ(job["report"]["committed"], false);
  EXPECT_EQ(job["report"]["orders_created"], 3);
  EXPECT_EQ(job["report"]["members_created"], 2);
  EXPECT_EQ(Count("orders"), 0);
  EXPECT_EQ(Count("members"), 0);
  EXPECT_EQ(Count("refunds"), 0);
}

TEST_P(Imports, AllOrNothingWithARejectedLineFailsAndWritesNothing) {
  StartWorker();
  auto created = Upload(kOrders, "?preset=generic&all_or_nothing=true", a_.owner_key);
  ASSERT_EQ(created.status, 202) << created.raw;
  json job = WaitForEnd(created.body["id"]);
  EXPECT_EQ(job["status"], "failed") << job.dump();
  EXPECT_EQ(job["error"], "1 line(s) rejected; nothing was imported (all or nothing)");
  EXPECT_EQ(job["report"]["lines_rejected"], 1);
  EXPECT_EQ(job["report"]["committed"], false);
  EXPECT_EQ(Count("orders"), 0);
  EXPECT_EQ(Count("members"), 0);
}

TEST_P(Imports, CancelStopsQueuedAndRunningJobs) {
  // Queued: it ends at once and the worker finds nothing to do.
  auto queued = Upload(kOrders, "?preset=generic", a_.owner_key);
  ASSERT_EQ(queued.status, 202) << queued.raw;
  std::string qid = queued.body["id"];
  auto c = Post("/api/v1/imports/" + qid + "/cancel", a_.owner_key, json::object());
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(c.body["status"], "cancelled");
  EXPECT_NE(c.body["finished_at"], nullptr);
  ExpectError(Post("/api/v1/imports/" + qid + "/cancel", a_.owner_key, json::object()), 409,
              "failed_precondition", "the import already ended (cancelled)");
  importer::ImportWorker idle(db(), clock_, WorkerOptions());
  auto none = idle.RunOnce();
  ASSERT_TRUE(none.has_value()) << none.error().ToString();
  EXPECT_FALSE(*none);
  EXPECT_EQ(Count("orders"), 0);

  // Running: one order per batch; the cancel arrives during the first batch's progress report,
  // so the job stops after it with what that batch committed.
  auto running = Upload(kOrders, "?preset=generic", a_.owner_key);
  ASSERT_EQ(running.status, 202) << running.raw;
  std::string rid = running.body["id"];
  auto options = WorkerOptions();
  options.batch_orders = 1;
  int batches = 0;
  options.on_batch = [&](const importer::ImportJob&, const importer::Progress&) {
    if (++batches != 1) return;
    auto during = Post("/api/v1/imports/" + rid + "/cancel", a_.owner_key, json::object());
    EXPECT_EQ(during.status, 200) << during.raw;
    EXPECT_EQ(during.body["status"], "running");
    EXPECT_EQ(during.body["cancel_requested"], true);
  };
  importer::ImportWorker worker(db(), clock_, options);
  auto ran = worker.RunOnce();
  ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
  EXPECT_TRUE(*ran);
  EXPECT_EQ(batches, 1);
  auto job = Get("/api/v1/imports/" + rid, a_.owner_key);
  EXPECT_EQ(job.body["status"], "cancelled") << job.raw;
  ASSERT_TRUE(job.body["report"].is_object()) << job.raw;
  EXPECT_EQ(job.body["report"]["orders_created"], 1);
  EXPECT_EQ(Count("orders"), 1);
  ExpectError(Post("/api/v1/imports/" + rid + "/cancel", a_.owner_key, json::object()), 409,
              "failed_precondition", "the import already ended (cancelled)");
}

// A server stopping mid-import puts the job back in the queue after the current batch; the next
// worker completes it, skipping what was committed.
TEST_P(Imports, StoppingTheWorkerRequeuesARunningJob) {
  auto created = Upload(kOrders, "?preset=generic", a_.owner_key);
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string id = created.body["id"];
  std::unique_ptr<importer::ImportWorker> stopping;
  auto options = WorkerOptions();
  options.batch_orders = 1;
  options.on_batch = [&](const importer::ImportJob&, const importer::Progress&) {
    stopping->Stop();  // RunOnce runs on this thread: Stop only raises the flag
  };
  stopping = std::make_unique<importer::ImportWorker>(db(), clock_, options);
  auto ran = stopping->RunOnce();
  ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
  auto job = Get("/api/v1/imports/" + id, a_.owner_key);
  EXPECT_EQ(job.body["status"], "queued") << job.raw;
  EXPECT_EQ(job.body["report"], nullptr);
  EXPECT_EQ(Count("orders"), 1);

  StartWorker();
  json done = WaitForEnd(id);
  ASSERT_EQ(done["status"], "succeeded") << done.dump();
  EXPECT_EQ(done["report"]["orders_created"], 2);
  EXPECT_EQ(done["report"]["orders_existing"], 1);
  EXPECT_EQ(Count("orders"), 3);
}

TEST_P(Imports, CashierIsRefused) {
  auto id = Upload(kOrders, "?preset=generic", a_.owner_key).body.value("id", "");
  const std::string msg = "only an owner or manager may import orders";
  ExpectError(Call("POST", "/api/v1/imports/preview", a_.cashier_key, std::string(kOrders)), 403,
              "permission_denied", msg);
  ExpectError(Upload(kOrders, "?preset=generic", a_.cashier_key), 403, "permission_denied", msg);
  ExpectError(Get("/api/v1/imports", a_.cashier_key), 403, "permission_denied", msg);
  ExpectError(Get("/api/v1/imports/" + id, a_.cashier_key), 403, "permission_denied", msg);
  ExpectError(Get("/api/v1/imports/" + id + "/rejected", a_.cashier_key), 403, "permission_denied",
              msg);
  ExpectError(Post("/api/v1/imports/" + id + "/cancel", a_.cashier_key, json::object()), 403,
              "permission_denied", msg);
  EXPECT_EQ(Count("import_jobs"), 1);
  EXPECT_EQ(Get("/api/v1/imports/" + id, a_.owner_key).body["status"], "queued");
}

TEST_P(Imports, BadOptionsNameTheirField) {
  ExpectError(Upload(kOrders, "?preset=square", a_.owner_key), 400, "invalid_argument",
              "preset: unknown preset \"square\"; the presets are generic, shopify, online-retail",
              "preset");
  // mapping={"order_id":"order_id","occurred_at":"occurred_at","colour":"name"}
  ExpectError(Upload(kOrders,
                     "?mapping=%7B%22order_id%22%3A%22order_id%22%2C%22occurred_at%22%3A%22"
                     "occurred_at%22%2C%22colour%22%3A%22name%22%7D",
                     a_.owner_key),
              400, "invalid_argument",
              "mapping.colour: unknown field; the fields are order_id, occurred_at, sku, name, "
              "category, quantity, unit_price, line_total, customer_id, phone, email, "
              "customer_name, country, city, branch, currency, cancelled",
              "mapping.colour");
  ExpectError(Upload(kOrders, "?mapping=%7B%22sku%22%3A%22sku%22%7D", a_.owner_key), 400,
              "invalid_argument", "mapping.order_id: is required: name the column that holds it",
              "mapping.order_id");
  ExpectError(Upload(kOrders, "?mapping=%5B1%5D", a_.owner_key), 400, "invalid_argument",
              "mapping: must be a JSON object of field to column name", "mapping");
  ExpectError(Upload(kOrders, "?preset=generic&dry_run=maybe", a_.owner_key), 400,
              "invalid_argument", "dry_run: must be true or false", "dry_run");
  ExpectError(Upload(kOrders, "?preset=generic&encoding=latin1", a_.owner_key), 400,
              "invalid_argument", "encoding: must be auto, utf-8, big5 or gb18030", "encoding");
  ExpectError(Upload("", "?preset=generic", a_.owner_key), 400, "invalid_argument",
              "file: is empty: send the file as the request body", "file");
  // A file sent as a form (curl --data-binary's default type) would be parsed as parameters.
  httplib::Client form("127.0.0.1", port_);
  auto sent =
      form.Post("/api/v1/imports?preset=generic", {{"Authorization", "Bearer " + a_.owner_key}},
                std::string(kOrders), "application/x-www-form-urlencoded");
  ASSERT_TRUE(sent) << httplib::to_string(sent.error());
  Response as_form{sent->status, json::parse(sent->body, nullptr, false), sent->body, {}};
  ExpectError(as_form, 400, "invalid_argument",
              "Content-Type: send the file as text/csv, application/gzip or "
              "application/octet-stream, not as a form",
              "Content-Type");
  EXPECT_EQ(Count("import_jobs"), 0);

  // A mapping overrides the preset's fields; the job shows both.
  auto mapped =
      Upload(kOrders, "?preset=generic&mapping=%7B%22name%22%3A%22sku%22%7D&cancel_prefix=X",
             a_.owner_key);
  ASSERT_EQ(mapped.status, 202) << mapped.raw;
  EXPECT_EQ(mapped.body["options"]["mapping"], json({{"name", "sku"}}));
  EXPECT_EQ(mapped.body["options"]["cancel_prefix"], "X");
}

TEST_P(Imports, UploadsMayExceedTheJsonBodyLimit) {
  std::string big(kOrders);
  big.reserve(3 << 20);
  for (int i = 0; big.size() < (size_t{2} << 20); ++i)
    big += "B" + std::to_string(i) + ",2025-02-01 10:00:00,T1,珍珠奶茶,1,55,,,,\n";
  auto r = Upload(big, "?preset=generic", a_.owner_key);
  ASSERT_EQ(r.status, 202) << r.raw.substr(0, 500);
  EXPECT_EQ(r.body["progress"]["total_bytes"], big.size());
  // JSON routes keep their 1 MiB limit, refused from Content-Length before the body is read:
  // the answer comes while the client has sent only its headers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string head = "POST /api/v1/members HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                     a_.owner_key + "\r\nContent-Length: " + std::to_string(size_t{2} << 20) +
                     "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_NE(answer.find(R"({"error":{"code":"invalid_argument","details":{},"field":"body",)"
                        R"("message":"body: larger than the 1 MiB limit"}})"),
            std::string::npos)
      << answer;
}

TEST_P(Imports, IdempotentReplayReturnsTheSameJob) {
  auto first = Upload(kOrders, "?preset=generic&file_name=a.csv", a_.owner_key, "imp-1");
  ASSERT_EQ(first.status, 202) << first.raw;
  auto replay = Upload(kOrders, "?preset=generic&file_name=a.csv", a_.owner_key, "imp-1");
  EXPECT_EQ(replay.status, 202);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(replay.headers.find("Idempotent-Replayed")->second, "true");
  EXPECT_EQ(Count("import_jobs"), 1);
  // Another file, or other options, under the same key is a different request.
  std::string other(kOrders);
  other += "A6,2025-01-10 10:00:00,T1,珍珠奶茶,1,55,,,,\n";
  ExpectError(Upload(other, "?preset=generic&file_name=a.csv", a_.owner_key, "imp-1"), 422,
              "idempotency_mismatch", "Idempotency-Key was already used with a different request",
              "Idempotency-Key");
  ExpectError(
      Upload(kOrders, "?preset=generic&file_name=a.csv&dry_run=true", a_.owner_key, "imp-1"), 422,
      "idempotency_mismatch", "Idempotency-Key was already used with a different request",
      "Idempotency-Key");
  EXPECT_EQ(Count("import_jobs"), 1);
}

TEST_P(Imports, AJobLeftRunningByADeadServerIsRerunWithoutDuplicates) {
  auto created = Upload(kOrders, "?preset=generic", a_.owner_key);
  ASSERT_EQ(created.status, 202) << created.raw;
  std::string id = created.body["id"];
  Id job_id = *ParseId(id);
  Id merchant = *ParseId(a_.merchant_id);
  auto path = db().ReadValue([&](store::Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT file_path FROM import_jobs WHERE "
                                            "merchant_id = ? AND id = ?",
                                            {merchant, job_id}));
    return rows[0].Str(0);
  });
  ASSERT_TRUE(path.has_value()) << path.error().ToString();
  // The dead server's work: the first order committed, then the process was gone.
  importer::ImportRequest request;
  request.preset = "generic";
  auto options = importer::ResolveImportOptions(request);
  ASSERT_TRUE(options.has_value()) << options.error().ToString();
  options->batch_orders = 1;
  auto partial =
      importer::ImportOrdersFile(db(), accounts::SystemActor(merchant, clock_.Now()), *path,
                                 *options, [](const importer::Progress&) { return false; });
  ASSERT_TRUE(partial.has_value()) << partial.error().ToString();
  ASSERT_EQ(Count("orders"), 1);
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
                    RG_TRY(
                        tx.Exec("UPDATE import_jobs SET status = 'running', started_at = ?, "
                                "claimed_by = 'a-server-that-died', lease_until = 0, lines = 2 "
                                "WHERE merchant_id = ? AND id = ?",
                                {clock_.Now(), merchant, job_id}));
                    return {};
                  })
                  .has_value());
  EXPECT_EQ(Get("/api/v1/imports/" + id, a_.owner_key).body["status"], "running");

  StartWorker();  // recovers the job, then runs it
  json job = WaitForEnd(id);
  ASSERT_EQ(job["status"], "succeeded") << job.dump();
  EXPECT_EQ(job["report"]["orders_created"], 2);
  EXPECT_EQ(job["report"]["orders_existing"], 1);
  EXPECT_EQ(Count("orders"), 3);
  EXPECT_EQ(Count("members"), 2);
}

RG_INSTANTIATE_BACKENDS(Imports);

}  // namespace
}  // namespace regulars::testing
