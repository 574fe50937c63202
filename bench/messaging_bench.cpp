// bench_messaging: the messaging core alone (no HTTP).
//
//   bench_messaging render-enqueue N DB_URL    render a personalised e-mail template for N
//                                              members and enqueue each (the outbox row;
//                                              no event since session 12), 5,000 per
//                                              transaction
//   bench_messaging render-enqueue-bulk N DB_URL [BATCH [PIPELINED]]
//                                              the same messages through the bulk path
//                                              (outbox_bulk.h EnqueueBatch: variables bound
//                                              by position, multi-row INSERTs), BATCH
//                                              members per transaction [20000]; then runs
//                                              again and checks that nothing is enqueued.
//                                              PIPELINED=1: batch k+1 is rendered on this
//                                              thread (RenderBatch) while batch k is written
//                                              (EnqueueRendered) [0]. Also prints the first
//                                              pass's CPU seconds (all threads) and the
//                                              database's size after it (SQLite)
//   bench_messaging render N                   rendering alone, both ways: a JSON context
//                                              per member + Render, and RenderBound
//   bench_messaging deliver N DB_URL PORT W [U [FLAGS]]
//                                              enqueue N messages for an SMTP channel at
//                                              127.0.0.1:PORT (not timed), then time W sender
//                                              workers draining the outbox into it, each with
//                                              at most U deliveries awaiting their `sent`
//                                              commit (SenderOptions::max_uncommitted, default
//                                              0). FLAGS, comma-separated: "durable" (the
//                                              sender's commits durable, relaxed_commits =
//                                              false), "curl" (security starttls_optional: the
//                                              libcurl client, plain when the server offers no
//                                              STARTTLS, instead of the pipelining session)
// Prints one line "RESULT what=... n=N seconds=S rate=R".

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/outbox_bulk.h"
#include "messaging/sender.h"
#include "messaging/template.h"
#include "store/db.h"
#include "store/migrations.h"

using namespace regulars;
using namespace regulars::messaging;

namespace {

constexpr Id kMerchant = 1;

// User + system CPU of the whole process (every thread) so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void Die(const Error& e) {
  fmt::print(stderr, "bench_messaging: {}\n", e.ToString());
  std::exit(1);
}

std::unique_ptr<store::Database> Setup(const std::string& url, nlohmann::json channel_settings,
                                       ChannelKind kind) {
  store::Options o;
  o.url = url;
  auto db = store::Open(o);
  if (!db) Die(db.error());
  if (auto m = store::Migrate(**db, *SystemClock::Default()); !m) Die(m.error());
  auto s = (*db)->Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
        "created_at, updated_at) VALUES (?, 'Bean & Leaf', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', "
        "0, 0)",
        {kMerchant}));
    ChannelRow ch;
    ch.merchant_id = kMerchant;
    ch.id = 1;
    ch.kind = kind;
    ch.name = "bench";
    ch.settings = std::move(channel_settings);
    RG_TRY(CreateChannel(tx, nullptr, ch, nlohmann::json::object(), 0));
    return {};
  });
  if (!s) Die(s.error());
  return std::move(*db);
}

Template Personalised() {
  Template t;
  t.name = "points";
  t.medium = Medium::kEmail;
  t.purpose = Purpose::kMarketing;
  t.variants["zh-TW"] = {"{{member.name}}，您有 {{balances.points.points}} 點",
                         "親愛的 {{member.name}}：\n您目前有 {{balances.points.points}} 點，"
                         "儲值金 {{balances.wallet.total_minor}}。\n退訂：{{unsubscribe_url}}\n",
                         "<p>親愛的 <b>{{member.name}}</b>：</p><p>您目前有 "
                         "{{balances.points.points}} 點。</p><p><a "
                         "href=\"{{unsubscribe_url}}\">退訂</a></p>"};
  t.variants["en"] = {"{{member.name}}, you have {{balances.points.points}} points",
                      "Dear {{member.name}},\nyou have {{balances.points.points}} points.\n"
                      "Unsubscribe: {{unsubscribe_url}}\n",
                      "<p>Dear <b>{{member.name}}</b>,</p><p><a "
                      "href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>"};
  return t;
}

