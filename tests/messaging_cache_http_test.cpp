// What this test proves: a change made through the HTTP API to what the running sender caches
// (messaging settings for settings_cache_ttl, channel rows for channel_cache_ttl; sender.h) is
// obeyed by the very next send, on SQLite and PostgreSQL. The server is wired as `regulars serve`
// wires it (ServerOptions::on_messaging_changed -> Sender::InvalidateCaches) and one Sender lives
// across the whole test with its default TTLs; the clock never moves, so without the
// invalidation every later round would use what the first one cached:
// - quiet hours switched on after a send defer the next marketing message;
// - switched off again, the next one is sent;
// - a channel switched off after a message was queued for it fails that message ("channel not
//   found or inactive") instead of sending it through the cached channel.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <memory>

#include "http_fixture.h"
#include "messaging/secrets.h"
#include "messaging/sender.h"

namespace regulars::testing {
namespace {

constexpr const char* kKeyHex = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

class MessagingCacheApi : public HttpTest {
 protected:
  void SetUp() override {
    setenv("REGULARS_SECRET_KEY", kKeyHex, 1);
    HttpTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto box = messaging::SecretBox::FromHex(kKeyHex, "test");
    ASSERT_TRUE(box.has_value()) << box.error().ToString();
    box_ = std::make_unique<messaging::SecretBox>(std::move(*box));
    messaging::SenderOptions o;
    o.workers = 1;
    o.secrets = box_.get();
    o.name = "cache-test";
    sender_ = std::make_unique<messaging::Sender>(db(), clock_, o);
    // The fixture's server has no sender; serve again with the hook, as `regulars serve` does.
    // Stop() only ends a Serve() that has started listening, so wait for that first.
    while (!server_->IsRunning()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_->Stop();
    serve_thread_.join();
    http::ServerOptions options;
    options.port = 0;
    options.threads = 8;
    options.on_messaging_changed = [this] {
      ++invalidations_;
      sender_->InvalidateCaches();
    };
    server_ = std::make_unique<http::Server>(db(), clock_, nullptr, options);
    auto port = server_->Bind();
    ASSERT_TRUE(port.has_value()) << port.error().ToString();
    port_ = *port;
    serve_thread_ = std::thread([this] { server_->Serve(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(30, 0);
  }

  void TearDown() override {
    HttpTest::TearDown();
    sender_.reset();
  }

  // One round of the long-lived sender on this thread; how many messages it handled.
  int Deliver() {
    auto n = sender_->RunOnce(0);
    EXPECT_TRUE(n.has_value()) << n.error().ToString();
    return n.value_or(-1);
  }

  json Message(const std::string& id) {
    auto r = Get("/api/v1/messages?limit=500", a_.owner_key);
    for (const auto& m : r.body["data"])
      if (m["id"] == id) return m;
    ADD_FAILURE() << "message " << id << " not listed: " << r.raw;
    return json::object();
  }

  std::string Send(const std::string& member, const std::string& tmpl, const std::string& key,
                   const std::string& channel) {
    auto r = Post("/api/v1/messages", a_.owner_key,
                  {{"member_id", member},
                   {"template_id", tmpl},
                   {"dedup_key", key},
                   {"channel_id", channel}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  std::unique_ptr<messaging::SecretBox> box_;
  std::unique_ptr<messaging::Sender> sender_;
  std::atomic<int> invalidations_{0};
};
RG_INSTANTIATE_BACKENDS(MessagingCacheApi);

TEST_P(MessagingCacheApi, SettingsAndChannelChangesReachTheRunningSenderAtOnce) {
  auto ch = Post("/api/v1/channels", a_.owner_key, {{"kind", "log"}, {"name", "Log"}});
  ASSERT_EQ(ch.status, 201) << ch.raw;
  std::string log = ch.body["id"];
  auto mem = Post(
      "/api/v1/members", a_.owner_key,
      {{"phone", "0912000101"}, {"email", "cache@example.com"}, {"consent", {{"email", true}}}});
  ASSERT_EQ(mem.status, 201) << mem.raw;
  std::string member = mem.body["id"];
  auto tp =
      Post("/api/v1/templates", a_.owner_key,
           {{"name", "Promo"},
            {"medium", "email"},
            {"category", "marketing"},
            {"variants",
             {{"en", {{"subject", "Hi"}, {"text", "Hi. Unsubscribe: {{unsubscribe_url}}"}}}}}});
  ASSERT_EQ(tp.status, 201) << tp.raw;
  std::string promo = tp.body["id"];
  EXPECT_EQ(invalidations_.load(), 1);  // the channel; members and templates are not cached

  // 13:30Z is 21:30 in Taipei. The first round caches the settings (no quiet hours) and the
  // channel.
  clock_.Set(*ParseRfc3339("2026-09-21T13:30:00Z"));
  std::string first = Send(member, promo, "cache-1", log);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(first)["status"], "sent");

  auto quiet = Patch("/api/v1/messaging/settings", a_.owner_key,
                     {{"quiet_hours", {{"start", "21:00"}, {"end", "09:00"}}}});
  ASSERT_EQ(quiet.status, 200) << quiet.raw;
  EXPECT_EQ(invalidations_.load(), 2);
  std::string second = Send(member, promo, "cache-2", log);
  EXPECT_EQ(Deliver(), 1);
  json deferred = Message(second);
  EXPECT_EQ(deferred["status"], "deferred") << deferred.dump();
  EXPECT_EQ(deferred["next_attempt_at"], "2026-09-22T01:00:00.000Z");  // 09:00 in Taipei

  // A refused change tells nobody.
  auto bad = Patch("/api/v1/messaging/settings", a_.owner_key,
                   {{"quiet_hours", {{"start", "25:00"}, {"end", "09:00"}}}});
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(invalidations_.load(), 2);

  ASSERT_EQ(Patch("/api/v1/messaging/settings", a_.owner_key, {{"quiet_hours", nullptr}}).status,
            200);
  EXPECT_EQ(invalidations_.load(), 3);
  std::string third = Send(member, promo, "cache-3", log);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Message(third)["status"], "sent");

  // Queued while the channel is on, switched off before the sender's round.
  std::string fourth = Send(member, promo, "cache-4", log);
  auto off = Patch("/api/v1/channels/" + log, a_.owner_key, {{"active", false}});
  ASSERT_EQ(off.status, 200) << off.raw;
  EXPECT_EQ(invalidations_.load(), 4);
  EXPECT_EQ(Deliver(), 1);
  json failed = Message(fourth);
  EXPECT_EQ(failed["status"], "failed") << failed.dump();
  EXPECT_EQ(failed["error"], "channel not found or inactive") << failed.dump();
}

}  // namespace
}  // namespace regulars::testing
