#include "cli/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>
#include <cstdlib>

namespace regulars::cli {

std::string Config::EffectiveDatabaseUrl() const {
  if (!database_url.empty()) return database_url;
  return "sqlite:" + data_dir + "/regulars.db";
}

store::Options Config::StoreOptions() const {
  store::Options o;
  o.url = EffectiveDatabaseUrl();
  o.sqlite_synchronous = sqlite_synchronous;
  o.pool_size = pool_size;
  return o;
}

Result<std::pair<std::string, int>> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return InvalidField("listen", "must be HOST:PORT, e.g. 127.0.0.1:8080");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  std::string_view p(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || ptr != p.data() + p.size() || port < 0 || port > 65535)
    return InvalidField("listen", "port must be a number from 0 to 65535");
  return std::pair{host, port};
}

Result<std::string> NormalizePublicUrl(std::string_view url, std::string_view field) {
  std::string f(field);
  size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  if (scheme == 0) return InvalidField(f, "must start with http:// or https://");
  if (url.find_first_of(" \t\r\n") != std::string_view::npos)
    return InvalidField(f, "must not contain spaces or line breaks");
  if (url.find_first_of("?#") != std::string_view::npos)
    return InvalidField(f, "must not have a query or fragment");
  std::string out(url);
  while (out.size() > scheme && out.back() == '/') out.pop_back();
  if (out.size() == scheme || out[scheme] == '/') return InvalidField(f, "must name a host");
  return out;
}

std::string PublicBaseUrl(const http::ServerOptions& options) {
  if (!options.public_url.empty()) return options.public_url;
  if (options.host.find(':') != std::string::npos)  // an IPv6 address
    return fmt::format("http://[{}]:{}", options.host, options.port);
  return fmt::format("http://{}:{}", options.host, options.port);
}

Result<http::ServerOptions> Config::ServerOptions() const {
  http::ServerOptions o;
  RG_ASSIGN_OR_RETURN(auto hp, ParseListen(listen));
  o.host = hp.first;
  o.port = hp.second;
  if (threads < 2 || threads > 4096) return InvalidField("server.threads", "must be 2 to 4096");
  o.threads = threads;
  if (session_ttl_hours < 1) return InvalidField("server.session_ttl_hours", "must be at least 1");
  o.session_ttl = Micros{session_ttl_hours} * 3600 * kMicrosPerSecond;
  o.secure_cookies = secure_cookies;
  if (const char* env = std::getenv("REGULARS_PUBLIC_URL"); env && *env) {
    RG_ASSIGN_OR_RETURN(o.public_url, NormalizePublicUrl(env, "REGULARS_PUBLIC_URL"));
  } else if (!public_url.empty()) {
    RG_ASSIGN_OR_RETURN(o.public_url, NormalizePublicUrl(public_url, "server.public_url"));
  }
  return o;
}

Result<Config> LoadConfigFile(const std::string& path, Config c) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Fail(Code::kInvalidArgument,
                fmt::format("config {}: line {}: {}", path, e.source().begin.line, e.description()),
                "config");
  }
  static const std::map<std::string, std::vector<std::string>> kKnown = {
      {"database", {"url", "data_dir", "sqlite_synchronous", "pool_size"}},
      {"server", {"listen", "threads", "session_ttl_hours", "secure_cookies", "public_url"}},
      {"log", {"level", "format"}}};
  for (const auto& [section, node] : t) {
    std::string s(section.str());
    auto known = kKnown.find(s);
    if (known == kKnown.end() || !node.is_table())
      return InvalidField(s, fmt::format("unknown section in {}", path));
    for (const auto& [key, value] : *node.as_table()) {
      std::string k(key.str());
      if (std::find(known->second.begin(), known->second.end(), k) == known->second.end())
        return InvalidField(s + "." + k, fmt::format("unknown key in {}", path));
    }
  }
  auto str = [&](const char* sec, const char* key, std::string& out) -> Status {
    auto node = t[sec][key];
    if (!node) return {};
    if (!node.is_string()) return InvalidField(fmt::format("{}.{}", sec, key), "must be a string");
    out = *node.value<std::string>();
    return {};
  };
  auto integer = [&](const char* sec, const char* key, int& out) -> Status {
    auto node = t[sec][key];
    if (!node) return {};
    if (!node.is_integer())
      return InvalidField(fmt::format("{}.{}", sec, key), "must be an integer");
    out = static_cast<int>(*node.value<int64_t>());
    return {};
  };
  RG_TRY(str("database", "url", c.database_url));
  RG_TRY(str("database", "data_dir", c.data_dir));
  RG_TRY(str("database", "sqlite_synchronous", c.sqlite_synchronous));
  RG_TRY(integer("database", "pool_size", c.pool_size));
  RG_TRY(str("server", "listen", c.listen));
  RG_TRY(integer("server", "threads", c.threads));
  RG_TRY(integer("server", "session_ttl_hours", c.session_ttl_hours));
  if (auto node = t["server"]["secure_cookies"]) {
    if (!node.is_boolean()) return InvalidField("server.secure_cookies", "must be true or false");
    c.secure_cookies = *node.value<bool>();
  }
  RG_TRY(str("server", "public_url", c.public_url));
  if (!c.public_url.empty()) {
    RG_ASSIGN_OR_RETURN(c.public_url, NormalizePublicUrl(c.public_url, "server.public_url"));
  }
  RG_TRY(str("log", "level", c.log_level));
  RG_TRY(str("log", "format", c.log_format));
  if (c.sqlite_synchronous != "FULL" && c.sqlite_synchronous != "NORMAL" &&
      c.sqlite_synchronous != "EXTRA")
    return InvalidField("database.sqlite_synchronous", "must be FULL, EXTRA or NORMAL");
  if (c.log_format != "text" && c.log_format != "json")
    return InvalidField("log.format", "must be text or json");
  return c;
}

}  // namespace regulars::cli
