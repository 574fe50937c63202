#include "messaging/smtp_session.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

namespace regulars::messaging {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0.
int Left(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

bool Positive(int code) { return code >= 200 && code < 300; }

// A reply's text on one line (the lines of a multi-line reply joined with "; ").
std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "; ";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (char c : message) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
  return out;
}

SmtpSession::SmtpSession(SmtpSessionOptions options) : options_(std::move(options)) {
  if (options_.helo.empty()) {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0 && host[0]) options_.helo = host;
    if (options_.helo.empty()) options_.helo = "localhost";
  }
}

SmtpSession::~SmtpSession() {
  if (fd_ >= 0) {
    // A polite end; the reply is not waited for.
    (void)::send(fd_, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  Close();
}

void SmtpSession::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pipelining_ = false;
  in_.clear();
}

bool SmtpSession::Write(std::string_view data) {
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int left = Left(deadline);
      if (left == 0 || ::poll(&p, 1, left) <= 0) {
        io_error_ = "timed out writing to the server";
        return false;
      }
      continue;
    }
    io_error_ = fmt::format("writing to the server failed: {}", std::strerror(errno));
    return false;
  }
  return true;
}

// One reply: lines "ddd-text" continue it, "ddd text" (or "ddd") ends it.
SmtpSession::Reply SmtpSession::Read() {
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  Reply r;
  size_t pos = 0;  // start of the line being parsed in in_
  for (;;) {
    size_t eol = in_.find("\r\n", pos);
    if (eol == std::string::npos) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        io_error_ = "the server closed the connection";
        return {};
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        io_error_ = fmt::format("reading from the server failed: {}", std::strerror(errno));
        return {};
      }
      pollfd p{fd_, POLLIN, 0};
      int left = Left(deadline);
      if (left == 0 || ::poll(&p, 1, left) <= 0) {
        io_error_ = "timed out waiting for the server";
        return {};
      }
      continue;
    }
    std::string_view line(in_.data() + pos, eol - pos);
    pos = eol + 2;
    int code = 0;
    if (line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
        std::isdigit(static_cast<unsigned char>(line[1])) &&
        std::isdigit(static_cast<unsigned char>(line[2])))
      code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code == 0) {
      io_error_ = fmt::format("the server sent a line that is no reply: {}",
                              std::string(line.substr(0, 100)));
      in_.erase(0, pos);
      return {};
    }
    if (!r.text.empty()) r.text += '\n';
    r.text += line.size() > 4 ? std::string(line.substr(4)) : std::string();
    if (line.size() > 3 && line[3] == '-') continue;
    r.code = code;
    in_.erase(0, pos);
    return r;
  }
}

bool SmtpSession::Open(std::string* error) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  std::string port = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &addrs); rc != 0) {
    *error = fmt::format("smtp: cannot resolve {}: {}", options_.host, gai_strerror(rc));
    return false;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(std::min(options_.timeout_ms, 10000));
  std::string last = "no address";
  for (addrinfo* a = addrs; a && fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      if (::poll(&p, 1, Left(deadline)) > 0) {
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc < 0) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  freeaddrinfo(addrs);
  if (fd_ < 0) {
    *error = fmt::format("smtp: cannot connect to {}:{}: {}", options_.host, options_.port, last);
    return false;
  }
  ++opened_;
  auto fail = [&](std::string_view what, const Reply& r) {
    *error = r.code ? fmt::format("smtp: {}: {} {} (reply {})", what, r.code, Trim(r.text), r.code)
                    : fmt::format("smtp: {}: {}", what, io_error_);
    Close();
    return false;
  };
  Reply greeting = Read();
  if (greeting.code != 220) return fail("greeting", greeting);
  if (!Write("EHLO " + options_.helo + "\r\n")) return fail("EHLO", {});
  Reply ehlo = Read();
  if (ehlo.code == 0) return fail("EHLO", ehlo);
  if (!Positive(ehlo.code)) {
    // An old server: HELO, and no extensions.
    if (!Write("HELO " + options_.helo + "\r\n")) return fail("HELO", {});
    Reply helo = Read();
    if (!Positive(helo.code)) return fail("HELO", helo);
    return true;
  }
  // Extension lines after the first: "PIPELINING", "SIZE 10240000", ... (case-insensitive).
  size_t start = ehlo.text.find('\n');
  while (start != std::string::npos) {
    size_t end = ehlo.text.find('\n', start + 1);
    std::string kw = ehlo.text.substr(start + 1, end == std::string::npos ? end : end - start - 1);
    kw = kw.substr(0, kw.find(' '));
    for (char& c : kw) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kw == "PIPELINING") pipelining_ = true;
    start = end;
  }
  return true;
}

// A kept session the server has hung up on, or spoken on unasked (421 before an idle close),
// is readable while we have sent nothing: it cannot carry the next message.
bool SmtpSession::StaleIfIdle() {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (!in_.empty() || ::poll(&p, 1, 0) > 0) {
    Close();
    return true;
  }
  return false;
}

