#pragma once

// A plain-TCP SMTP client session (RFC 5321) that pipelines (RFC 2920) when the server
// advertises PIPELINING: MAIL FROM, RCPT TO and DATA go out in one write, then the message in a
// second, so a message costs two round trips instead of four. Without PIPELINING in the EHLO reply
// every command waits for its reply. The SMTP channel (smtp_channel.h) uses it for security
// "none" without AUTH; TLS and AUTH stay with libcurl.
//
// The session stays open between messages. Before reusing it, a server that has already hung up
// or spoken unasked (421 on an idle timeout) is noticed and a new session is opened; if the
// session still breaks before the server answered MAIL FROM, the message is tried once more on a
// fresh one (nothing of it can have been accepted). A failure after the message was written is
// reported as it is (the outcome is unknown, a retry may deliver it twice with the same
// Message-ID). After any refusal the session is reset (RSET) or, if that fails, closed.
//
// Not thread-safe: one caller at a time (the channel holds a mutex).

#include <string>
#include <string_view>

namespace regulars::messaging {

struct SmtpSessionOptions {
  std::string host;
  int port = 25;
  std::string helo;        // the EHLO name; empty: this host's name
  int timeout_ms = 30000;  // for connecting, and for each reply
};

// What one message's transaction ended with.
struct SmtpResult {
  bool sent = false;  // the server answered 2xx to the end of the message
  // The reply that decided the outcome: 0 when there was none (network error, timeout).
  int code = 0;
  std::string error;  // "smtp: ..." when !sent
};

class SmtpSession {
 public:
  explicit SmtpSession(SmtpSessionOptions options);
  ~SmtpSession();  // QUIT and close
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;

  // Sends one message: the envelope addresses without angle brackets, and the message itself
  // (headers and body, CRLF line ends), which is dot-stuffed here.
  SmtpResult Send(std::string_view mail_from, std::string_view rcpt_to, std::string_view message);

  // Send in two phases, so that the caller can work between them (the sender commits the
  // previous message's `sent` while the server answers this envelope). BeginEnvelope opens the
  // session if needed and, when it pipelines, writes MAIL FROM, RCPT TO and DATA without waiting
  // for the replies, and returns true; then the next call on the session must be SendBody with
  // the same addresses. It returns false when the session does not pipeline (nothing was
  // written: call Send). SendBody reads the three replies and, only if all are positive, writes
  // the message and reads its reply: until SendBody has written the body the server cannot have
  // accepted the message. Failures are reported as Send reports them (a session that breaks
  // before the reply to MAIL FROM is opened again once and the message sent on it in one go);
  // a connection that could not be opened in BeginEnvelope is SendBody's error (true is returned).
  bool BeginEnvelope(std::string_view mail_from, std::string_view rcpt_to);
  SmtpResult SendBody(std::string_view mail_from, std::string_view rcpt_to,
                      std::string_view message);

  // Whether the open session pipelines (the server advertised PIPELINING); false when closed.
  bool pipelining() const { return fd_ >= 0 && pipelining_; }
  // Sessions opened so far (for tests).
  int sessions_opened() const { return opened_; }

 private:
  struct Reply {
    int code = 0;  // 0: none (connection closed, timed out)
    std::string text;
  };
  SmtpResult Attempt(std::string_view mail_from, std::string_view rcpt_to, std::string_view message,
                     bool* retry);
  // The pipelined transaction after its envelope was written: the three replies, then the body.
  SmtpResult FinishPipelined(std::string_view message, bool* retry);
  // After DATA's reply `dr`: the body unless DATA was refused, then the end-of-data reply.
  SmtpResult SendData(const Reply& dr, std::string_view message);
  SmtpResult Failed(std::string_view what, const Reply& r);
  void Reset();  // after a refusal: RSET keeps the session for the next message; else closed
  bool Open(std::string* error);
  void Close();
  bool StaleIfIdle();
  bool Write(std::string_view data);
  Reply Read();

  SmtpSessionOptions options_;
  int fd_ = -1;
  bool pipelining_ = false;
  int opened_ = 0;
  std::string in_;        // received, not yet parsed
  std::string io_error_;  // the last network error, for messages
  // Between BeginEnvelope and SendBody:
  bool begun_ = false;
  bool begun_reused_ = false;        // the envelope went on a session kept from before
  bool begun_write_failed_ = false;  // writing the envelope failed (the session is closed)
  std::string begun_error_;          // opening the session failed
};

// `message` dot-stuffed (a line starting with '.' gets another one, RFC 5321 4.5.2), ended with
// CRLF if it was not, and terminated with ".\r\n".
std::string DotStuff(std::string_view message);

}  // namespace regulars::messaging
