// What this test proves: a write the server acknowledged survives a crash of the server exactly
// once, and a write whose answer was lost can be retried safely with its Idempotency-Key.
//
// It simulates the server process dying at an arbitrary moment under load: a real
// `regulars serve` (the built binary, on embedded SQLite or on PostgreSQL) takes orders,
// redemptions (reserve and commit at once) and wallet top-ups from 8 concurrent clients, each
// request with its own Idempotency-Key, and is killed with SIGKILL after a random 50–400 ms —
// while transactions are open, while the SQLite writer is in the middle of a group commit, and
// between a commit and the answer reaching the client. This repeats 50 times on the same data.
//
// What must survive, checked after every kill:
//   - `regulars check` passes on the data exactly as the crash left it (before any restart):
//     every points balance and every wallet matches its ledger.
//   - After a restart, every request whose 2xx answer arrived is there exactly once: each order
//     (by id and by external_id) with its single `earn` ledger entry; each redemption with one
//     `reserve` and one `redeem` entry; each top-up as one wallet entry. Nothing else is there,
//     and every points balance and wallet total equals the sum of the acknowledged requests.
//   - Replaying an acknowledged request returns the first answer, marked Idempotent-Replayed.
//   - Replaying a request whose answer never arrived either returns the first answer (the change
//     had committed; for orders the test confirms the order already existed) or performs the
//     change now (it had not; for orders the test confirms it did not exist yet) — never both,
//     never twice. The key, the first answer and the change commit in one transaction
//     (http/router.cpp); this is the end-to-end proof.
// A redemption refused with failed_precondition (not enough points) is not a change; it must
// leave nothing behind.
//
// CRASH_TEST_ROUNDS overrides the number of rounds (default 50) for quick local runs.

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/testing.h"

#ifndef REGULARS_BIN
#error "REGULARS_BIN must name the regulars binary (tests/CMakeLists.txt sets it)"
#endif

extern char** environ;