void RenderEnqueue(int n, const std::string& url) {
  auto db = Setup(url, nlohmann::json::object(), ChannelKind::kLog);
  auto compiled = CompiledTemplate::Compile(Personalised());
  if (!compiled) Die(compiled.error());
  Micros now = SystemClock::Default()->Now();
  auto t0 = std::chrono::steady_clock::now();
  constexpr int kBatch = 5000;
  std::vector<NewMessage> batch;
  batch.reserve(kBatch);
  for (int start = 0; start < n; start += kBatch) {
    batch.clear();
    for (int i = start; i < std::min(n, start + kBatch); ++i) {
      nlohmann::json ctx = {
          {"member", {{"name", fmt::format("會員{}", i)}, {"language", i % 3 ? "zh-TW" : "en"}}},
          {"merchant", {{"name", "Bean & Leaf"}}},
          {"balances",
           {{"points", {{"points", i % 5000}}}, {"wallet", {{"total_minor", i % 100000}}}}},
          {"unsubscribe_url", fmt::format("https://r.example/u/{:x}", i * 2654435761u)}};
      auto r = compiled->Render(ctx, i % 3 ? "zh-TW" : "en", "zh-TW");
      if (!r) Die(r.error());
      NewMessage m;
      m.dedup_key = fmt::format("campaign:1:{}", i);
      m.member_id = 1'000'000 + i;
      m.channel_id = 1;
      m.medium = Medium::kEmail;
      m.purpose = Purpose::kMarketing;
      m.recipient = fmt::format("m{}@example.com", i);
      m.subject = std::move(r->subject);
      m.text = std::move(r->text);
      m.html = std::move(r->html);
      m.headers = std::move(r->headers);
      batch.push_back(std::move(m));
    }
    auto s = db->Write([&](store::Tx& tx) -> Status {
      for (const NewMessage& m : batch) RG_TRY(Enqueue(tx, kMerchant, now, m));
      return {};
    });
    if (!s) Die(s.error());
  }
  double secs = Since(t0);
  fmt::print("RESULT what=render_enqueue n={} seconds={:.3f} rate={:.0f}\n", n, secs, n / secs);
}

// The bulk path's members: the variables Personalised() uses, by position.
const std::vector<std::string> kBulkVariables = {"member.name", "balances.points.points",
                                                 "balances.wallet.total_minor", "unsubscribe_url"};

BulkMember MakeBulkMember(int i) {
  BulkMember b;
  b.member_id = 1'000'000 + i;
  b.dedup_key = fmt::format("campaign:1:{}", i);
  b.recipient = fmt::format("m{}@example.com", i);
  b.language = i % 3 ? "zh-TW" : "en";
  b.values = {fmt::format("會員{}", i), fmt::format("{}", i % 5000), fmt::format("{}", i % 100000),
              fmt::format("https://r.example/u/{:x}", i * 2654435761u)};
  return b;
}

BulkRequest MakeBulkRequest(CompiledTemplate* t) {
  BulkRequest req;
  req.tmpl = t;
  req.channel_id = 1;
  req.merchant_language = "zh-TW";
  req.variables = kBulkVariables;
  req.shared = {{"merchant", {{"name", "Bean & Leaf"}}}};
  return req;
}

