#include "http/router.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/crypto.h"
#include "events/dispatcher.h"
#include "http/errors.h"

namespace regulars::http {

std::string Request::PathParam(std::string_view name) const {
  for (size_t i = 0; i < param_names.size(); ++i)
    if (param_names[i] == name && i + 1 < http.matches.size()) return http.matches[i + 1].str();
  return {};
}

Result<Id> Request::IdParam(std::string_view name, std::string_view what) const {
  auto id = ParseId(PathParam(name));
  if (!id) return Fail(Code::kNotFound, fmt::format("{} not found", what));
  return *id;
}

std::optional<std::string> Request::Query(std::string_view name) const {
  std::string key(name);
  if (!http.has_param(key)) return std::nullopt;
  return http.get_param_value(key);
}

Result<int> Request::Limit() const {
  auto v = Query("limit");
  if (!v || v->empty()) return kDefaultPageSize;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9' || n > 100000)
      return InvalidField("limit", "must be a whole number from 1 to 500");
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > kMaxPageSize)
    return InvalidField("limit", "must be a whole number from 1 to 500");
  return n;
}

json PageJson(json data, const std::optional<std::string>& next_cursor) {
  return {{"data", std::move(data)},
          {"next_cursor", next_cursor ? json(*next_cursor) : json(nullptr)}};
}

namespace {

// What an Idempotency-Key replay returns, as stored.
std::string StoredReply(const Reply& reply) {
  if (reply.replay_body) return reply.replay_body->dump();
  if (reply.body_text) return *reply.body_text;
  return reply.body.dump();
}

}  // namespace

void Send(httplib::Response& res, const Result<Reply>& reply) {
  if (!reply) {
    const Error& e = reply.error();
    res.status = HttpStatus(e.code);
    if (e.code == Code::kInternal || e.code == Code::kAborted)
      spdlog::error("request failed: {}", e.ToString());
    if (e.code == Code::kResourceExhausted) res.set_header("Retry-After", "60");
    res.set_content(ErrorBody(e).dump(), "application/json");
    return;
  }
  res.status = reply->status;
  for (const auto& [k, v] : reply->headers) res.set_header(k, v);
  if (reply->status == 204) return;
  if (reply->raw)
    res.set_content(*reply->raw, reply->content_type);
  else if (reply->body_text)
    res.set_content(*reply->body_text, "application/json");
  else
    res.set_content(reply->body.dump(), "application/json");
}

void Router::ForgetApiKeys() {
  std::lock_guard lock(key_mu_);
  key_cache_.clear();
}

void Router::Read(const std::string& method, const std::string& pattern, const std::string& summary,
                  TxHandler handler) {
  Add(Kind::kRead, method, pattern, summary, true, std::move(handler), nullptr);
}

void Router::Write(const std::string& method, const std::string& pattern,
                   const std::string& summary, TxHandler handler, Prepare prepare) {
  Add(Kind::kWrite, method, pattern, summary, true, std::move(handler), nullptr,
      std::move(prepare));
}

void Router::Raw(const std::string& method, const std::string& pattern, const std::string& summary,
                 bool authenticated, RawHandler handler) {
  Add(Kind::kRaw, method, pattern, summary, authenticated, nullptr, std::move(handler));
}

void Router::RawBody(const std::string& method, const std::string& pattern, size_t max_bytes) {
  // The path regex Add registers: "{name}" matches one segment; everything else is literal.
  std::string regex;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      regex += "[^/]+";
      i = pattern.find('}', i);
    } else if (std::string_view(".+*?()[]^$|\\").find(pattern[i]) != std::string_view::npos) {
      regex += '\\';
      regex += pattern[i];
    } else {
      regex += pattern[i];
    }
  }
  raw_bodies_.push_back({method, pattern, std::regex(regex), max_bytes});
}

const Router::RawBodyRoute* Router::FindRawBody(const std::string& method,
                                                const std::string& pattern) const {
  for (const auto& r : raw_bodies_)
    if (r.method == method && r.pattern == pattern) return &r;
  return nullptr;
}

size_t Router::BodyLimit(const std::string& method, const std::string& path) const {
  for (const auto& r : raw_bodies_)
    if (r.method == method && std::regex_match(path, r.path)) return r.max_bytes;
  return app_.options.max_body_bytes;
}

bool Router::TakesRawBody(const std::string& method, const std::string& path) const {
  for (const auto& r : raw_bodies_)
    if (r.method == method && std::regex_match(path, r.path)) return true;
  return false;
}

void Router::FormBody(const std::string& method, const std::string& pattern) {
  form_bodies_.emplace_back(method, pattern);
}

size_t Router::LargestBodyLimit() const {
  size_t n = app_.options.max_body_bytes;
  for (const auto& r : raw_bodies_) n = std::max(n, r.max_bytes);
  return n;
}

