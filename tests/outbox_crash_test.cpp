// What this test proves: a message in the outbox reaches its receiver exactly once (after the
// receiver's deduplication by the identity the sender gives it) however often the sender
// process dies, on e-mail and on SMS alike.
//
// 10,000 messages are enqueued, half for a real SMTP server (python3-aiosmtpd with
// tests/smtp_receiver.py, which keeps every raw delivery as a file) and half for a generic HTTP
// SMS gateway (fakes::FakeHttpSms: a real HTTP server on 127.0.0.1 in this process, which keeps
// one message per Idempotency-Key and counts every attempt). The sender — this binary
// re-executed as a child, running messaging::Sender with one worker against the same database —
// is killed with SIGKILL at a random moment (50–1500 ms after it starts) and restarted each time;
// the last run goes on until the outbox is drained. Then, per receiver and per dedup key:
//   - SMTP: the set of received Message-IDs is exactly {"<" + DeliveryIdentity("<merchant>/<key>")
//     + "@regulars>"} of the 5,000 e-mail keys;
//   - SMS: the gateway holds exactly one message per Idempotency-Key, the keys are exactly
//     DeliveryIdentity("<merchant>/<key>") of the 5,000 SMS keys, and each one's text and number
//     are those enqueued under that key;
//   - every outbox row is `sent`;
//   - the raw re-deliveries (raw deliveries minus distinct identities: a kill between the
//     receiver's acceptance and the `sent` commit) are printed and at most the number of kills
//     (one worker has at most one message in that window).
//
// Backends: SQLite with 10,000 messages and 50 kills (about 45 s); PostgreSQL (when
// REGULARS_TEST_PG is set, as in `make test`) with 2,000 messages and 10 kills (about 15 s): the
// full size on PostgreSQL took 43 s more (enqueueing 10,000 rows alone took 19 s), nearly
// doubling the suite's longest test, while the smaller run still crosses PostgreSQL's commit
// path with kills at random moments.
//
// OUTBOX_CRASH_ROUNDS / OUTBOX_CRASH_MESSAGES (SQLite) and OUTBOX_CRASH_PG_ROUNDS /
// OUTBOX_CRASH_PG_MESSAGES override the defaults, e.g. for the full size on PostgreSQL.

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/time.h"
#include "messaging/channel.h"
#include "messaging/fakes/fake_http_sms.h"
#include "messaging/messaging_repo.h"
#include "messaging/outbox.h"
#include "messaging/sender.h"
#include "messaging/smtp_test_server.h"
#include "store/testing.h"

extern char** environ;

