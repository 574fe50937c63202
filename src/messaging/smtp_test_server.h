#pragma once

// Test helper (header-only): a real aiosmtpd (python3-aiosmtpd) on a free local port with
// tests/smtp_receiver.py writing each received message to a folder, and a small reader for
// what it wrote. Used by smtp_test and tests/outbox_crash_test.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace regulars::messaging::testing {

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

inline bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A received message: the envelope lines, the headers (unfolded; names as sent) and the decoded
// text/plain and text/html parts.
struct ReceivedMail {
  std::string file;
  std::string envelope_from, envelope_to;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string text, html;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (std::equal(k.begin(), k.end(), name.begin(), name.end(),
                     [](char a, char b) { return tolower(a) == tolower(b); }))
        return v;
    return "";
  }
};

inline std::string DecodeBase64(std::string_view s) {
  std::string clean;
  for (char c : s)
    if (!isspace(static_cast<unsigned char>(c))) clean += c;
  std::string out(clean.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return "";
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(n - pad);
  return out;
}

// Splits "headers\r\n\r\nbody" and unfolds the headers.
inline std::pair<std::vector<std::pair<std::string, std::string>>, std::string> SplitMessage(
    const std::string& raw) {
  std::vector<std::pair<std::string, std::string>> headers;
  size_t end = raw.find("\r\n\r\n");
  std::string head = raw.substr(0, end);
  std::string body = end == std::string::npos ? "" : raw.substr(end + 4);
  std::istringstream in(head);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().second += line;  // unfold (keep the leading space)
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    if (!v.empty() && v[0] == ' ') v.erase(0, 1);
    headers.emplace_back(line.substr(0, colon), v);
  }
  return {headers, body};
}

inline ReceivedMail ParseReceived(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ReceivedMail m;
  m.file = file;
  auto [headers, body] = SplitMessage(raw);
  for (auto& [k, v] : headers) {
    if (k == "X-Envelope-From")
      m.envelope_from = v;
    else if (k == "X-Envelope-To")
      m.envelope_to = v;
    else
      m.headers.emplace_back(k, v);
  }
  m.content_type = m.Header("Content-Type");
  auto take_part = [&](const std::vector<std::pair<std::string, std::string>>& hs,
                       const std::string& b) {
    std::string type;
    for (const auto& [k, v] : hs)
      if (k == "Content-Type") type = v;
    std::string decoded = DecodeBase64(b);
    if (type.starts_with("text/plain")) m.text = decoded;
    if (type.starts_with("text/html")) m.html = decoded;
  };
  size_t bpos = m.content_type.find("boundary=\"");
  if (bpos == std::string::npos) {
    take_part(m.headers, body);
    return m;
  }
  std::string boundary = m.content_type.substr(bpos + 10);
  boundary = "--" + boundary.substr(0, boundary.find('"'));
  size_t pos = body.find(boundary);
  while (pos != std::string::npos) {
    size_t start = pos + boundary.size();
    if (body.compare(start, 2, "--") == 0) break;
    start += 2;  // CRLF
    size_t next = body.find(boundary, start);
    if (next == std::string::npos) break;
    auto [ph, pb] = SplitMessage(body.substr(start, next - start));
    take_part(ph, pb);
    pos = next;
  }
  return m;
}

class SmtpTestServer {
 public:
  enum class Tls { kNone, kStartTls, kImplicit };
  // Starts aiosmtpd writing into `folder`. With TLS, `cert`/`key` name a PEM pair.
  SmtpTestServer(std::string folder, Tls tls = Tls::kNone, std::string cert = "",
                 std::string key = "")
      : folder_(std::move(folder)), port_(FreePort()) {
    std::filesystem::create_directories(folder_);
    std::string script_dir = std::filesystem::path(REGULARS_SMTP_RECEIVER).parent_path();
    std::vector<std::string> args = {"/usr/bin/python3",
                                     "-m",
                                     "aiosmtpd",
                                     "-n",
                                     "-l",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "-c",
                                     "smtp_receiver.Receiver"};
    if (tls == Tls::kStartTls) {
      args.insert(args.end(), {"--tlscert", cert, "--tlskey", key});
    } else if (tls == Tls::kImplicit) {
      args.insert(args.end(), {"--smtpscert", cert, "--smtpskey", key});
    }
    args.push_back(folder_);
    pid_ = fork();
    if (pid_ == 0) {
      setenv("PYTHONPATH", script_dir.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !CanConnect(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~SmtpTestServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  bool running() const { return CanConnect(port_); }
  const std::string& folder() const { return folder_; }

  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(folder_))
      if (e.path().extension() == ".eml") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<ReceivedMail> Received() const {
    std::vector<ReceivedMail> out;
    for (const auto& f : Files()) out.push_back(ParseReceived(f));
    return out;
  }
  // Waits until at least n messages arrived or ~10 s passed.
  std::vector<ReceivedMail> WaitFor(size_t n) const {
    for (int i = 0; i < 200 && Files().size() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Received();
  }

 private:
  std::string folder_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace regulars::messaging::testing
