#pragma once

// The server's options: parsed once at start-up from a TOML file, then from flags (flags win).
// Every field documents its default. See docs/configuration.md for the file format.

#include <string>
#include <string_view>

#include "base/error.h"
#include "http/server.h"
#include "store/db.h"

namespace regulars::cli {

struct Config {
  // [database] url: "sqlite:PATH" or "postgresql://...". Default: sqlite under `data_dir`.
  std::string database_url;
  // [database] data_dir: where embedded SQLite lives. Default "./var".
  std::string data_dir = "var";
  // [database] sqlite_synchronous: FULL (default; survives power loss) or NORMAL (faster;
  // survives a process crash only).
  std::string sqlite_synchronous = "FULL";
  // [database] pool_size: read connections (SQLite) or connections (PostgreSQL). Default 8.
  int pool_size = 8;
  // [server] listen: "HOST:PORT". Default "127.0.0.1:8080".
  std::string listen = "127.0.0.1:8080";
  // [server] threads: HTTP worker threads; each open keep-alive connection holds one. Default 64.
  int threads = 64;
  // [server] session_ttl_hours: console sessions last this long. Default 12.
  int session_ttl_hours = 12;
  // [server] secure_cookies: mark cookies Secure (behind HTTPS). Default false.
  bool secure_cookies = false;
  // [server] public_url: the origin members reach the server at ("https://shop.example.com"),
  // for links in messages (unsubscribe /u/{token}) and the URLs providers sign callbacks with.
  // The environment variable REGULARS_PUBLIC_URL, when set and not empty, wins over the file.
  // Default empty: the listen address ("http://HOST:PORT").
  std::string public_url;
  // [log] level: debug, info, warn, error. Default "info".
  std::string log_level = "info";
  // [log] format: "text" or "json". Default "text".
  std::string log_format = "text";

  // The database URL after defaults: database_url, or sqlite:<data_dir>/regulars.db.
  std::string EffectiveDatabaseUrl() const;
  store::Options StoreOptions() const;
  // Also resolves the public URL (REGULARS_PUBLIC_URL over public_url) into
  // ServerOptions::public_url; invalid_argument naming REGULARS_PUBLIC_URL or server.public_url.
  Result<http::ServerOptions> ServerOptions() const;
};

// A public base URL as configured: http:// or https:// and a host, no spaces, query or fragment;
// the trailing '/' removed ("https://x.test/shop/" -> "https://x.test/shop"). invalid_argument
// naming `field` otherwise.
Result<std::string> NormalizePublicUrl(std::string_view url, std::string_view field);

// The origin for links: `options.public_url`, or "http://HOST:PORT" of the listen address.
std::string PublicBaseUrl(const http::ServerOptions& options);

// Reads a TOML file over the defaults. invalid_argument names the key ("server.threads: ...").
Result<Config> LoadConfigFile(const std::string& path, Config base = {});

// "HOST:PORT" -> parts; invalid_argument otherwise.
Result<std::pair<std::string, int>> ParseListen(const std::string& listen);

}  // namespace regulars::cli