namespace regulars::messaging {
namespace {

constexpr Id kMerchant = 31;
constexpr Id kSmtpChannel = 1;
constexpr Id kSmsChannel = 2;
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

// The child is this binary running only the test below, so the sender starts after every static
// initializer (the HTTP SMS channel's Mustache templates need theirs).
TEST(OutboxCrashChild, DISABLED_RunSenderUntilKilled) {
  const char* url = getenv(kChildEnv);
  if (!url) GTEST_SKIP() << "only as the crash test's child";
  RunChild(url);
}

pid_t SpawnChild(const std::string& url) {
  std::string env = std::string(kChildEnv) + "=" + url;
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(env.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char filter[] = "--gtest_filter=OutboxCrashChild.DISABLED_RunSenderUntilKilled";
  char disabled[] = "--gtest_also_run_disabled_tests";
  char* argv[] = {self, filter, disabled, nullptr};
  // gtest's banner from each of the 51 children would bury the report: stdout goes nowhere
  // (stderr, where the child reports a failure to start, stays).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
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

std::string SmsNumber(int i) { return fmt::format("+8869{:08d}", i); }
std::string SmsText(int i) { return fmt::format("Order {} is ready.", i); }

class OutboxCrashTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OutboxCrashTest, EveryMessageArrivesOncePerReceiverAcrossSigkills) {
  const bool pg = GetParam() == "postgres";
  if (pg && store::TestPostgresUrl().empty())
    GTEST_SKIP() << "REGULARS_TEST_PG is not set; `make test` starts a PostgreSQL and sets it";
  const int kRounds = pg ? EnvInt("OUTBOX_CRASH_PG_ROUNDS", 10) : EnvInt("OUTBOX_CRASH_ROUNDS", 50);
  const int kMessages =
      pg ? EnvInt("OUTBOX_CRASH_PG_MESSAGES", 2000) : EnvInt("OUTBOX_CRASH_MESSAGES", 10000);
  char tmpl[] = "/tmp/rg-outbox-crash-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  testing::SmtpTestServer smtp(dir + "/mail");
  ASSERT_TRUE(smtp.running());
  fakes::FakeHttpSms sms;

  auto url = store::CreateTestDatabaseUrl(GetParam());
  ASSERT_TRUE(url.has_value()) << url.error().ToString();
  // Even i: e-mail "crash:mail:<i>"; odd i: SMS "crash:sms:<i>".
  std::set<std::string> expected_mail;
  std::map<std::string, int> expected_sms;  // Idempotency-Key -> i
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
      ch.id = kSmtpChannel;
      ch.kind = ChannelKind::kSmtp;
      ch.name = "aiosmtpd";
      ch.settings = {{"host", "127.0.0.1"},
                     {"port", smtp.port()},
                     {"security", "none"},
                     {"from", "Shop <shop@example.com>"},
                     {"timeout_ms", 5000}};
      RG_TRY(CreateChannel(tx, nullptr, ch, nlohmann::json::object(), 0));
      ChannelRow gw;
      gw.merchant_id = kMerchant;
      gw.id = kSmsChannel;
      gw.kind = ChannelKind::kHttpSms;
      gw.name = "fake gateway";
      gw.settings = {{"url", sms.base_url() + "/api/sms"},
                     {"headers", {{"Content-Type", "application/json"}}},
                     {"body", R"({"to":"{{to}}","text":"{{text}}"})"},
                     {"success", {{"json_pointer", "/status"}, {"equals", "ok"}}},
                     {"provider_id", {{"json_pointer", "/id"}}},
                     {"error", {{"json_pointer", "/error"}}},
                     {"timeout_ms", 5000}};
      RG_TRY(CreateChannel(tx, nullptr, gw, nlohmann::json::object(), 0));
      return {};
    }));
    Micros now = SystemClock::Default()->Now();
    for (int start = 0; start < kMessages; start += 500) {
      ASSERT_TRUE((*db)->Write([&](store::Tx& tx) -> Status {
        for (int i = start; i < std::min(kMessages, start + 500); ++i) {
          NewMessage m;
          m.purpose = Purpose::kTransactional;
          m.max_attempts = 50;
          if (i % 2 == 0) {
            m.dedup_key = fmt::format("crash:mail:{}", i);
            m.channel_id = kSmtpChannel;
            m.medium = Medium::kEmail;
            m.recipient = fmt::format("m{}@example.com", i);
            m.subject = fmt::format("Receipt {}", i);
            m.text = fmt::format("Thanks for order {}.", i);
            m.html = fmt::format("<p>Thanks for order <b>{}</b>.</p>", i);
          } else {
            m.dedup_key = fmt::format("crash:sms:{}", i);
            m.channel_id = kSmsChannel;
            m.medium = Medium::kSms;
            m.recipient = SmsNumber(i);
            m.text = SmsText(i);
          }
          RG_TRY(Enqueue(tx, kMerchant, now, m));
        }
        return {};
      }));
    }
    for (int i = 0; i < kMessages; ++i) {
      if (i % 2 == 0)
        expected_mail.insert("<" + DeliveryIdentity(fmt::format("{}/crash:mail:{}", kMerchant, i)) +
                             "@regulars>");
      else
        expected_sms[DeliveryIdentity(fmt::format("{}/crash:sms:{}", kMerchant, i))] = i;
    }
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
  fmt::print("{}: {} kills in {:.1f} s; {} raw e-mails and {} SMS requests so far\n", GetParam(),
             kRounds,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
             smtp.Files().size(), sms.request_count());

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

  // SMTP: per Message-ID.
  std::vector<std::string> files = smtp.Files();
  std::set<std::string> got_mail;
  for (const auto& f : files) got_mail.insert(MessageIdOf(f));
  int64_t mail_redeliveries =
      static_cast<int64_t>(files.size()) - static_cast<int64_t>(got_mail.size());
  EXPECT_EQ(got_mail.size(), expected_mail.size());
  EXPECT_TRUE(got_mail == expected_mail) << "received Message-IDs differ from the e-mail keys";

  // SMS: per Idempotency-Key, each once, with the text and number enqueued under it.
  std::map<std::string, int> sms_per_key;
  int wrong_content = 0;
  for (const auto& m : sms.messages()) {
    ++sms_per_key[m.idempotency_key];
    auto it = expected_sms.find(m.idempotency_key);
    if (it != expected_sms.end() &&
        (m.to != SmsNumber(it->second) || m.text != SmsText(it->second)))
      ++wrong_content;
  }
  int sms_twice = 0;
  for (const auto& [k, n] : sms_per_key) sms_twice += n > 1;
  std::set<std::string> got_sms_keys, expected_sms_keys;
  for (const auto& [k, n] : sms_per_key) got_sms_keys.insert(k);
  for (const auto& [k, i] : expected_sms) expected_sms_keys.insert(k);
  int64_t sms_attempts = 0;
  for (const auto& [k, n] : sms.attempts_by_key()) sms_attempts += n;
  int64_t sms_redeliveries = static_cast<int64_t>(sms.replays());
  EXPECT_EQ(sms_per_key.size(), expected_sms.size());
  EXPECT_EQ(sms_twice, 0);
  EXPECT_EQ(wrong_content, 0);
  EXPECT_TRUE(got_sms_keys == expected_sms_keys)
      << "the gateway's Idempotency-Keys differ from the SMS keys";

  fmt::print(
      "{}: {} messages after {} kills, {:.1f} s in all\n"
      "  e-mail: {} raw deliveries, {} distinct Message-IDs, {} raw re-deliveries\n"
      "  SMS: {} requests with a key, {} messages, {} replayed keys (re-deliveries)\n",
      GetParam(), kMessages, kRounds,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
      files.size(), got_mail.size(), mail_redeliveries, sms_attempts, sms.messages().size(),
      sms_redeliveries);
  EXPECT_LE(mail_redeliveries + sms_redeliveries, kRounds);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxCrashTest,
                         ::testing::ValuesIn(::regulars::store::TestBackendNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace regulars::messaging
