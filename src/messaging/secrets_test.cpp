// Channel secrets at rest (secrets.h): what is sealed opens only under the same key, the sealed
// format is plain crypto_secretbox (opened here independently with libsodium), and the server
// key is taken from REGULARS_SECRET_KEY or created once in <data>/secret.key with mode 0600 —
// also when several processes (threads here) start at once. A wrong, malformed or exposed key is
// a precise error, never a crash.

#include "messaging/secrets.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace regulars::messaging {
namespace {

constexpr char kKeyA[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kKeyB[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rg-secrets-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

SecretBox Box(const char* hex) {
  auto b = SecretBox::FromHex(hex, "REGULARS_SECRET_KEY");
  EXPECT_TRUE(b.has_value());
  return *b;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SecretBoxTest, SealsAndOpens) {
  SecretBox box = Box(kKeyA);
  std::string sealed = box.Seal("twilio-auth-token-1");
  EXPECT_TRUE(sealed.starts_with("rgs1:" + box.key_id() + ":")) << sealed;
  EXPECT_EQ(box.key_id().size(), 8u);
  EXPECT_EQ(sealed.find("twilio"), std::string::npos);
  EXPECT_NE(box.Seal("twilio-auth-token-1"), sealed);  // a fresh nonce each time
  auto opened = box.Open(sealed);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  EXPECT_EQ(*opened, "twilio-auth-token-1");
  EXPECT_EQ(*box.Open(box.Seal("")), "");

  nlohmann::json secrets = {{"auth_token", "t"}, {"api_key", "密碼"}};
  auto j = box.OpenJson(box.SealJson(secrets));
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(*j, secrets);
}

TEST(SecretBoxTest, TheFormatIsPlainSecretbox) {
  // nonce || MAC || ciphertext, base64, opened here with libsodium directly.
  SecretBox box = Box(kKeyA);
  std::string sealed = box.Seal("hello");
  std::string b64 = sealed.substr(sealed.rfind(':') + 1);
  std::vector<unsigned char> raw(b64.size());
  size_t len = 0;
  ASSERT_EQ(sodium_base642bin(raw.data(), raw.size(), b64.data(), b64.size(), nullptr, &len,
                              nullptr, sodium_base64_VARIANT_ORIGINAL),
            0);
  ASSERT_EQ(len, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 5);
  unsigned char key[32];
  size_t key_len = 0;
  ASSERT_EQ(sodium_hex2bin(key, sizeof key, kKeyA, 64, nullptr, &key_len, nullptr), 0);
  unsigned char plain[5];
  ASSERT_EQ(crypto_secretbox_open_easy(plain, raw.data() + crypto_secretbox_NONCEBYTES,
                                       len - crypto_secretbox_NONCEBYTES, raw.data(), key),
            0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(plain), 5), "hello");
}

TEST(SecretBoxTest, AnotherKeyOrAlteredTextIsAClearError) {
  SecretBox a = Box(kKeyA), b = Box(kKeyB);
  ASSERT_NE(a.key_id(), b.key_id());
  std::string sealed = a.Seal("secret");
  auto wrong = b.Open(sealed);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(wrong.error().message,
            "secrets: sealed under key " + a.key_id() +
                ", but this server's key (from REGULARS_SECRET_KEY) is " + b.key_id() +
                "; restore the original key or enter the channel's secrets again");

  std::string altered = sealed;
  char& c = altered[altered.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  auto bad = a.Open(altered);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(bad.error().message, "secrets: sealed value fails authentication under key " +
                                     a.key_id() + " (altered or corrupt)");

  auto truncated = a.Open("rgs1:" + a.key_id() + ":AAAA");
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().message,
            "secrets: sealed value under key " + a.key_id() + " is truncated");

  struct Case {
    std::string text, message;
  } cases[] = {
      {"plain", "secrets: not a sealed secret: expected it to start with \"rgs1:\""},
      {"rgs1:abc", "secrets: not a sealed secret: no key id"},
      {"rgs1:" + a.key_id() + ":!!!", "secrets: not a sealed secret: the payload is not base64"},
  };
  for (const Case& k : cases) {
    auto r = a.Open(k.text);
    ASSERT_FALSE(r.has_value()) << k.text;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << k.text;
    EXPECT_EQ(r.error().message, k.message) << k.text;
  }
}

TEST(SecretBoxTest, KeyFromTheEnvironment) {
  TempDir dir;
  auto box = SecretBox::Load(dir.path(), std::string(kKeyA) + "\n");
  ASSERT_TRUE(box.has_value()) << box.error().ToString();
  EXPECT_EQ(box->key_id(), Box(kKeyA).key_id());
  EXPECT_EQ(box->source(), "REGULARS_SECRET_KEY");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "secret.key"));

