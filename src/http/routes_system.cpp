// /healthz, /metrics, /api/v1/openapi.json and the console's static files.

#include <fmt/format.h>

#include <fstream>
#include <string_view>

#include "http/router.h"
#include "insight/feature_store.h"

namespace regulars::http {

struct EmbeddedFile {
  const char* path;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile kWebAssets[];
extern const EmbeddedFile kApiDocs[];

namespace {

std::string_view ContentType(std::string_view path) {
  auto ends = [&](std::string_view s) { return path.ends_with(s); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

const EmbeddedFile* FindFile(const EmbeddedFile* table, std::string_view path) {
  for (const EmbeddedFile* f = table; f->path; ++f)
    if (path == f->path) return f;
  return nullptr;
}

// Memory the process holds, from /proc (Linux).
int64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * 4096;
}

}  // namespace

const EmbeddedFile* FindApiDoc(std::string_view path) { return FindFile(kApiDocs, path); }

void RegisterSystemRoutes(Router& router) {
  router.Raw("GET", "/healthz", "Liveness: 200 when the server and its database answer", false,
             [](Request&, AppContext& app) -> Result<Reply> {
               RG_TRY(app.db.Read([](store::Tx& tx) -> Status {
                 RG_TRY(tx.Query("SELECT 1"));
                 return {};
               }));
               return Reply{200, {{"status", "ok"}}};
             });
  router.Raw("GET", "/metrics", "Prometheus metrics", false,
             [](Request&, AppContext& app) -> Result<Reply> {
               std::string extra = fmt::format(
                   "# HELP regulars_db_seconds_total Time spent in the database.\n"
                   "# TYPE regulars_db_seconds_total counter\n"
                   "regulars_db_seconds_total {:.6f}\n"
                   "# HELP regulars_process_resident_bytes Resident memory of the server.\n"
                   "# TYPE regulars_process_resident_bytes gauge\n"
                   "regulars_process_resident_bytes {}\n",
                   static_cast<double>(app.db.TotalDbMicros()) / 1e6, ResidentBytes());
               if (app.features)
                 extra += fmt::format(
                     "# HELP regulars_feature_store_bytes Memory held by the insight feature "
                     "store (approximate).\n"
                     "# TYPE regulars_feature_store_bytes gauge\n"
                     "regulars_feature_store_bytes {}\n"
                     "# HELP regulars_feature_store_members Members in the insight feature "
                     "store.\n"
                     "# TYPE regulars_feature_store_members gauge\n"
                     "regulars_feature_store_members {}\n",
                     app.features->MemoryBytes(), app.features->MemberCount());
               Reply r;
               r.raw = app.metrics.Render(extra);
               r.content_type = "text/plain; version=0.0.4";
               return r;
             });
  router.Raw("GET", "/api/v1/openapi.json", "This API's OpenAPI 3.1 description", false,
             [](Request&, AppContext&) -> Result<Reply> {
               const EmbeddedFile* f = FindApiDoc("/openapi.json");
               if (!f) return Fail(Code::kInternal, "openapi.json was not embedded");
               Reply r;
               r.raw = std::string(reinterpret_cast<const char*>(f->data), f->size);
               r.content_type = "application/json";
               return r;
             });
}

// The console: files from web/dist, and index.html for every other non-API path (the console
// routes in the browser).
void ServeConsole(const httplib::Request& req, httplib::Response& res) {
  std::string path = req.path;
  if (path.starts_with("/api/")) {
    res.status = 404;
    res.set_content(R"({"error":{"code":"not_found","message":"no such API route","details":{}}})",
                    "application/json");
    return;
  }
  const EmbeddedFile* f = FindFile(kWebAssets, path);
  bool is_asset = f != nullptr;
  if (!f) f = FindFile(kWebAssets, "/index.html");
  if (!f) {
    res.status = 200;
    res.set_content(
        "<!doctype html><title>Regulars</title><p>The console was not built. Run "
        "<code>make run</code>.</p>",
        "text/html; charset=utf-8");
    return;
  }
  res.status = 200;
  if (is_asset && path.starts_with("/assets/"))
    res.set_header("Cache-Control", "public, max-age=31536000, immutable");
  else
    res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(std::string(reinterpret_cast<const char*>(f->data), f->size),
                  std::string(ContentType(f->path)));
}

}  // namespace regulars::http