void Router::Add(Kind kind, const std::string& method, const std::string& pattern,
                 const std::string& summary, bool authenticated, TxHandler tx_handler,
                 RawHandler raw_handler, Prepare prepare) {
  routes_.push_back({method, pattern, summary});
  // "/api/v1/members/{id}/merge" -> "/api/v1/members/([^/]+)/merge"
  std::string regex;
  std::vector<std::string> names;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      size_t end = pattern.find('}', i);
      names.push_back(pattern.substr(i + 1, end - i - 1));
      regex += "([^/]+)";
      i = end;
    } else if (std::string_view(".+*?()[]^$|\\").find(pattern[i]) != std::string_view::npos) {
      regex += '\\';
      regex += pattern[i];
    } else {
      regex += pattern[i];
    }
  }
  auto h = [this, kind, pattern, names, authenticated, tx_handler, raw_handler, prepare](
               const httplib::Request& req, httplib::Response& res) {
    Handle(kind, pattern, names, authenticated, tx_handler, raw_handler, prepare, req, res);
  };
  if (method == "GET")
    server_.Get(regex, h);
  else if (method == "POST")
    server_.Post(regex, h);
  else if (method == "PATCH")
    server_.Patch(regex, h);
  else if (method == "DELETE")
    server_.Delete(regex, h);
  else if (method == "PUT")
    server_.Put(regex, h);
}

Status Router::Authenticate(Request& r) {
  const Micros now = app_.clock.Now();
  std::string auth = r.http.get_header_value("Authorization");
  if (!auth.empty()) {
    if (!auth.starts_with("Bearer "))
      return Fail(Code::kUnauthenticated, "Authorization must be 'Bearer <api key>'");
    std::string key = auth.substr(7);
    std::string cache_key = Sha256Hex(key);
    {
      std::lock_guard lock(key_mu_);
      auto it = key_cache_.find(cache_key);
      if (it != key_cache_.end() && it->second.expires > now) {
        r.actor = it->second.actor;
        r.merchant = it->second.merchant;
        return {};
      }
    }
    RG_TRY(app_.db.Read([&](store::Tx& tx) -> Status {
      RG_ASSIGN_OR_RETURN(r.actor, accounts::AuthenticateApiKey(tx, now, key));
      RG_ASSIGN_OR_RETURN(r.merchant, accounts::GetMerchant(tx, r.actor.merchant_id));
      return {};
    }));
    std::lock_guard lock(key_mu_);
    if (key_cache_.size() > 10'000) key_cache_.clear();
    key_cache_[cache_key] = {r.actor, r.merchant, now + kApiKeyCacheTtl};
    return {};
  }
  std::string token;
  std::string cookies = r.http.get_header_value("Cookie");
  for (size_t pos = 0; pos < cookies.size();) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string_view c(cookies.data() + pos, end - pos);
    while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
    if (c.starts_with("regulars_session=")) token = std::string(c.substr(17));
    pos = end + 1;
  }
  if (token.empty())
    return Fail(Code::kUnauthenticated, "log in, or send 'Authorization: Bearer <api key>'");
  RG_TRY(app_.db.Read([&](store::Tx& tx) -> Status {
    RG_ASSIGN_OR_RETURN(auto s, accounts::AuthenticateSession(tx, now, token));
    r.session = std::move(s);
    return {};
  }));
  r.actor = r.session->actor;
  r.merchant = r.session->merchant;
  if (r.http.method != "GET" && r.http.method != "HEAD") {
    std::string csrf = r.http.get_header_value("X-CSRF-Token");
    if (csrf.empty() || !ConstantTimeEquals(csrf, r.session->csrf_token))
      return Fail(Code::kPermissionDenied, "csrf token missing or wrong");
  }
  return {};
}

