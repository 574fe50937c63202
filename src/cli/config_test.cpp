#include "cli/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace regulars::cli {
namespace {

std::string WriteFile(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("regulars-config-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(Config, DefaultsAreDocumentedValues) {
  Config c;
  EXPECT_EQ(c.EffectiveDatabaseUrl(), "sqlite:var/regulars.db");
  auto o = c.ServerOptions();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 8080);
  EXPECT_EQ(c.StoreOptions().sqlite_synchronous, "FULL");
}

TEST(Config, FileOverridesDefaults) {
  auto c =
      LoadConfigFile(WriteFile("[server]\nlisten = \"0.0.0.0:9000\"\nthreads = 16\n"
                               "[database]\nurl = \"postgresql://x@h/db\"\n"));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->threads, 16);
  EXPECT_EQ(c->EffectiveDatabaseUrl(), "postgresql://x@h/db");
}

TEST(Config, BadFilesNameTheKey) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"[server]\nthreads = \"many\"\n", "server.threads: must be an integer"},
      {"[server]\nlisen = \"x\"\n", "server.lisen: unknown key in "},
      {"[database]\nsqlite_synchronous = \"OFF\"\n",
       "database.sqlite_synchronous: must be FULL, EXTRA or NORMAL"},
  };
  for (const auto& c : cases) {
    auto r = LoadConfigFile(WriteFile(c.text));
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().message.rfind(c.message, 0), 0u) << r.error().message;
  }
  auto broken = LoadConfigFile(WriteFile("[server\n"));
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message.find("line 1"), std::string::npos) << broken.error().message;
}

TEST(Config, ListenParsing) {
  EXPECT_EQ(ParseListen("[::1]:8080")->first, "::1");
  EXPECT_EQ(ParseListen("localhost:0")->second, 0);
  EXPECT_EQ(ParseListen("8080").error().message, "listen: must be HOST:PORT, e.g. 127.0.0.1:8080");
  EXPECT_EQ(ParseListen("h:99999").error().message,
            "listen: port must be a number from 0 to 65535");
}

}  // namespace
}  // namespace regulars::cli

namespace regulars::cli {
namespace {

TEST(Config, PublicUrlFromFileOrEnvironmentElseTheListenAddress) {
  unsetenv("REGULARS_PUBLIC_URL");
  Config plain;
  auto o = plain.ServerOptions();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->public_url, "");
  EXPECT_EQ(PublicBaseUrl(*o), "http://127.0.0.1:8080");

  auto c = LoadConfigFile(WriteFile("[server]\npublic_url = \"https://shop.example.com/\"\n"));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->public_url, "https://shop.example.com");
  o = c->ServerOptions();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(PublicBaseUrl(*o), "https://shop.example.com");

  setenv("REGULARS_PUBLIC_URL", "https://regulars.example.org/tea/", 1);
  o = c->ServerOptions();
  ASSERT_TRUE(o.has_value()) << o.error().message;
  EXPECT_EQ(PublicBaseUrl(*o), "https://regulars.example.org/tea");
  setenv("REGULARS_PUBLIC_URL", "shop.example.com", 1);
  o = c->ServerOptions();
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message, "REGULARS_PUBLIC_URL: must start with http:// or https://");
  unsetenv("REGULARS_PUBLIC_URL");

  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"[server]\npublic_url = \"ftp://x.test\"\n",
       "server.public_url: must start with http:// or https://"},
      {"[server]\npublic_url = \"https://\"\n", "server.public_url: must name a host"},
      {"[server]\npublic_url = \"https://x.test/?a=1\"\n",
       "server.public_url: must not have a query or fragment"},
      {"[server]\npublic_url = \"https://x .test\"\n",
       "server.public_url: must not contain spaces or line breaks"},
      {"[server]\npublic_url = 443\n", "server.public_url: must be a string"},
  };
  for (const auto& k : cases) {
    auto r = LoadConfigFile(WriteFile(k.text));
    ASSERT_FALSE(r.has_value()) << k.text;
    EXPECT_EQ(r.error().message, k.message) << k.text;
  }
}

}  // namespace
}  // namespace regulars::cli
