// What this test proves: a message in the outbox reaches the mailbox exactly once (after the
// receiver's Message-ID deduplication) however often the sender process dies.
//
// 10,000 messages are enqueued for a real SMTP server (python3-aiosmtpd with
// tests/smtp_receiver.py, which keeps every raw delivery as a file). The sender — this binary
// re-executed as a child, running messaging::Sender with one worker against the same SQLite
// database — is killed with SIGKILL at a random moment (50–1500 ms after it starts) 50 times and
// restarted each time; the last run goes on until the outbox is drained. Then:
//   - every dedup key arrived: the set of received Message-IDs is exactly the set of
//     DeliveryIdentity("<merchant>/<key>") of the 10,000 keys;
//   - every outbox row is `sent`;
//   - the raw re-deliveries (received files minus distinct Message-IDs: a kill between the
//     server's 250 and the `sent` commit) are printed and at most the number of kills (one
//     worker has at most one message in that window).
// F's fake SMS provider is not part of it yet (SMTP only).
//
// OUTBOX_CRASH_ROUNDS / OUTBOX_CRASH_MESSAGES override the defaults for quick local runs.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "base/time.h"
#include "messaging/channel.h"
#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/sender.h"
#include "messaging/smtp_test_server.h"
#include "store/testing.h"

extern char** environ;

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 31;
constexpr char kChildEnv[] = "RG_OUTBOX_CRASH_CHILD";

store::Options DbOptions(const std::string& url) {
  store::Options o;
  o.url = url;
  o.sqlite_synchronous = "NORMAL";  // survives process crashes, which is what is tested
  return o;
}

// Child mode: run the sender until killed.
[[noreturn]] void RunChild(const std::string& url) {
  auto db = store::Open(DbOptions(url));
  if (!db) {
    fmt::print(stderr, "child: {}\n", db.error().ToString());
    _exit(2);
  }
  SenderOptions opt;
  opt.workers = 1;
  opt.batch = 8;
  opt.lease = 2 * kMicrosPerSecond;
  opt.idle_wait = 20'000;
  opt.retry.base = 100'000;  // temporary errors come back quickly here
  Sender sender(**db, *SystemClock::Default(), opt);
  sender.Start();
  while (true) std::this_thread::sleep_for(std::chrono::seconds(60));
}

const bool kIsChild = [] {
  if (const char* url = getenv(kChildEnv)) RunChild(url);
  return false;
}();

pid_t SpawnChild(const std::string& url) {
  std::string env = std::string(kChildEnv) + "=" + url;
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(env.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  pid_t pid = -1;
  posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data());
  return pid;
}

int EnvInt(const char* name, int def) {
  const char* v = getenv(name);
  return v ? atoi(v) : def;
}

std::string MessageIdOf(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line.starts_with("Message-ID: ")) return line.substr(12);
  }
  return "";
}

TEST(OutboxCrashTest, EveryMessageArrivesOnceAcrossSigkills) {
  const int kRounds = EnvInt("OUTBOX_CRASH_ROUNDS", 50);
  const int kMessages = EnvInt("OUTBOX_CRASH_MESSAGES", 10000);
  char tmpl[] = "/tmp/rg-outbox-crash-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  testing::SmtpTestServer smtp(dir + "/mail");
  ASSERT_TRUE(smtp.running());

  auto url = store::CreateTestDatabaseUrl("sqlite");
  ASSERT_TRUE(url.has_value()) << url.error().ToString();
  std::set<std::string> expected;
  {
    auto db = store::Open(DbOptions(*url));
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    ASSERT_TRUE((*db)->Write([&](store::Tx& tx) -> Status {
      RG_TRY(tx.Exec(
          "INSERT INTO merchants (merchant_id, name, region, currency, timezone, language, "
          "created_at, updated_at) VALUES (?, 'm', 'TW', 'TWD', 'Asia/Taipei', 'zh-TW', 0, 0)",
          {kMerchant}));
      ChannelRow ch;
      ch.merchant_id = kMerchant;
      ch.id = 1;
      ch.kind = ChannelKind::kSmtp;
      ch.name = "aiosmtpd";
      ch.settings = {{"host", "127.0.0.1"},
                     {"port", smtp.port()},
                     {"security", "none"},
                     {"from", "Shop <shop@example.com>"},
                     {"timeout_ms", 5000}};
      RG_TRY(CreateChannel(tx, nullptr, ch, nlohmann::json::object(), 0));
      return {};
    }));
    Micros now = SystemClock::Default()->Now();
    for (int start = 0; start < kMessages; start += 500) {
      ASSERT_TRUE((*db)->Write([&](store::Tx& tx) -> Status {
        for (int i = start; i < std::min(kMessages, start + 500); ++i) {
          NewMessage m;
          m.dedup_key = fmt::format("crash:{}", i);
          m.channel_id = 1;
          m.medium = Medium::kEmail;
          m.purpose = Purpose::kTransactional;
          m.recipient = fmt::format("m{}@example.com", i);
          m.subject = fmt::format("Receipt {}", i);
          m.text = fmt::format("Thanks for order {}.", i);
          m.html = fmt::format("<p>Thanks for order <b>{}</b>.</p>", i);
          m.max_attempts = 50;
          RG_TRY(Enqueue(tx, kMerchant, now, m));
        }
        return {};
      }));
    }
    for (int i = 0; i < kMessages; ++i)
      expected.insert("<" + DeliveryIdentity(fmt::format("{}/crash:{}", kMerchant, i)) +
                      "@regulars>");
  }

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(50, 1500);
  auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    pid_t pid = SpawnChild(*url);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  fmt::print("{} kills in {:.1f} s; {} raw deliveries so far\n", kRounds,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
             smtp.Files().size());

  // The last run drains the outbox.
  pid_t pid = SpawnChild(*url);
  ASSERT_GT(pid, 0);
  auto db = store::Open(DbOptions(*url));
  ASSERT_TRUE(db.has_value());
  int64_t sent = 0;
  for (int i = 0; i < 1200 && sent < kMessages; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto n = (*db)->ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(store::Rows r,
                          tx.Query("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"));
      return r[0].Int(0);
    });
    if (n) sent = *n;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(sent, kMessages);

  std::vector<std::string> files = smtp.Files();
  std::set<std::string> got;
  for (const auto& f : files) got.insert(MessageIdOf(f));
  int64_t redeliveries = static_cast<int64_t>(files.size()) - static_cast<int64_t>(got.size());
  fmt::print(
      "{} messages, {} raw deliveries, {} distinct Message-IDs, {} raw re-deliveries "
      "after {} kills, {:.1f} s in all\n",
      kMessages, files.size(), got.size(), redeliveries, kRounds,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "received Message-IDs differ from the enqueued keys";
  EXPECT_LE(redeliveries, kRounds);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace regulars::messaging
