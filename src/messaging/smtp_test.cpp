#include "messaging/smtp_channel.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "messaging/smtp_fake_server.h"
#include "messaging/smtp_session.h"
#include "messaging/smtp_test_server.h"

namespace regulars::messaging {
namespace {

using testing::SmtpTestServer;

std::string TempDir() {
  char tmpl[] = "/tmp/rg-smtp-XXXXXX";
  return mkdtemp(tmpl);
}

// Decodes a header of RFC 2047 UTF-8 B-words (what BuildMime writes for non-ASCII).
std::string DecodeWords(std::string h) {
  std::string out;
  size_t pos = 0;
  while ((pos = h.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = h.find("?=", pos + 10);
    out += testing::DecodeBase64(h.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

Envelope Mail(std::string to = "amy@example.com") {
  Envelope e;
  e.message_id = 5;
  e.dedup_key = "7001/receipt:o1";
  e.to = std::move(to);
  e.subject = "豆葉咖啡 本週會員限定：全品項九折，點數加倍送！Points double this week";
  e.text = "親愛的 Amy：\n本週點數加倍。\nUnsubscribe: https://r.example/u/tok\n";
  e.html = "<p>親愛的 <b>Amy</b></p><p><a href=\"https://r.example/u/tok\">退訂</a></p>";
  e.headers = {{"List-Unsubscribe", "<https://r.example/u/tok>"},
               {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
  return e;
}

ChannelConfig Config(int port, std::string security = "none") {
  ChannelConfig c;
  c.id = 1;
  c.kind = ChannelKind::kSmtp;
  c.name = "mail";
  c.settings = {{"host", "127.0.0.1"},  {"port", port},
                {"security", security}, {"from", "豆葉咖啡 <shop@bean.example>"},
                {"timeout_ms", 10000},  {"verify_tls", false}};
  return c;
}

std::unique_ptr<Channel> Make(const ChannelConfig& c) {
  auto ch = MakeChannel(c);
  EXPECT_TRUE(ch.has_value()) << ch.error().ToString();
  return ch ? std::move(*ch) : nullptr;
}

void ExpectReceived(const testing::ReceivedMail& m, const Envelope& e) {
  EXPECT_EQ(m.envelope_from, "shop@bean.example");
  EXPECT_EQ(m.envelope_to, e.to);
  EXPECT_EQ(m.Header("To"), e.to);
  EXPECT_EQ(DecodeWords(m.Header("Subject")), e.subject);
  EXPECT_EQ(m.Header("From"), "=?UTF-8?B?6LGG6JGJ5ZKW5ZWh?= <shop@bean.example>");
  EXPECT_EQ(m.Header("Message-ID"), "<" + DeliveryIdentity(e.dedup_key) + "@regulars>");
  EXPECT_EQ(m.Header("MIME-Version"), "1.0");
  EXPECT_EQ(m.Header("List-Unsubscribe"), "<https://r.example/u/tok>");
  EXPECT_EQ(m.Header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(m.content_type,
            "multipart/alternative; boundary=\"rg-" + DeliveryIdentity(e.dedup_key) + "\"");
  EXPECT_EQ(m.text, e.text);
  EXPECT_EQ(m.html, e.html);
}

TEST(SmtpTest, BuildsMultipartAlternativeWithEncodedSubject) {
  Envelope e = Mail();
  e.subject = "Hi";
  e.html.clear();
  e.headers = {{"X-Evil", "a\r\nBcc: x@y"}};
  std::string mime = BuildMime(e, "Shop <shop@x.example>", "Tue, 01 Dec 2026 10:00:00 +0000");
  std::string id = DeliveryIdentity("7001/receipt:o1");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(mime,
            "From: Shop <shop@x.example>\r\nTo: amy@example.com\r\nSubject: Hi\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" +
                id +
                "@regulars>\r\nMIME-Version: 1.0\r\nX-Evil: aBcc: x@y\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                "6Kaq5oSb55qEIEFtee+8mgrmnKzpgLHpu57mlbjliqDlgI3jgIIKVW5zdWJzY3JpYmU6IGh0dHBz\r\n"
                "Oi8vci5leGFtcGxlL3UvdG9rCg==\r\n");
  // Long non-ASCII subjects become several words of at most 75 characters.
  std::string multi = BuildMime(Mail(), "s@x.example", "d");
  auto [headers, body] = testing::SplitMessage(multi);
  std::string subject;
  for (const auto& [k, v] : headers)
    if (k == "Subject") subject = v;
  EXPECT_EQ(DecodeWords(subject), Mail().subject);
  size_t start = multi.find("Subject: ");
  std::string raw = multi.substr(start, multi.find("\r\nDate:") - start);
  size_t line_start = 0;
  while (line_start < raw.size()) {
    size_t end = raw.find("\r\n", line_start);
    if (end == std::string::npos) end = raw.size();
    EXPECT_LE(end - line_start, 78u) << raw;
    line_start = end + 2;
  }
}

TEST(SmtpTest, DeliversToARealSmtpServerPlain) {
  SmtpTestServer server(TempDir());
  ASSERT_TRUE(server.running());
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  Envelope e = Mail();
  SendOutcome o = ch->Send(e);
  EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << o.error;
  EXPECT_EQ(o.provider_id, "<" + DeliveryIdentity(e.dedup_key) + "@regulars>");
  // The connection is reused for the next message.
  Envelope e2 = Mail("bo@example.com");
  e2.dedup_key = "7001/receipt:o2";
  EXPECT_EQ(ch->Send(e2).kind, SendOutcome::Kind::kSent);
  auto got = server.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  ExpectReceived(got[0], e);
  ExpectReceived(got[1], e2);
}

Envelope Numbered(int i) {
  Envelope e = Mail("m" + std::to_string(i) + "@example.com");
  e.dedup_key = "7001/receipt:n" + std::to_string(i);
  return e;
}

TEST(SmtpTest, OneConnectionCarriesEveryMessage) {
  testing::FakeSmtpServer server;
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  for (int i = 0; i < 5; ++i) {
    SendOutcome o = ch->Send(Numbered(i));
    EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << o.error;
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.messages(), 5);
  // One greeting per session, then MAIL, RCPT, DATA per message.
  std::vector<std::string> cmds = server.commands();
  ASSERT_EQ(cmds.size(), 16u);
  EXPECT_TRUE(cmds[0].starts_with("EHLO ")) << cmds[0];
  EXPECT_EQ(cmds[1], "MAIL FROM:<shop@bean.example>");
  EXPECT_EQ(cmds[2], "RCPT TO:<m0@example.com>");
  EXPECT_EQ(cmds[3], "DATA");
  EXPECT_EQ(cmds[14], "RCPT TO:<m4@example.com>");
}

// A server that advertises PIPELINING and answers MAIL and RCPT only together with DATA: the
// client must send all three at once (a client waiting for each reply would time out here).
TEST(SmtpTest, PipeliningSendsMailRcptAndDataTogether) {
  testing::FakeSmtpServer server;
  server.pipelining(true);
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  for (int i = 0; i < 3; ++i) {
    SendOutcome o = ch->Send(Numbered(i));
    EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << o.error;
    EXPECT_EQ(o.provider_id, SmtpMessageId(Numbered(i)));
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.messages(), 3);
  std::vector<std::string> cmds = server.commands();
  ASSERT_EQ(cmds.size(), 10u);
  EXPECT_EQ(cmds[7], "MAIL FROM:<shop@bean.example>");
  EXPECT_EQ(cmds[8], "RCPT TO:<m2@example.com>");
  EXPECT_EQ(cmds[9], "DATA");
}

// A refused recipient in a pipelined transaction: permanent with the reply, the session reset
// (RSET) and used for the next message.
TEST(SmtpTest, APipelinedRefusalResetsTheSession) {
  testing::FakeSmtpServer server;
  server.pipelining(true);
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  SendOutcome refused = ch->Send(Mail("reject5@example.com"));
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kPermanent);
  EXPECT_EQ(refused.error, "smtp: RCPT TO: 550 5.1.1 no such user (reply 550)");
  SendOutcome ok = ch->Send(Numbered(1));
  EXPECT_EQ(ok.kind, SendOutcome::Kind::kSent) << ok.error;
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.messages(), 1);
  std::vector<std::string> cmds = server.commands();
  ASSERT_EQ(cmds.size(), 8u);
  EXPECT_EQ(cmds[4], "RSET");
}

// Without PIPELINING in the EHLO reply every command waits for its reply.
TEST(SmtpTest, NoPipeliningUnlessAdvertised) {
  testing::FakeSmtpServer server;
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ch->Send(Numbered(i)).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(server.messages(), 3);
  EXPECT_EQ(server.early_commands(), 0);
  SendOutcome refused = ch->Send(Mail("reject5@example.com"));
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kPermanent);
  EXPECT_EQ(refused.error, "smtp: RCPT TO: 550 5.1.1 no such user (reply 550)");
  EXPECT_EQ(server.connections(), 1);
}

// Two phases on a pipelining server: BeginEnvelope writes MAIL, RCPT and DATA and returns; the
// server has taken nothing until SendBody. A session that ends between the phases (the worker
// killed while it committed the previous message) delivers nothing, so the message, delivered
// again later, reaches the server once.
TEST(SmtpTest, TwoPhasesDeliverOnlyWithTheBody) {
  testing::FakeSmtpServer server;
  server.pipelining(true);
  {
    SmtpSession dying({"127.0.0.1", server.port(), "client.example", 10000});
    ASSERT_TRUE(dying.BeginEnvelope("shop@bean.example", "m0@example.com"));
    EXPECT_TRUE(dying.pipelining());
  }  // closed without the body
  ASSERT_TRUE(server.WaitForClosed(1));
  EXPECT_EQ(server.messages(), 0);
  SmtpSession s({"127.0.0.1", server.port(), "client.example", 10000});
  for (int i = 0; i < 2; ++i) {
    std::string to = "m" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(s.BeginEnvelope("shop@bean.example", to));
    EXPECT_EQ(server.messages(), i);  // nothing accepted before the body
    SmtpResult r = s.SendBody("shop@bean.example", to, "Subject: x\r\n\r\nhi\r\n");
    EXPECT_TRUE(r.sent) << r.error;
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(server.messages(), i + 1);
  }
  EXPECT_EQ(s.sessions_opened(), 1);
  EXPECT_EQ(server.connections(), 2);
  std::vector<std::string> cmds = server.commands();
  ASSERT_EQ(cmds.size(), 11u);
  EXPECT_EQ(cmds[0], "EHLO client.example");
  EXPECT_EQ(cmds[1], "MAIL FROM:<shop@bean.example>");
  EXPECT_EQ(cmds[2], "RCPT TO:<m0@example.com>");
  EXPECT_EQ(cmds[3], "DATA");
  EXPECT_EQ(cmds[4], "EHLO client.example");
  EXPECT_EQ(cmds[10], "DATA");
}

// An envelope refused in the second phase (the sender was committing the previous message
// meanwhile): permanent with the reply, the session reset and kept for the next message, which
// goes in two phases too. A server without PIPELINING: BeginSend declines and writes nothing.
TEST(SmtpTest, TwoPhaseRefusalsAndServersThatDoNotPipeline) {
  testing::FakeSmtpServer server;
  server.pipelining(true);
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  ASSERT_TRUE(ch->BeginSend(Mail("reject5@example.com")));
  SendOutcome refused = ch->FinishSend(Mail("reject5@example.com"));
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kPermanent);
  EXPECT_EQ(refused.error, "smtp: RCPT TO: 550 5.1.1 no such user (reply 550)");
  ASSERT_TRUE(ch->BeginSend(Numbered(1)));
  SendOutcome ok = ch->FinishSend(Numbered(1));
  EXPECT_EQ(ok.kind, SendOutcome::Kind::kSent) << ok.error;
  EXPECT_EQ(ok.provider_id, SmtpMessageId(Numbered(1)));
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.messages(), 1);
  std::vector<std::string> cmds = server.commands();
  ASSERT_EQ(cmds.size(), 8u);
  EXPECT_EQ(cmds[4], "RSET");
  // Not an address: no envelope at all (Send reports it).
  EXPECT_FALSE(ch->BeginSend(Mail("not-an-address")));

  testing::FakeSmtpServer plain;
  auto pc = Make(Config(plain.port()));
  ASSERT_TRUE(pc);
  EXPECT_FALSE(pc->BeginSend(Numbered(2)));
  EXPECT_EQ(pc->Send(Numbered(2)).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(plain.messages(), 1);
  EXPECT_EQ(plain.connections(), 1);
  EXPECT_EQ(plain.early_commands(), 0);
}

// No server: BeginSend takes the message, FinishSend reports the connection failure (temporary).
TEST(SmtpTest, TwoPhasesWithoutAServerAreTemporary) {
  int port = testing::FreePort();
  auto ch = Make(Config(port));
  ASSERT_TRUE(ch);
  ASSERT_TRUE(ch->BeginSend(Mail()));
  SendOutcome o = ch->FinishSend(Mail());
  EXPECT_EQ(o.kind, SendOutcome::Kind::kTemporary);
  EXPECT_EQ(o.error,
            "smtp: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST(SmtpTest, DotStuffingEscapesLeadingDotsAndTerminates) {
  EXPECT_EQ(DotStuff(".a\r\nb\r\n..c"), "..a\r\nb\r\n...c\r\n.\r\n");
  EXPECT_EQ(DotStuff("x\r\n"), "x\r\n.\r\n");
  EXPECT_EQ(DotStuff(""), "\r\n.\r\n");
}

TEST(SmtpTest, AConnectionTheServerClosedIsOpenedAgain) {
  testing::FakeSmtpServer server;
  server.close_after(2);  // the server ends each session after two messages
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  for (int i = 0; i < 5; ++i) {
    SendOutcome o = ch->Send(Numbered(i));
    EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << i << ": " << o.error;
    // The next message goes out once the server has hung up (not racing its close).
    if (i % 2 == 1) {
      EXPECT_TRUE(server.WaitForClosed((i + 1) / 2));
    }
  }
  EXPECT_EQ(server.messages(), 5);
  EXPECT_EQ(server.connections(), 3);
}

TEST(SmtpTest, RepliesMapToPermanentAndTemporaryOutcomes) {
  SmtpTestServer server(TempDir());
  ASSERT_TRUE(server.running());
  auto ch = Make(Config(server.port()));
  ASSERT_TRUE(ch);
  SendOutcome perm = ch->Send(Mail("reject5@example.com"));
  EXPECT_EQ(perm.kind, SendOutcome::Kind::kPermanent);
  EXPECT_NE(perm.error.find("(reply 550)"), std::string::npos) << perm.error;
  SendOutcome temp = ch->Send(Mail("reject4@example.com"));
  EXPECT_EQ(temp.kind, SendOutcome::Kind::kTemporary);
  EXPECT_NE(temp.error.find("(reply 451)"), std::string::npos) << temp.error;
  // Still usable afterwards.
  EXPECT_EQ(ch->Send(Mail()).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(server.WaitFor(1).size(), 1u);
  SendOutcome bad = ch->Send(Mail("not-an-address"));
  EXPECT_EQ(bad.kind, SendOutcome::Kind::kPermanent);
  EXPECT_EQ(bad.error, "recipient is not an e-mail address");
}

TEST(SmtpTest, NoServerIsTemporary) {
  auto ch = Make(Config(testing::FreePort()));
  ASSERT_TRUE(ch);
  SendOutcome o = ch->Send(Mail());
  EXPECT_EQ(o.kind, SendOutcome::Kind::kTemporary);
}

class SmtpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
        "-keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(SmtpTlsTest, StartTlsRequiredIsRefusedByAPlainServer) {
  SmtpTestServer server(dir_ + "/in");
  ASSERT_TRUE(server.running());
  auto ch = Make(Config(server.port(), "starttls"));
  ASSERT_TRUE(ch);
  SendOutcome o = ch->Send(Mail());
  EXPECT_EQ(o.kind, SendOutcome::Kind::kTemporary);
  EXPECT_EQ(o.error, "smtp: the server does not offer STARTTLS, which settings.security requires");
  // Opportunistic STARTTLS sends in the clear when it is not offered.
  auto opt = Make(Config(server.port(), "starttls_optional"));
  ASSERT_TRUE(opt);
  EXPECT_EQ(opt->Send(Mail()).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(server.WaitFor(1).size(), 1u);
}

TEST_F(SmtpTlsTest, StartTlsAndImplicitTlsDeliver) {
  {
    SmtpTestServer server(dir_ + "/starttls", SmtpTestServer::Tls::kStartTls, dir_ + "/cert.pem",
                          dir_ + "/key.pem");
    ASSERT_TRUE(server.running());
    auto ch = Make(Config(server.port(), "starttls"));
    ASSERT_TRUE(ch);
    SendOutcome o = ch->Send(Mail());
    EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << o.error;
    auto got = server.WaitFor(1);
    ASSERT_EQ(got.size(), 1u);
    ExpectReceived(got[0], Mail());
    // With verification on, the self-signed certificate is refused (temporary).
    ChannelConfig strict = Config(server.port(), "starttls");
    strict.settings["verify_tls"] = true;
    auto strict_ch = Make(strict);
    ASSERT_TRUE(strict_ch);
    EXPECT_EQ(strict_ch->Send(Mail()).kind, SendOutcome::Kind::kTemporary);
  }
  {
    SmtpTestServer server(dir_ + "/tls", SmtpTestServer::Tls::kImplicit, dir_ + "/cert.pem",
                          dir_ + "/key.pem");
    ASSERT_TRUE(server.running());
    auto ch = Make(Config(server.port(), "tls"));
    ASSERT_TRUE(ch);
    SendOutcome o = ch->Send(Mail());
    EXPECT_EQ(o.kind, SendOutcome::Kind::kSent) << o.error;
    auto got = server.WaitFor(1);
    ASSERT_EQ(got.size(), 1u);
    ExpectReceived(got[0], Mail());
  }
}

TEST(SmtpTest, SettingsAreCheckedByName) {
  struct Case {
    nlohmann::json settings;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"from", "a@b.c"}}, "settings.host: required"},
           {{{"host", "h"}},
            "settings.from: required: an address such as \"Shop <shop@example.com>\""},
           {{{"host", "h"}, {"from", "a@b.c"}, {"security", "ssl"}},
            "settings.security: must be \"starttls\", \"starttls_optional\", \"tls\" or \"none\""},
           {{{"host", "h"}, {"from", "a@b.c"}, {"port", 70000}},
            "settings.port: must be an integer from 1 to 65535"},
           {{{"host", "h"}, {"from", "a@b.c"}, {"username", "u"}},
            "secrets.password: required with settings.username"},
           {{{"host", 3}, {"from", "a@b.c"}}, "settings.host: must be a string"},
       }) {
    ChannelConfig cfg;
    cfg.kind = ChannelKind::kSmtp;
    cfg.settings = c.settings;
    auto r = MakeChannel(cfg);
    ASSERT_FALSE(r.has_value()) << c.settings.dump();
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

}  // namespace
}  // namespace regulars::messaging