namespace regulars {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDefaultRounds = 50;
constexpr int kClients = 8;
constexpr int kMembers = 6;
constexpr int kMinKillMs = 50;
constexpr int kMaxKillMs = 400;
// Between one client's requests. Without a pause the clients write ~3,000 requests a second and
// the checks after each round grow with the data; this keeps a round near 100 requests.
constexpr int kMaxPauseMicros = 30'000;

int Rounds() {
  const char* v = std::getenv("CRASH_TEST_ROUNDS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : kDefaultRounds;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Tail(const fs::path& p, size_t bytes = 3000) {
  std::string s = ReadFile(p);
  return s.size() > bytes ? "…" + s.substr(s.size() - bytes) : s;
}

// Children -------------------------------------------------------------------------------------

// Starts `args` (args[0] is the program's path) with stdin from `in`, stdout truncated into
// `out` and stderr appended to `err`. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& args, const fs::path& in, const fs::path& out,
            const fs::path& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Waits for `pid` up to `timeout`, then kills it. Returns its exit code, or -1 if it did not
// exit by itself.
int WaitExit(pid_t pid, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

struct CliResult {
  int exit_code = -1;
  std::string out;
};

// Runs `regulars ARGS...` to completion (at most 60 s) with `input` on stdin.
CliResult RunCli(const fs::path& dir, const std::vector<std::string>& args,
                 const std::string& input = "") {
  fs::path in = dir / "cli.in", out = dir / "cli.out", err = dir / "cli.log";
  std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
  std::vector<std::string> argv = {REGULARS_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult r;
  pid_t pid = Spawn(argv, in, out, err);
  if (pid < 0) return r;
  r.exit_code = WaitExit(pid, milliseconds(60'000));
  r.out = ReadFile(out);
  return r;
}

// One `regulars serve` process on a port the kernel picks (read back from its --json line, so
// no other process can take the port between choosing and binding it). Killed when destroyed.
class ServerProcess {
 public:
  ServerProcess(fs::path dir, std::vector<std::string> db_args)
      : dir_(std::move(dir)), db_args_(std::move(db_args)) {}
  ~ServerProcess() { Kill(); }

  // Starts the server and waits until /healthz answers 200; false with `error` set otherwise.
  bool Start(std::string* error) {
    std::vector<std::string> argv = {REGULARS_BIN, "serve", "--listen", "127.0.0.1:0", "--json"};
    argv.insert(argv.end(), db_args_.begin(), db_args_.end());
    fs::path out = dir_ / "serve.out";
    pid_ = Spawn(argv, "/dev/null", out, log());
    if (pid_ < 0) {
      *error = "posix_spawn failed for " REGULARS_BIN;
      return false;
    }
    auto deadline = Clock::now() + std::chrono::seconds(30);
    port_ = 0;
    while (port_ == 0) {
      std::string text = ReadFile(out);
      if (size_t nl = text.find('\n'); nl != std::string::npos) {
        json j = json::parse(text.substr(0, nl), nullptr, false);
        std::string url = j.is_object() ? j.value("url", "") : "";
        size_t colon = url.rfind(':');
        if (colon != std::string::npos) port_ = std::atoi(url.c_str() + colon + 1);
        if (port_ <= 0) {
          *error = "unexpected first line from serve: " + text.substr(0, nl);
          return false;
        }
        break;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "serve exited during start-up; log:\n" + Tail(log());
        return false;
      }
      if (Clock::now() > deadline) {
        *error = "serve printed no address within 30 s; log:\n" + Tail(log());
        return false;
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(5, 0);
    while (Clock::now() < deadline) {
      auto res = c.Get("/healthz");
      if (res && res->status == 200) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    *error = "/healthz did not answer 200 within 30 s; log:\n" + Tail(log());
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  fs::path log() const { return dir_ / "serve.log"; }

 private:
  fs::path dir_;
  std::vector<std::string> db_args_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// HTTP ----------------------------------------------------------------------------------------

struct Answer {
  bool arrived = false;  // false: the connection failed or closed before a whole answer came
  int status = 0;
  json body;
  bool replayed = false;         // Idempotent-Replayed: true
  bool never_connected = false;  // the server was already gone: the request never reached it
  std::string transport_error;
};

std::unique_ptr<httplib::Client> NewClient(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_connection_timeout(2, 0);
  c->set_read_timeout(15, 0);
  c->set_write_timeout(5, 0);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  return c;
}

Answer ToAnswer(const httplib::Result& res) {
  Answer a;
  if (!res) {
    a.transport_error = httplib::to_string(res.error());
    a.never_connected = res.error() == httplib::Error::Connection;
    return a;
  }
  a.arrived = true;
  a.status = res->status;
  a.body = json::parse(res->body, nullptr, false);
  a.replayed = res->get_header_value("Idempotent-Replayed") == "true";
  return a;
}

Answer Post(httplib::Client& c, const std::string& api_key, const std::string& path,
            const std::string& body, const std::string& idempotency_key = "") {
  httplib::Headers h = {{"Authorization", "Bearer " + api_key}};
  if (!idempotency_key.empty()) h.emplace("Idempotency-Key", idempotency_key);
  return ToAnswer(c.Post(path, h, body, "application/json"));
}

Answer Get(httplib::Client& c, const std::string& api_key, const std::string& path,
           const httplib::Params& params = {}) {
  httplib::Headers h = {{"Authorization", "Bearer " + api_key}};
  return ToAnswer(c.Get(path, params, h));
}

std::string ErrorCode(const Answer& a) {
  if (!a.body.is_object() || !a.body.contains("error")) return "";
  return a.body["error"].value("code", "");
}

// The workload --------------------------------------------------------------------------------

enum class Kind { kOrder, kRedemption, kTopUp };
const char* KindName(Kind k) {
  return k == Kind::kOrder ? "order" : k == Kind::kRedemption ? "redemption" : "top-up";
}

enum class State {
  kAcked,       // a 2xx answer arrived: the change must be there exactly once
  kRefused,     // a redemption refused for lack of points: nothing may be there
  kUnanswered,  // no answer arrived (the server died): replayed after the restart
  kUnexpected,  // any other answer: a failure of its own
};

// One logical request: the same key and the same bytes are sent on every retry.
struct Op {
  Kind kind = Kind::kOrder;
  int round = 0;
  int member = 0;      // index into the members
  int64_t amount = 0;  // total_minor, points, or amount_minor
  std::string key, path, body, external_id;
  State state = State::kUnanswered;
  Answer answer;
  bool committed_before_kill = false;  // unanswered, and the replay found its first answer

  std::string Describe() const {
    return fmt::format("{} round {} key {} {} {} -> {} {}", KindName(kind), round, key, path, body,
                       answer.status, answer.body.dump());
  }
  // The id the answer gave the change: the order, the redemption, or the wallet entry.
  std::string ChangeId() const {
    if (kind == Kind::kTopUp) return answer.body["entry"].value("id", "");
    return answer.body.value("id", "");
  }
  int64_t EarnedPoints() const {
    int64_t n = 0;
    for (const auto& p : answer.body["loyalty"]["points"]) n += p.value("points", int64_t{0});
    return n;
  }
};

void Classify(Op& op, Answer a) {
  op.answer = std::move(a);
  if (!op.answer.arrived)
    op.state = State::kUnanswered;
  else if (op.answer.status >= 200 && op.answer.status < 300 && op.answer.body.is_object())
    op.state = State::kAcked;
  else if (op.kind == Kind::kRedemption && op.answer.status == 409 &&
           ErrorCode(op.answer) == "failed_precondition")
    op.state = State::kRefused;
  else
    op.state = State::kUnexpected;
}

Op MakeOp(std::mt19937_64& rng, int round, int client, int n,
          const std::vector<std::string>& members) {
  Op op;
  op.round = round;
  op.member = static_cast<int>(rng() % members.size());
  op.key = fmt::format("crash-{}-{}-{}", round, client, n);
  const std::string& member_id = members[op.member];
  int dice = static_cast<int>(rng() % 100);
  if (dice < 45) {
    op.kind = Kind::kOrder;
    op.external_id = fmt::format("o-{}-{}-{}", round, client, n);
    op.amount = 100 + static_cast<int64_t>(rng() % 900);
    op.path = "/api/v1/orders";
    op.body =
        json{{"external_id", op.external_id}, {"member_id", member_id}, {"total_minor", op.amount}}
            .dump();
  } else if (dice < 75) {
    op.kind = Kind::kRedemption;
    op.amount = 5 + static_cast<int64_t>(rng() % 40);
    op.path = "/api/v1/redemptions";
    op.body = json{
        {"member_id", member_id},
        {"point_type", "points"},
        {"points", op.amount},
        {"commit",
         true}}.dump();
  } else {
    op.kind = Kind::kTopUp;
    op.amount = 100 + static_cast<int64_t>(rng() % 900);
    op.path = fmt::format("/api/v1/members/{}/wallet/top-ups", member_id);
    op.body = json{{"amount_minor", op.amount}, {"payment_method", "cash"}}.dump();
  }
  return op;
}

// The server's listen backlog is cpp-httplib's default of 5: eight connections opened in the
// same instant overflow it and the kernel drops SYNs, which costs a 1 s retransmit. Opening them
// a millisecond apart avoids that.
void StaggerConnect(int index) { std::this_thread::sleep_for(milliseconds(index)); }

// Runs `fn(client, item)` over `items` on `threads` threads, each with its own client.
template <class T, class Fn>
void ParallelFor(int port, std::vector<T*>& items, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      StaggerConnect(t);
      auto client = NewClient(port);
      for (size_t i; (i = next.fetch_add(1)) < items.size();) fn(*client, *items[i]);
    });
  for (auto& t : pool) t.join();
}

// The test ------------------------------------------------------------------------------------

class CrashTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres" && store::TestPostgresUrl().empty())
      GTEST_SKIP() << "REGULARS_TEST_PG is not set; scripts/with-postgres.sh starts a PostgreSQL "
                      "and sets it";
    char tmpl[] = "/tmp/regulars-crash-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (GetParam() == "sqlite") {
      db_args_ = {"--data", (dir_ / "data").string()};
    } else {
      auto url = store::CreateTestDatabaseUrl("postgres");
      ASSERT_TRUE(url.has_value()) << url.error().ToString();
      db_args_ = {"--database", *url};
    }
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty() && !HasFailure())
      fs::remove_all(dir_);
    else if (!dir_.empty())
      std::cerr << "crash_test: data and logs kept in " << dir_.string() << "\n";
  }

  CliResult Cli(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.end(), db_args_.begin(), db_args_.end());
    return RunCli(dir_, args, input);
  }

  // Creates the merchant and an owner API key with the CLI, then the program and the members
  // over HTTP.
  void CreateMerchant() {
    auto m = Cli({"merchant", "create", "--name", "Crash Test Tea", "--owner-email",
                  "owner@crash.test", "--json"},
                 "crash-test-password\n");
    ASSERT_EQ(m.exit_code, 0) << m.out << Tail(dir_ / "cli.log");
    std::string merchant_id = json::parse(m.out).at("merchant_id");
    auto k = Cli({"apikey", "create", "--merchant", merchant_id, "--json"});
    ASSERT_EQ(k.exit_code, 0) << k.out << Tail(dir_ / "cli.log");
    api_key_ = json::parse(k.out).at("secret");
  }

  void CreateProgram() {
    auto c = NewClient(server_->port());
    Answer pt = Post(*c, api_key_, "/api/v1/point-types",
                     json{{"code", "points"}, {"name", "Points"}}.dump());
    ASSERT_EQ(pt.status, 201) << pt.body.dump();
    Answer rule =
        Post(*c, api_key_, "/api/v1/earning-rules",
             json{{"point_type", "points"},
                  {"name", "1 point per 10"},
                  {"definition", {{"kind", "per_amount"}, {"points", 1}, {"per_amount_minor", 10}}}}
                 .dump());
    ASSERT_EQ(rule.status, 201) << rule.body.dump();
    for (int i = 0; i < kMembers; ++i) {
      Answer m = Post(
          *c, api_key_, "/api/v1/members",
          json{{"phone", fmt::format("09123456{:02}", i)}, {"name", fmt::format("Member {}", i)}}
              .dump());
      ASSERT_EQ(m.status, 201) << m.body.dump();
      members_.push_back(m.body.at("id"));
    }
  }

  void StartServer() {
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }

  // 8 clients post until the server is killed after a random delay. Returns the round's ops.
  std::vector<Op> Traffic(int round, std::mt19937_64& rng) {
    std::atomic<bool> stop{false};
    std::vector<std::vector<Op>> per_client(kClients);
    std::vector<std::thread> clients;
    const int port = server_->port();
    for (int i = 0; i < kClients; ++i) {
      uint64_t seed = rng();
      clients.emplace_back([&, i, seed] {
        std::mt19937_64 r(seed);
        StaggerConnect(i);
        auto c = NewClient(port);
        for (int n = 0; !stop.load(); ++n) {
          Op op = MakeOp(r, round, i, n, members_);
          Classify(op, Post(*c, api_key_, op.path, op.body, op.key));
          bool unanswered = op.state == State::kUnanswered;
          per_client[i].push_back(std::move(op));
          // A request that got no answer before the kill would be odd; keep going, it is
          // replayed like the others. After the kill, stop.
          if (unanswered && stop.load()) break;
          std::this_thread::sleep_for(std::chrono::microseconds(r() % kMaxPauseMicros));
        }
      });
    }
    int delay = kMinKillMs + static_cast<int>(rng() % (kMaxKillMs - kMinKillMs + 1));
    std::this_thread::sleep_for(milliseconds(delay));
    stop = true;
    server_->Kill();
    for (auto& t : clients) t.join();
    std::vector<Op> ops;
    for (auto& v : per_client)
      for (auto& op : v) ops.push_back(std::move(op));
    return ops;
  }

  // All pages of a list; `first` receives the first page's whole answer.
  std::vector<json> GetAll(httplib::Client& c, const std::string& path, json* first = nullptr) {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      httplib::Params params = {{"limit", "500"}};
      if (!cursor.empty()) params.emplace("cursor", cursor);
      Answer a = Get(c, api_key_, path, params);
      if (a.status != 200) {
        ADD_FAILURE() << "GET " << path << ": " << a.status << " " << a.body.dump()
                      << a.transport_error;
        return out;
      }
      if (page == 0 && first) *first = a.body;
      for (auto& item : a.body["data"]) out.push_back(item);
      if (!a.body["next_cursor"].is_string()) break;
      cursor = a.body["next_cursor"];
    }
    return out;
  }

  // Replays each request of the round whose answer never arrived, then (in parallel) each one
  // acknowledged in the round, which must get its first answer back.
  void Replay(std::vector<Op>& round_ops) {
    auto c = NewClient(server_->port());
    std::map<std::string, std::string> orders_before;  // external_id -> id
    for (const json& o : GetAll(*c, "/api/v1/orders"))
      orders_before[o.value("external_id", "")] = o.value("id", "");

    std::vector<Op*> acked;
    for (Op& op : round_ops)
      if (op.state == State::kAcked) acked.push_back(&op);

    for (Op& op : round_ops) {
      if (op.state != State::kUnanswered) continue;
      if (!op.answer.never_connected) ++in_flight_;
      Classify(op, Post(*c, api_key_, op.path, op.body, op.key));
      ASSERT_TRUE(op.state == State::kAcked || op.state == State::kRefused)
          << "replay of an unanswered request: " << op.Describe() << op.answer.transport_error;
      op.committed_before_kill = op.answer.replayed;
      if (op.committed_before_kill) ++committed_unanswered_;
      if (op.kind == Kind::kOrder) {
        auto before = orders_before.find(op.external_id);
        bool existed = before != orders_before.end();
        EXPECT_EQ(op.answer.replayed, existed)
            << "the order's existence after the crash and its stored answer disagree: "
            << op.Describe();
        if (existed) EXPECT_EQ(op.ChangeId(), before->second) << op.Describe();
      }
    }

    std::atomic<int> failures{0};
    ParallelFor(server_->port(), acked, kClients, [&](httplib::Client& tc, Op& op) {
      Answer a = Post(tc, api_key_, op.path, op.body, op.key);
      if (a.status != op.answer.status || a.body != op.answer.body || !a.replayed) {
        if (failures.fetch_add(1) < 5)
          ADD_FAILURE() << "replay of an acknowledged request did not return its first answer: "
                        << op.Describe() << "\n  replay: " << a.status << " replayed=" << a.replayed
                        << " " << a.body.dump() << a.transport_error;
      }
    });
    replays_ += acked.size();
  }

  // Every acknowledged request of every round is present exactly once, and nothing else.
  void VerifyState(int round) {
    SCOPED_TRACE(fmt::format("state after round {}", round));
    auto c = NewClient(server_->port());
    struct Expect {
      std::map<std::string, const Op*> orders, redemptions, top_ups;  // change id -> op
      int64_t points = 0, wallet = 0;
    };
    std::vector<Expect> expect(kMembers);
    size_t acked_orders = 0;
    for (const Op& op : ops_) {
      if (op.state != State::kAcked) continue;
      Expect& e = expect[op.member];
      std::string id = op.ChangeId();
      ASSERT_FALSE(id.empty()) << op.Describe();
      if (op.kind == Kind::kOrder) {
        e.orders[id] = &op;
        e.points += op.EarnedPoints();
        ++acked_orders;
      } else if (op.kind == Kind::kRedemption) {
        e.redemptions[id] = &op;
        e.points -= op.amount;
      } else {
        e.top_ups[id] = &op;
        e.wallet += op.amount;
      }
    }

    std::map<std::string, int> by_id, by_external;
    std::map<std::string, json> orders;
    for (const json& o : GetAll(*c, "/api/v1/orders")) {
      ++by_id[o.value("id", "")];
      ++by_external[o.value("external_id", "")];
      orders[o.value("id", "")] = o;
    }
    EXPECT_EQ(orders.size(), acked_orders) << "orders stored vs orders acknowledged";
    for (const auto& [ext, n] : by_external) EXPECT_EQ(n, 1) << "external_id " << ext;
    for (const auto& [id, n] : by_id) EXPECT_EQ(n, 1) << "order id " << id;

    for (int m = 0; m < kMembers; ++m) {
      const std::string& member = members_[m];
      const Expect& e = expect[m];
      for (const auto& [id, op] : e.orders) {
        auto o = orders.find(id);
        if (o == orders.end()) {
          ADD_FAILURE() << "acknowledged order missing: " << op->Describe();
          continue;
        }
        EXPECT_EQ(o->second.value("external_id", ""), op->external_id) << op->Describe();
        EXPECT_EQ(o->second.value("member_id", ""), member) << op->Describe();
        EXPECT_EQ(o->second.value("total_minor", int64_t{-1}), op->amount) << op->Describe();
      }

      // Points: (kind, source id) -> count and sum of amounts.
      std::map<std::pair<std::string, std::string>, std::pair<int, int64_t>> entries;
      for (const json& x : GetAll(*c, fmt::format("/api/v1/members/{}/ledger", member))) {
        std::string source = x["source"]["id"].is_string() ? x["source"]["id"] : "";
        auto& [n, sum] = entries[{x.value("kind", ""), source}];
        ++n;
        sum += x.value("amount", int64_t{0});
      }
      std::map<std::pair<std::string, std::string>, std::pair<int, int64_t>> want;
      for (const auto& [id, op] : e.orders)
        if (int64_t p = op->EarnedPoints(); p > 0) want[{"earn", id}] = {1, p};
      for (const auto& [id, op] : e.redemptions) {
        want[{"reserve", id}] = {1, -op->amount};
        want[{"redeem", id}] = {1, 0};
      }
      for (const auto& [k, v] : want) {
        auto got = entries.find(k);
        EXPECT_TRUE(got != entries.end() && got->second == v)
            << "member " << m << ": ledger entry " << k.first << " for " << k.second
            << " expected once with amount " << v.second << ", found "
            << (got == entries.end() ? 0 : got->second.first) << " time(s)";
      }
      for (const auto& [k, v] : entries)
        EXPECT_TRUE(want.contains(k)) << "member " << m << ": unexpected ledger entry " << k.first
                                      << " for " << k.second << " (" << v.first << " time(s))";

      Answer bal = Get(*c, api_key_, fmt::format("/api/v1/members/{}/balances", member));
      int64_t points = 0;
      for (const auto& p : bal.body["points"])
        if (p.value("point_type", "") == "points") points = p.value("balance", int64_t{0});
      EXPECT_EQ(points, e.points) << "member " << m << " points balance";

      // Wallet: each acknowledged top-up once, nothing else.
      json first;
      std::map<std::string, int> top_ups;
      for (const json& x : GetAll(*c, fmt::format("/api/v1/members/{}/wallet", member), &first)) {
        EXPECT_EQ(x.value("kind", ""), "top_up") << x.dump();
        std::string id = x.value("id", "");
        ++top_ups[id];
        auto op = e.top_ups.find(id);
        if (op == e.top_ups.end())
          ADD_FAILURE() << "member " << m << ": unexpected wallet entry " << x.dump();
        else
          EXPECT_EQ(x.value("amount_minor", int64_t{-1}), op->second->amount) << x.dump();
      }
      for (const auto& [id, op] : e.top_ups)
        EXPECT_EQ(top_ups[id], 1) << "acknowledged top-up: " << op->Describe();
      EXPECT_EQ(first["balance"].value("total_minor", int64_t{-1}), e.wallet)
          << "member " << m << " wallet total";
    }
  }

  void Check(const std::string& when) {
    CliResult r = Cli({"check", "--json"});
    ASSERT_EQ(r.exit_code, 0) << "regulars check " << when << ": " << r.out
                              << Tail(dir_ / "cli.log");
  }

  fs::path dir_;
  std::vector<std::string> db_args_;
  std::unique_ptr<ServerProcess> server_;
  std::string api_key_;
  std::vector<std::string> members_;
  std::vector<Op> ops_;  // every request of every round
  size_t in_flight_ = 0, committed_unanswered_ = 0, replays_ = 0;
};

TEST_P(CrashTest, AcknowledgedWritesSurviveSigkillExactlyOnce) {
  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(CreateMerchant());
  server_ = std::make_unique<ServerProcess>(dir_, db_args_);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(CreateProgram());

  const int rounds = Rounds();
  std::random_device seed_source;
  const uint64_t seed = (uint64_t{seed_source()} << 32) | seed_source();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(fmt::format("seed {}", seed));
  size_t acked = 0, refused = 0;
  int completed = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(fmt::format("round {}", round));
    std::vector<Op> round_ops = Traffic(round, rng);
    for (const Op& op : round_ops)
      ASSERT_NE(op.state, State::kUnexpected) << "unexpected answer: " << op.Describe();
    // The data exactly as the crash left it, before a restart could repair anything.
    ASSERT_NO_FATAL_FAILURE(Check("after the kill"));
    ASSERT_NO_FATAL_FAILURE(StartServer());
    ASSERT_NO_FATAL_FAILURE(Replay(round_ops));
    for (Op& op : round_ops) {
      acked += op.state == State::kAcked;
      refused += op.state == State::kRefused;
      ops_.push_back(std::move(op));
    }
    ASSERT_NO_FATAL_FAILURE(VerifyState(round));
    ++completed;
    if (HasFailure()) break;
  }
  server_->Kill();
  ASSERT_NO_FATAL_FAILURE(Check("at the end"));
  auto secs = std::chrono::duration<double>(Clock::now() - started).count();
  std::cout << fmt::format(
      "[{}] {} rounds in {:.1f} s: {} requests, {} acknowledged, {} refused (low balance), "
      "{} in flight at a kill of which {} had committed, {} acknowledged replays\n",
      GetParam(), completed, secs, ops_.size(), acked, refused, in_flight_, committed_unanswered_,
      replays_);
}

// A stop signal during start-up (here during the demo seed: after the stop signals are masked,
// before the HTTP server listens) still stops the server cleanly: exit 0, not killed by the
// signal's default action and not left serving (cli/main.cpp repeats Stop until Serve returns).
TEST(ServeStop, SigtermDuringStartUpStopsTheServer) {
  char tmpl[] = "/tmp/regulars-stop-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl, data = dir / "data";
  pid_t pid = Spawn({REGULARS_BIN, "serve", "--listen", "127.0.0.1:0", "--json", "--demo", "--data",
                     data.string()},
                    "/dev/null", dir / "serve.out", dir / "serve.log");
  ASSERT_GT(pid, 0);
  // The database file appears when migrations run, after the mask; the seed takes seconds.
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!fs::exists(data / "regulars.db") && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(2));
  ASSERT_TRUE(fs::exists(data / "regulars.db")) << Tail(dir / "serve.log");
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid, milliseconds(60'000)), 0) << Tail(dir / "serve.log");
  EXPECT_NE(ReadFile(dir / "serve.log").find("signal 15 received; stopping"), std::string::npos)
      << Tail(dir / "serve.log");
  if (!HasFailure()) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace regulars
