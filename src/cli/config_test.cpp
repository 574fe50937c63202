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
