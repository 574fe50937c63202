#include "messaging/secrets.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace regulars::messaging {
namespace {

constexpr std::string_view kPrefix = "rgs1:";
constexpr std::string_view kKeyIdContext = "regulars secret key id";

std::string KeyId(const std::array<unsigned char, 32>& key) {
  unsigned char h[4];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(kKeyIdContext.data()),
                     kKeyIdContext.size(), key.data(), key.size());
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

std::string Errno(const std::string& what, const std::filesystem::path& p) {
  return p.string() + ": " + what + ": " + std::strerror(errno);
}

// Writes a new random key to `path` unless one is there already; either way the file then holds
// the one key every process uses. The key is written to a private temporary file and linked into
// place, so no reader ever sees a half-written key and two concurrent starts cannot both win.
Status CreateKeyFile(const std::filesystem::path& path) {
  unsigned char key[32];
  randombytes_buf(key, sizeof key);
  char hex[sizeof key * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, key, sizeof key);
  sodium_memzero(key, sizeof key);
  std::string content = std::string(hex) + "\n";
  sodium_memzero(hex, sizeof hex);

  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(getpid()) + "." + std::to_string(randombytes_random());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Fail(Code::kFailedPrecondition, Errno("cannot create the secret key file", tmp));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(content.data(), content.size());
  if (!ok) {
    ::unlink(tmp.c_str());
    return Fail(Code::kFailedPrecondition, Errno("cannot write the secret key file", tmp));
  }
  int linked = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno != EEXIST) {
    errno = link_errno;
    return Fail(Code::kFailedPrecondition, Errno("cannot create the secret key file", path));
  }
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace

SecretBox::~SecretBox() { sodium_memzero(key_.data(), key_.size()); }

Result<SecretBox> SecretBox::FromHex(std::string_view hex, std::string_view source) {
  if (sodium_init() < 0) return Fail(Code::kInternal, "libsodium failed to initialise");
  std::string field(source);
  if (hex.size() != 64)
    return InvalidField(field, "expected 64 hex digits (a 32-byte key), found " +
                                   std::to_string(hex.size()) + " characters");
  SecretBox box;
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(box.key_.data(), box.key_.size(), hex.data(), hex.size(), nullptr, &len,
                     &end) != 0 ||
      len != 32 || end != hex.data() + hex.size()) {
    size_t bad = end ? static_cast<size_t>(end - hex.data()) : 0;
    return InvalidField(field, "not a hex digit at character " + std::to_string(bad + 1));
  }
  box.key_id_ = KeyId(box.key_);
  box.source_ = field;
  return box;
}

Result<SecretBox> SecretBox::Load(const std::filesystem::path& data_dir,
                                  std::optional<std::string> env_hex) {
  if (env_hex && !env_hex->empty()) {
    std::string_view v = *env_hex;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    return FromHex(v, "REGULARS_SECRET_KEY");
  }
  if (sodium_init() < 0) return Fail(Code::kInternal, "libsodium failed to initialise");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return Fail(Code::kFailedPrecondition,
                data_dir.string() + ": cannot create the data directory: " + ec.message());
  std::filesystem::path path = data_dir / "secret.key";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Fail(Code::kFailedPrecondition, Errno("cannot read", path));
    RG_TRY(CreateKeyFile(path));
    if (::stat(path.c_str(), &st) != 0)
      return Fail(Code::kFailedPrecondition, Errno("cannot read", path));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(
        Code::kFailedPrecondition,
        path.string() + ": mode " + mode + " lets other users read the secret key; chmod 600 it");
  }
  std::ifstream in(path);
  if (!in) return Fail(Code::kFailedPrecondition, Errno("cannot read", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string content = ss.str();
  while (!content.empty() &&
         (content.back() == '\n' || content.back() == '\r' || content.back() == ' '))
    content.pop_back();
  auto box = FromHex(content, path.string());
  sodium_memzero(content.data(), content.size());
  return box;
}

Result<SecretBox> SecretBox::LoadFromEnvironment(const std::filesystem::path& data_dir) {
  const char* v = std::getenv("REGULARS_SECRET_KEY");
  return Load(data_dir, v ? std::optional<std::string>(v) : std::nullopt);
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  std::string raw(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(raw.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        nonce, key_.data());
  std::string b64(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(kPrefix) + key_id_ + ":" + b64;
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  auto malformed = [](std::string why) {
    return Fail(Code::kInvalidArgument, "secrets: not a sealed secret: " + why, "secrets");
  };
  if (!sealed.starts_with(kPrefix)) return malformed("expected it to start with \"rgs1:\"");
  std::string_view rest = sealed.substr(kPrefix.size());
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return malformed("no key id");
  std::string_view id = rest.substr(0, colon), b64 = rest.substr(colon + 1);
  if (id != key_id_)
    return Fail(Code::kFailedPrecondition,
                "secrets: sealed under key " + std::string(id) + ", but this server's key (from " +
                    source_ + ") is " + key_id_ +
                    "; restore the original key or enter the channel's secrets again",
                "secrets");
  std::string raw(b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), b64.data(),
                        b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return malformed("the payload is not base64");
  if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return Fail(Code::kFailedPrecondition,
                "secrets: sealed value under key " + key_id_ + " is truncated", "secrets");
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, nonce, key_.data()) != 0)
    return Fail(
        Code::kFailedPrecondition,
        "secrets: sealed value fails authentication under key " + key_id_ + " (altered or corrupt)",
        "secrets");
  return plain;
}

std::string SecretBox::SealJson(const nlohmann::json& secrets) const {
  return Seal(secrets.dump());
}

Result<nlohmann::json> SecretBox::OpenJson(std::string_view sealed) const {
  RG_ASSIGN_OR_RETURN(auto plain, Open(sealed));
  auto j = nlohmann::json::parse(plain, nullptr, false);
  sodium_memzero(plain.data(), plain.size());
  if (j.is_discarded())
    return Fail(Code::kInternal, "secrets: the sealed value is not JSON", "secrets");
  return j;
}

}  // namespace regulars::messaging
