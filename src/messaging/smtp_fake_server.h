#pragma once

// Test helper (header-only): a minimal in-process SMTP server on a free local port that accepts
// every message and counts what it saw — connections, messages, commands — so tests can assert
// how many SMTP sessions carried how many messages. One thread per connection. It speaks just
// enough of RFC 5321 for libcurl: 220 greeting; EHLO/HELO, MAIL, RCPT, RSET, NOOP -> 250;
// DATA -> 354, then the message up to "<CRLF>.<CRLF>" -> 250; QUIT -> 221 and close. With
// close_after(n) it closes each connection after n accepted messages (as servers do that limit
// messages per session), so a client must open a new one. With pipelining(true) it advertises
// PIPELINING and holds its replies to MAIL and RCPT until DATA arrives (RFC 2920 allows a server
// to), so a client that waits for each reply stalls: only a pipelining client gets through.
// Without it, early_commands() counts commands that arrived before the reply to the previous one
// was sent (a client that pipelines although PIPELINING was not advertised). A recipient
// containing "reject5" is refused (550), and DATA without an accepted recipient gets 554.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace regulars::messaging::testing {

class FakeSmtpServer {
 public:
  FakeSmtpServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FakeSmtpServer() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : sessions_) t.join();
  }
  FakeSmtpServer(const FakeSmtpServer&) = delete;
  FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

  int port() const { return port_; }
  void close_after(int n) { close_after_ = n; }
  void pipelining(bool on) { pipelining_ = on; }
  int early_commands() const { return early_.load(); }
  int connections() const { return connections_.load(); }
  int messages() const { return messages_.load(); }
  // Waits (up to ~10 s) until n sessions have ended on the server's side; false if they did not.
  bool WaitForClosed(int n) const {
    for (int i = 0; i < 1000 && closed_.load() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return closed_.load() >= n;
  }
  // Every command line received, in order, across connections ("MAIL FROM:<a@b>", "RSET", ...).
  std::vector<std::string> commands() const {
    std::lock_guard lock(mu_);
    return commands_;
  }

 private:
  void Accept() {
    while (!stopping_) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      sessions_.emplace_back([this, fd] { Session(fd); });
    }
  }

  static bool Send(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }

  void Session(int fd) {
    std::string buf;
    std::string held;  // replies held back until DATA (pipelining mode)
    int rcpts = 0;     // accepted recipients of the current transaction
    bool in_data = false;
    int accepted = 0;
    auto line = [&](std::string& out) -> bool {  // the next CRLF-terminated line
      while (true) {
        size_t eol = buf.find("\r\n");
        if (eol != std::string::npos) {
          out = buf.substr(0, eol);
          buf.erase(0, eol + 2);
          return true;
        }
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buf.append(chunk, static_cast<size_t>(n));
      }
    };
    if (Send(fd, "220 fake ESMTP\r\n")) {
      std::string l;
      while (line(l)) {
        if (in_data) {
          if (l != ".") continue;
          in_data = false;
          ++messages_;
          ++accepted;
          if (!Send(fd, "250 2.0.0 Ok: queued\r\n")) break;
          if (close_after_ > 0 && accepted >= close_after_) break;
          continue;
        }
        {
          std::lock_guard lock(mu_);
          commands_.push_back(l);
        }
        std::string verb = l.substr(0, 4);
        for (char& c : verb) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
        if (!pipelining_ && !buf.empty()) ++early_;
        if (verb == "QUIT") {
          Send(fd, "221 Bye\r\n");
          break;
        }
        if (verb == "MAIL" || verb == "RSET") rcpts = 0;
        bool refused = verb == "RCPT" && l.find("reject5") != std::string::npos;
        if (verb == "RCPT" && !refused) ++rcpts;
        in_data = verb == "DATA" && rcpts > 0;
        std::string reply = refused                      ? "550 5.1.1 no such user\r\n"
                            : verb == "DATA" && !in_data ? "554 5.5.1 no valid recipients\r\n"
                            : verb == "EHLO"
                                ? (pipelining_ ? "250-fake\r\n250 PIPELINING\r\n" : "250 fake\r\n")
                            : verb == "HELO" ? "250 fake\r\n"
                            : in_data        ? "354 End data with <CR><LF>.<CR><LF>\r\n"
                                             : "250 Ok\r\n";
        if (pipelining_ && (verb == "MAIL" || verb == "RCPT")) {
          held += reply;  // answered together with DATA
          continue;
        }
        if (!Send(fd, held + reply)) break;
        held.clear();
      }
    }
    {
      std::lock_guard lock(mu_);
      std::erase(open_fds_, fd);
    }
    close(fd);
    ++closed_;
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> close_after_{0};
  std::atomic<bool> pipelining_{false};
  std::atomic<int> early_{0};
  std::atomic<int> connections_{0}, messages_{0}, closed_{0};
  mutable std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::string> commands_;
  std::vector<std::thread> sessions_;
  std::thread acceptor_;
};

}  // namespace regulars::messaging::testing
