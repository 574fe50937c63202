// bench_messaging: the messaging core alone (no HTTP).
//
//   bench_messaging render-enqueue N DB_URL    render a personalised e-mail template for N
//                                              members and enqueue each (outbox row + its
//                                              message_queued event), 5,000 per transaction
//   bench_messaging deliver N DB_URL PORT W    enqueue N messages for an SMTP channel at
//                                              127.0.0.1:PORT (not timed), then time W sender
//                                              workers draining the outbox into it
// Prints one line "RESULT what=... n=N seconds=S rate=R".

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/sender.h"
#include "messaging/template.h"
#include "store/db.h"
#include "store/migrations.h"

using namespace regulars;
using namespace regulars::messaging;

namespace {

constexpr Id kMerchant = 1;

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

void Deliver(int n, const std::string& url, int port, int workers) {
  auto db = Setup(url,
                  {{"host", "127.0.0.1"},
                   {"port", port},
                   {"security", "none"},
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
  Sender sender(*db, *SystemClock::Default(), o);
  auto t0 = std::chrono::steady_clock::now();
  sender.Start();
  while (sender.sent() + sender.failed() < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  double secs = Since(t0);
  sender.Stop();
  fmt::print("RESULT what=deliver n={} seconds={:.3f} rate={:.0f} failed={}\n", n, secs, n / secs,
             sender.failed());
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "render-enqueue" && argc == 4) {
    RenderEnqueue(std::atoi(argv[2]), argv[3]);
  } else if (mode == "deliver" && argc == 6) {
    Deliver(std::atoi(argv[2]), argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
  } else {
    fmt::print(stderr,
               "usage: bench_messaging render-enqueue N DB_URL\n"
               "       bench_messaging deliver N DB_URL PORT WORKERS\n");
    return 2;
  }
  return 0;
}