void Router::Handle(Kind kind, const std::string& pattern, const std::vector<std::string>& names,
                    bool authenticated, const TxHandler& tx_handler, const RawHandler& raw_handler,
                    const Prepare& prepare, const httplib::Request& req, httplib::Response& res) {
  auto started = std::chrono::steady_clock::now();
  Request r{req, names};
  r.client_ip = req.remote_addr;
  const RawBodyRoute* raw_body = FindRawBody(req.method, pattern);
  auto run = [&]() -> Result<Reply> {
    if (raw_body && req.body.size() > raw_body->max_bytes)
      return Fail(Code::kInvalidArgument,
                  fmt::format("body: larger than the {} MiB limit", raw_body->max_bytes >> 20),
                  "body");
    if (!raw_body && req.body.size() > app_.options.max_body_bytes)
      return Fail(Code::kInvalidArgument, "body: larger than the 1 MiB limit", "body");
    if (authenticated) RG_TRY(Authenticate(r));
    r.actor.now = app_.clock.Now();
    bool form_body = std::find(form_bodies_.begin(), form_bodies_.end(),
                               std::pair(req.method, pattern)) != form_bodies_.end();
    if (!raw_body && !form_body &&
        (req.method == "POST" || req.method == "PATCH" || req.method == "PUT")) {
      RG_ASSIGN_OR_RETURN(r.body, ParseBody(req.body));
    }
    if (kind == Kind::kRaw) {
      std::string key = req.get_header_value("Idempotency-Key");
      if (req.method != "POST" || key.empty() || !authenticated) return raw_handler(r, app_);
      // A raw route runs its own transactions, so its answer is recorded after it finished:
      // a replay gets the first answer; two requests racing with one key may both run, which
      // raw POST routes must tolerate (they recompute, like a model fit).
      if (key.size() > 255) return InvalidField("Idempotency-Key", "is longer than 255 bytes");
      std::string hash = Sha256Hex(req.method + " " + req.path + "\n" + req.body);
      auto lookup = [&](store::Tx& tx) -> Result<std::optional<Reply>> {
        RG_ASSIGN_OR_RETURN(store::Rows prior,
                            tx.Query("SELECT request_hash, status, response FROM "
                                     "idempotency_keys WHERE merchant_id = ? AND key = ?",
                                     {r.actor.merchant_id, key}));
        if (prior.empty()) return std::optional<Reply>();
        if (prior[0].Str(0) != hash)
          return Fail(Code::kIdempotencyMismatch,
                      "Idempotency-Key was already used with a different request",
                      "Idempotency-Key");
        Reply replay;
        replay.status = static_cast<int>(prior[0].Int(1));
        replay.body = json::parse(prior[0].Str(2), nullptr, false);
        replay.headers.emplace_back("Idempotent-Replayed", "true");
        return std::optional<Reply>(std::move(replay));
      };
      RG_ASSIGN_OR_RETURN(auto prior, app_.db.ReadValue(lookup));
      if (prior) return std::move(*prior);
      RG_ASSIGN_OR_RETURN(Reply reply, raw_handler(r, app_));
      return app_.db.WriteValue([&](store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(auto raced, lookup(tx));
        if (raced) return std::move(*raced);
        RG_TRY(tx.Exec(
            "INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, response, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            {r.actor.merchant_id, key, hash, int64_t{reply.status}, StoredReply(reply),
             r.actor.now}));
        return reply;
      });
    }
    if (prepare) RG_TRY(prepare(r));
    if (kind == Kind::kRead) {
      return app_.db.ReadValue([&](store::Tx& tx) { return tx_handler(r, tx); });
    }
    std::string key = req.get_header_value("Idempotency-Key");
    if (req.method != "POST" || key.empty())
      return app_.db.WriteValue([&](store::Tx& tx) { return tx_handler(r, tx); });
    if (key.size() > 255) return InvalidField("Idempotency-Key", "is longer than 255 bytes");
    // The key, the first answer and the change are written in one transaction, so a replay
    // can never run the change twice and a crash can never record an answer without it.
    std::string hash;
    if (raw_body) {
      // A raw body (an upload of up to hundreds of MiB) is hashed on its own, not copied; its
      // options travel in the query, so the query is part of the request.
      std::string query;
      for (const auto& [k, v] : req.params) query += k + "=" + v + "&";
      hash = Sha256Hex(req.method + " " + req.path + "?" + query + "\n" + Sha256Hex(req.body));
    } else {
      hash = Sha256Hex(req.method + " " + req.path + "\n" + req.body);
    }
    return app_.db.WriteValue([&](store::Tx& tx) -> Result<Reply> {
      RG_ASSIGN_OR_RETURN(store::Rows prior,
                          tx.Query("SELECT request_hash, status, response FROM idempotency_keys "
                                   "WHERE merchant_id = ? AND key = ?",
                                   {r.actor.merchant_id, key}));
      if (!prior.empty()) {
        if (prior[0].Str(0) != hash)
          return Fail(Code::kIdempotencyMismatch,
                      "Idempotency-Key was already used with a different request",
                      "Idempotency-Key");
        Reply replay;
        replay.status = static_cast<int>(prior[0].Int(1));
        replay.body = json::parse(prior[0].Str(2), nullptr, false);
        replay.headers.emplace_back("Idempotent-Replayed", "true");
        return replay;
      }
      RG_ASSIGN_OR_RETURN(Reply reply, tx_handler(r, tx));
      RG_TRY(
          tx.Exec("INSERT INTO idempotency_keys (merchant_id, key, request_hash, status, "
                  "response, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                  {r.actor.merchant_id, key, hash, int64_t{reply.status}, StoredReply(reply),
                   r.actor.now}));
      return reply;
    });
  };
  Result<Reply> reply = Fail(Code::kInternal, "no reply");
  try {
    reply = run();
  } catch (const std::exception& e) {
    reply = Fail(Code::kInternal, fmt::format("unhandled exception: {}", e.what()));
  }
  if (kind == Kind::kWrite && reply && reply->after_commit) reply->after_commit();
  Send(res, reply);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  app_.metrics.Record(req.method, pattern, res.status, secs);
  if (kind == Kind::kWrite && reply && app_.dispatcher) app_.dispatcher->Notify();
}

}  // namespace regulars::http