// One pass over n members in transactions of `batch`; returns (created, seconds). Pipelined:
// this thread builds and renders batch k+1 (RenderBatch) while the database writes batch k
// (EnqueueRendered); otherwise EnqueueBatch renders inside the transaction.
std::pair<int64_t, double> BulkPass(store::Database& db, CompiledTemplate& t, int n, int batch,
                                    Micros now, bool pipelined) {
  BulkRequest req = MakeBulkRequest(&t);
  std::vector<BulkMember> members;
  members.reserve(batch);
  int64_t created = 0;
  std::vector<NewMessage> writing;
  std::future<Result<BulkEnqueued>> pending;
  auto collect = [&] {
    if (!pending.valid()) return;
    auto r = pending.get();
    if (!r) Die(r.error());
    created += r->created;
  };
  auto t0 = std::chrono::steady_clock::now();
  for (int start = 0; start < n; start += batch) {
    members.clear();
    for (int i = start; i < std::min(n, start + batch); ++i) members.push_back(MakeBulkMember(i));
    if (!pipelined) {
      auto r = db.WriteValue(
          [&](store::Tx& tx) { return EnqueueBatch(tx, kMerchant, now, req, members); });
      if (!r) Die(r.error());
      created += r->created;
      continue;
    }
    auto rendered = RenderBatch(req, members);
    if (!rendered) Die(rendered.error());
    collect();
    writing = std::move(*rendered);
    pending = std::async(std::launch::async, [&] {
      return db.WriteValue(
          [&](store::Tx& tx) { return EnqueueRendered(tx, kMerchant, now, req, writing); });
    });
  }
  collect();
  return {created, Since(t0)};
}

void RenderEnqueueBulk(int n, const std::string& url, int batch, bool pipelined) {
  auto db = Setup(url, nlohmann::json::object(), ChannelKind::kLog);
  auto compiled = CompiledTemplate::Compile(Personalised());
  if (!compiled) Die(compiled.error());
  Micros now = SystemClock::Default()->Now();
  double cpu0 = CpuSeconds();
  auto [created, secs] = BulkPass(*db, *compiled, n, batch, now, pipelined);
  double cpu = CpuSeconds() - cpu0;
  if (created != n) Die(MakeError(Code::kInternal, fmt::format("created {} of {}", created, n)));
  // The database's size after the first pass (SQLite: pages in use, the WAL's included).
  int64_t bytes = 0;
  if (db->dialect() == store::Dialect::kSqlite) {
    auto r = db->ReadValue([](store::Tx& tx) {
      return tx.Query("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
    });
    if (!r) Die(r.error());
    bytes = (*r)[0].Int(0);
  }
  auto [again, secs2] = BulkPass(*db, *compiled, n, batch, now, pipelined);
  if (again != 0) Die(MakeError(Code::kInternal, fmt::format("re-run created {}", again)));
  fmt::print(
      "RESULT what=render_enqueue_bulk n={} seconds={:.3f} rate={:.0f} batch={} pipelined={} "
      "rerun_seconds={:.3f} cpu_seconds={:.3f} db_bytes={}\n",
      n, secs, n / secs, batch, pipelined ? 1 : 0, secs2, cpu, bytes);
}

void RenderOnly(int n) {
  auto compiled = CompiledTemplate::Compile(Personalised());
  if (!compiled) Die(compiled.error());
  size_t bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    nlohmann::json ctx = {
        {"member", {{"name", fmt::format("會員{}", i)}, {"language", i % 3 ? "zh-TW" : "en"}}},
        {"merchant", {{"name", "Bean & Leaf"}}},
        {"balances",
         {{"points", {{"points", i % 5000}}}, {"wallet", {{"total_minor", i % 100000}}}}},
        {"unsubscribe_url", fmt::format("https://r.example/u/{:x}", i * 2654435761u)}};
    auto r = compiled->Render(ctx, i % 3 ? "zh-TW" : "en", "zh-TW");
    if (!r) Die(r.error());
    bytes += r->text.size() + r->html.size();
  }
  double json_secs = Since(t0);
  BulkRequest req = MakeBulkRequest(&*compiled);
  if (auto s = compiled->Bind(req.variables, req.shared); !s) Die(s.error());
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    BulkMember b = MakeBulkMember(i);
    auto r = compiled->RenderBound(b.values, b.language, "zh-TW");
    if (!r) Die(r.error());
    bytes += r->text.size() + r->html.size();
  }
  double bound_secs = Since(t0);
  fmt::print("RESULT what=render n={} json_seconds={:.3f} bound_seconds={:.3f} bytes={}\n", n,
             json_secs, bound_secs, bytes);
}