  auto short_key = SecretBox::Load(dir.path(), std::string("0011223344"));
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(short_key.error().code, Code::kInvalidArgument);
  EXPECT_EQ(short_key.error().field, "REGULARS_SECRET_KEY");
  EXPECT_EQ(short_key.error().message,
            "REGULARS_SECRET_KEY: expected 64 hex digits (a 32-byte key), found 10 characters");
  std::string not_hex = kKeyA;
  not_hex[4] = 'g';
  auto bad = SecretBox::Load(dir.path(), not_hex);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "REGULARS_SECRET_KEY: not a hex digit at character 5");
}

TEST(SecretBoxTest, KeyFileIsCreatedOnceWithMode0600) {
  TempDir dir;
  std::filesystem::path data = dir.path() / "var";
  auto first = SecretBox::Load(data, std::nullopt);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  std::filesystem::path key_file = data / "secret.key";
  EXPECT_EQ(first->source(), key_file.string());
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string content = ReadFile(key_file);
  ASSERT_EQ(content.size(), 65u);
  EXPECT_EQ(content.back(), '\n');
  EXPECT_EQ(Box(content.substr(0, 64).c_str()).key_id(), first->key_id());
  std::string sealed = first->Seal("x");

  auto again = SecretBox::Load(data, std::string());  // an empty variable counts as unset
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->key_id(), first->key_id());
  EXPECT_EQ(*again->Open(sealed), "x");
  EXPECT_EQ(ReadFile(key_file), content);
  // No temporary files are left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(data), {}), 1);
}

TEST(SecretBoxTest, ConcurrentFirstStartsAgreeOnOneKey) {
  TempDir dir;
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i)
    threads.emplace_back([&, i] {
      auto b = SecretBox::Load(dir.path(), std::nullopt);
      ids[i] = b ? b->key_id() : b.error().message;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u) << ids[0];
  EXPECT_EQ(ids[0].size(), 8u) << ids[0];
}

TEST(SecretBoxTest, AnExposedOrBrokenKeyFileIsRefused) {
  TempDir dir;
  std::filesystem::path key_file = dir.path() / "secret.key";
  ASSERT_TRUE(SecretBox::Load(dir.path(), std::nullopt).has_value());
  ASSERT_EQ(chmod(key_file.c_str(), 0644), 0);
  auto exposed = SecretBox::Load(dir.path(), std::nullopt);
  ASSERT_FALSE(exposed.has_value());
  EXPECT_EQ(exposed.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(exposed.error().message,
            key_file.string() + ": mode 0644 lets other users read the secret key; chmod 600 it");

  ASSERT_EQ(chmod(key_file.c_str(), 0600), 0);
  std::ofstream(key_file) << "not a key\n";
  auto broken = SecretBox::Load(dir.path(), std::nullopt);
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code, Code::kInvalidArgument);
  EXPECT_EQ(broken.error().field, key_file.string());
  EXPECT_EQ(broken.error().message,
            key_file.string() + ": expected 64 hex digits (a 32-byte key), found 9 characters");
}

}  // namespace
}  // namespace regulars::messaging