SmtpResult SmtpSession::Send(std::string_view mail_from, std::string_view rcpt_to,
                             std::string_view message) {
  StaleIfIdle();
  bool reused = fd_ >= 0;
  bool retry = false;
  SmtpResult r = Attempt(mail_from, rcpt_to, message, &retry);
  if (!r.sent && retry && reused) r = Attempt(mail_from, rcpt_to, message, &retry);
  return r;
}

SmtpResult SmtpSession::Failed(std::string_view what, const Reply& r) {
  SmtpResult out;
  out.code = r.code;
  out.error = r.code ? fmt::format("smtp: {}: {} {} (reply {})", what, r.code, Trim(r.text), r.code)
                     : fmt::format("smtp: {}: {}", what, io_error_);
  return out;
}

void SmtpSession::Reset() {
  if (fd_ < 0) return;
  if (!Write("RSET\r\n") || !Positive(Read().code)) Close();
}

namespace {
std::string EnvelopeCommands(std::string_view mail_from, std::string_view rcpt_to) {
  return fmt::format("MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n", mail_from, rcpt_to);
}
}  // namespace

bool SmtpSession::BeginEnvelope(std::string_view mail_from, std::string_view rcpt_to) {
  begun_ = false;
  begun_write_failed_ = false;
  begun_error_.clear();
  StaleIfIdle();
  begun_reused_ = fd_ >= 0;
  if (fd_ < 0 && !Open(&begun_error_)) {
    begun_ = true;
    return true;
  }
  if (!pipelining_) return false;
  begun_ = true;
  if (!Write(EnvelopeCommands(mail_from, rcpt_to))) {
    begun_write_failed_ = true;
    Close();
  }
  return true;
}

SmtpResult SmtpSession::SendBody(std::string_view mail_from, std::string_view rcpt_to,
                                 std::string_view message) {
  if (!begun_) return Send(mail_from, rcpt_to, message);
  begun_ = false;
  if (!begun_error_.empty()) {
    SmtpResult out;
    out.error = std::move(begun_error_);
    begun_error_.clear();
    return out;
  }
  bool retry = true;
  SmtpResult r = begun_write_failed_ ? Failed("MAIL FROM", {}) : FinishPipelined(message, &retry);
  if (!r.sent && retry && begun_reused_) r = Attempt(mail_from, rcpt_to, message, &retry);
  return r;
}

SmtpResult SmtpSession::FinishPipelined(std::string_view message, bool* retry) {
  *retry = false;
  Reply mr = Read(), rr, dr;
  if (mr.code == 0) *retry = true;
  if (mr.code != 0) rr = Read();
  if (rr.code != 0) dr = Read();
  if (mr.code == 0 || rr.code == 0 || dr.code == 0) {
    Close();
    return Failed(mr.code == 0   ? "MAIL FROM"
                  : rr.code == 0 ? "RCPT TO"
                                 : "DATA",
                  mr.code == 0   ? mr
                  : rr.code == 0 ? rr
                                 : dr);
  }
  if (!Positive(mr.code) || !Positive(rr.code)) {
    // DATA must then have been refused too (no valid recipient); a server that still says
    // 354 would take an empty message after ".": close instead.
    if (dr.code == 354)
      Close();
    else
      Reset();
    return !Positive(mr.code) ? Failed("MAIL FROM", mr) : Failed("RCPT TO", rr);
  }
  return SendData(dr, message);
}

SmtpResult SmtpSession::SendData(const Reply& dr, std::string_view message) {
  if (dr.code != 354) {
    Reset();
    return Failed("DATA", dr);
  }
  Reply end;
  if (!Write(DotStuff(message)) || (end = Read()).code == 0) {
    Close();
    return Failed("end of data (the server may have taken the message)", end);
  }
  if (!Positive(end.code)) {
    Reset();
    return Failed("end of data", end);
  }
  SmtpResult out;
  out.sent = true;
  out.code = end.code;
  return out;
}

SmtpResult SmtpSession::Attempt(std::string_view mail_from, std::string_view rcpt_to,
                                std::string_view message, bool* retry) {
  *retry = false;
  SmtpResult out;
  if (fd_ < 0 && !Open(&out.error)) return out;
  if (pipelining_) {
    if (!Write(EnvelopeCommands(mail_from, rcpt_to))) {
      *retry = true;
      Close();
      return Failed("MAIL FROM", {});
    }
    return FinishPipelined(message, retry);
  }
  Reply mr, rr, dr;
  if (!Write(fmt::format("MAIL FROM:<{}>\r\n", mail_from))) {
    *retry = true;
    Close();
    return Failed("MAIL FROM", {});
  }
  mr = Read();
  if (mr.code == 0) {
    *retry = true;
    Close();
    return Failed("MAIL FROM", mr);
  }
  if (!Positive(mr.code)) {
    Reset();
    return Failed("MAIL FROM", mr);
  }
  if (!Write(fmt::format("RCPT TO:<{}>\r\n", rcpt_to)) || (rr = Read()).code == 0) {
    Close();
    return Failed("RCPT TO", rr);
  }
  if (!Positive(rr.code)) {
    Reset();
    return Failed("RCPT TO", rr);
  }
  if (!Write("DATA\r\n") || (dr = Read()).code == 0) {
    Close();
    return Failed("DATA", dr);
  }
  return SendData(dr, message);
}

}  // namespace regulars::messaging