void Deliver(int n, const std::string& url, int port, int workers, int max_uncommitted,
             const std::string& flags) {
  const bool durable = flags.find("durable") != std::string::npos;
  const bool curl = flags.find("curl") != std::string::npos;
  auto db = Setup(url,
                  {{"host", "127.0.0.1"},
                   {"port", port},
                   {"security", curl ? "starttls_optional" : "none"},
                   {"from", "Shop <shop@example.com>"}},
                  ChannelKind::kSmtp);
  Micros now = SystemClock::Default()->Now();
  for (int start = 0; start < n; start += 5000) {
    auto s = db->Write([&](store::Tx& tx) -> Status {
      for (int i = start; i < std::min(n, start + 5000); ++i) {
        NewMessage m;
        m.dedup_key = fmt::format("d:{}", i);
        m.channel_id = 1;
        m.medium = Medium::kEmail;
        m.purpose = Purpose::kTransactional;
        m.recipient = fmt::format("m{}@example.com", i);
        m.subject = "Your receipt";
        m.text = fmt::format("Thanks for order {}.", i);
        RG_TRY(Enqueue(tx, kMerchant, now, m));
      }
      return {};
    });
    if (!s) Die(s.error());
  }
  SenderOptions o;
  o.workers = workers;
  o.batch = 32;
  o.idle_wait = 5'000;
  o.max_uncommitted = max_uncommitted;
  o.relaxed_commits = !durable;
  Sender sender(*db, *SystemClock::Default(), o);
  const store::WriteStats before = db->Stats();
  auto t0 = std::chrono::steady_clock::now();
  sender.Start();
  while (sender.sent() + sender.failed() < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  double secs = Since(t0);
  sender.Stop();
  const store::WriteStats after = db->Stats();
  // transactions: the database's commits during delivery (claims, `sent` rows, ...); on SQLite
  // the writer groups concurrent Writes into one, so this can be below the Write calls.
  fmt::print(
      "RESULT what=deliver n={} seconds={:.3f} rate={:.0f} failed={} max_uncommitted={} "
      "sent_commits={} transactions={} relaxed={} client={}\n",
      n, secs, n / secs, sender.failed(), max_uncommitted, sender.sent_commits(),
      (after.durable_commits + after.relaxed_commits) -
          (before.durable_commits + before.relaxed_commits),
      !durable, curl ? "curl" : "session");
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "render-enqueue" && argc == 4) {
    RenderEnqueue(std::atoi(argv[2]), argv[3]);
  } else if (mode == "render-enqueue-bulk" && argc >= 4 && argc <= 6) {
    RenderEnqueueBulk(std::atoi(argv[2]), argv[3], argc >= 5 ? std::atoi(argv[4]) : 20000,
                      argc == 6 && std::atoi(argv[5]) != 0);
  } else if (mode == "render" && argc == 3) {
    RenderOnly(std::atoi(argv[2]));
  } else if (mode == "deliver" && argc >= 6 && argc <= 8) {
    Deliver(std::atoi(argv[2]), argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
            argc >= 7 ? std::atoi(argv[6]) : SenderOptions{}.max_uncommitted,
            argc == 8 ? argv[7] : "");
  } else {
    fmt::print(stderr,
               "usage: bench_messaging render-enqueue N DB_URL\n"
               "       bench_messaging render-enqueue-bulk N DB_URL [BATCH [PIPELINED]]\n"
               "       bench_messaging render N\n"
               "       bench_messaging deliver N DB_URL PORT WORKERS [MAX_UNCOMMITTED [FLAGS]]\n");
    return 2;
  }
  return 0;
}
