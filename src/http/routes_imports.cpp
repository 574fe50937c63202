// Order-history imports: preview the first lines of a file, upload a file as an import job,
// list and read jobs, their rejected lines as CSV, and cancel. The worker that runs the jobs
// lives in importer/import_job (started by `regulars serve`).

#include <fmt/format.h>

#include "http/router.h"
#include "importer/import_job.h"

namespace regulars::http {
namespace {

using importer::ImportJob;
using importer::ImportReport;
using importer::ImportRequest;

importer::UploadStore Uploads(const AppContext& app) {
  return {app.options.imports_dir.empty() ? importer::DefaultUploadDir() : app.options.imports_dir};
}

Reply JsonReply(json body, int status = 200) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

json TimeOrNull(const std::optional<Micros>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

json MappingJson(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json m = json::object();
  for (const auto& [field, column] : pairs) m[field] = column;
  return m;
}

// The report as the API shows it: the first kRejectedShown rejected lines (GET .../rejected has
// every kept one).
constexpr size_t kRejectedShown = 100;

json ReportJson(const ImportReport& r) {
  json out = json::object();
  for (const auto& c : importer::ReportCounters()) out[std::string(c.name)] = r.*c.member;
  json rejected = json::array();
  for (size_t i = 0; i < r.rejected.size() && i < kRejectedShown; ++i)
    rejected.push_back({{"line", r.rejected[i].line},
                        {"column", r.rejected[i].column},
                        {"reason", r.rejected[i].reason}});
  out.update({{"currency", r.currency},
              {"encoding", r.encoding},
              {"dry_run", r.dry_run},
              {"committed", r.committed},
              {"seconds", r.seconds},
              {"rejected", rejected}});
  return out;
}

json JobJson(const ImportJob& j) {
  const ImportRequest& q = j.request;
  json options = {{"preset", q.preset.empty() ? json(nullptr) : json(q.preset)},
                  {"mapping", q.mapping.empty() ? json(nullptr) : MappingJson(q.mapping)},
                  {"encoding", q.encoding},
                  {"delimiter", std::string(1, q.delimiter)},
                  {"dry_run", q.dry_run},
                  {"all_or_nothing", q.all_or_nothing},
                  {"award_points", q.award_points},
                  {"rebuild_tiers", q.rebuild_tiers},
                  {"cancel_prefix", q.cancel_prefix ? json(*q.cancel_prefix) : json(nullptr)}};
  return {{"id", IdToString(j.id)},
          {"status", importer::JobStatusName(j.status)},
          {"file_name", q.file_name},
          {"options", options},
          {"progress",
           {{"lines", j.progress.lines},
            {"bytes_consumed", j.progress.bytes_consumed},
            {"total_bytes", j.progress.total_bytes},
            {"percent", j.Percent()}}},
          {"report", j.report ? ReportJson(*j.report) : json(nullptr)},
          {"error", j.error ? json(*j.error) : json(nullptr)},
          {"cancel_requested", j.cancel_requested},
          {"created_by", j.created_by},
          {"created_at", FormatRfc3339(j.created_at)},
          {"started_at", TimeOrNull(j.started_at)},
          {"finished_at", TimeOrNull(j.finished_at)}};
}

Result<bool> BoolQuery(const Request& r, std::string_view name) {
  auto v = r.Query(name);
  if (!v || v->empty() || *v == "false" || *v == "0") return false;
  if (*v == "true" || *v == "1") return true;
  return InvalidField(std::string(name), "must be true or false");
}

Result<char> DelimiterQuery(const Request& r) {
  auto v = r.Query("delimiter");
  if (!v || v->empty()) return ',';
  if (*v == "tab" || *v == "\\t") return '\t';
  if (v->size() != 1 || (*v)[0] == '"' || (*v)[0] == '\n' || (*v)[0] == '\r')
    return InvalidField("delimiter", "must be one character other than a quote or a line break");
  return (*v)[0];
}

// The job's options, from the query string (the body is the file).
Result<ImportRequest> RequestFromQuery(const Request& r) {
  ImportRequest q;
  q.file_name = r.Query("file_name").value_or("");
  q.preset = r.Query("preset").value_or("");
  if (auto m = r.Query("mapping"); m && !m->empty()) {
    json j = json::parse(*m, nullptr, false);
    if (!j.is_object())
      return InvalidField("mapping", "must be a JSON object of field to column name");
    for (const auto& [field, column] : j.items()) {
      if (!column.is_string())
        return InvalidField("mapping." + field, "must be a column name (a string)");
      q.mapping.emplace_back(field, column.get<std::string>());
    }
  }
  q.encoding = r.Query("encoding").value_or("auto");
  if (q.encoding.empty()) q.encoding = "auto";
  RG_ASSIGN_OR_RETURN(q.delimiter, DelimiterQuery(r));
  RG_ASSIGN_OR_RETURN(q.dry_run, BoolQuery(r, "dry_run"));
  RG_ASSIGN_OR_RETURN(q.all_or_nothing, BoolQuery(r, "all_or_nothing"));
  RG_ASSIGN_OR_RETURN(q.award_points, BoolQuery(r, "award_points"));
  RG_ASSIGN_OR_RETURN(q.rebuild_tiers, BoolQuery(r, "rebuild_tiers"));
  q.cancel_prefix = r.Query("cancel_prefix");
  return q;
}

// RFC 4180: quoted when it holds a comma, a quote or a line break.
std::string CsvCell(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void RegisterImportRoutes(Router& r) {
  // Preview: the first bytes of a file, raw; nothing is written, so no transaction.
  r.Raw("POST", "/api/v1/imports/preview",
        "Preview a file's first lines: encoding, header, rows and a guessed preset", true,
        [](Request& req, AppContext&) -> Result<Reply> {
          std::string encoding = req.Query("encoding").value_or("auto");
          RG_ASSIGN_OR_RETURN(char delimiter, DelimiterQuery(req));
          RG_ASSIGN_OR_RETURN(
              auto p, importer::PreviewImport(req.actor, req.http.body,
                                              encoding.empty() ? "auto" : encoding, delimiter));
          json rows = json::array();
          for (const auto& row : p.rows) rows.push_back(row);
          Reply reply;
          reply.body = {{"encoding", p.encoding},
                        {"header", p.header},
                        {"rows", rows},
                        {"preset", p.preset ? json(*p.preset) : json(nullptr)},
                        {"mapping", p.mapping ? MappingJson(importer::MappingPairs(*p.mapping))
                                              : json(nullptr)},
                        {"presets", importer::PresetNames()},
                        {"fields", importer::MappingFieldNames()},
                        {"required", importer::RequiredMappingFields()}};
          return reply;
        });
  r.RawBody("POST", "/api/v1/imports/preview", size_t{1} << 20);

  // Upload: the file is saved before the transaction (prepare), the job row written inside it.
  r.Write(
      "POST", "/api/v1/imports", "Upload a file of past orders as an import job",
      [&r](Request& req, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(ImportRequest q, RequestFromQuery(req));
        Id job_id = std::stoll(req.prepared.at("job_id"));
        RG_ASSIGN_OR_RETURN(auto job,
                            importer::CreateImportJob(tx, req.actor, Uploads(r.app()), job_id, q,
                                                      static_cast<int64_t>(req.http.body.size())));
        return JsonReply(JobJson(job), 202);
      },
      [&r](Request& req) -> Status {
        RG_ASSIGN_OR_RETURN(ImportRequest q, RequestFromQuery(req));
        Id job_id = NewId();
        RG_TRY(importer::SaveUpload(req.actor, Uploads(r.app()), job_id, q, req.http.body));
        req.prepared["job_id"] = std::to_string(job_id);
        return {};
      });
  r.RawBody("POST", "/api/v1/imports", importer::kMaxUploadBytes);

  r.Read("GET", "/api/v1/imports", "Import jobs, newest first",
         [](Request& req, store::Tx& tx) -> Result<Reply> {
           RG_ASSIGN_OR_RETURN(int limit, req.Limit());
           RG_ASSIGN_OR_RETURN(auto page,
                               importer::ListImportJobs(tx, req.actor, req.Cursor(), limit));
           json data = json::array();
           for (const auto& j : page.items) data.push_back(JobJson(j));
           return JsonReply(PageJson(std::move(data), page.next_cursor));
         });

  r.Read("GET", "/api/v1/imports/{id}", "An import job: status, progress, report",
         [](Request& req, store::Tx& tx) -> Result<Reply> {
           RG_ASSIGN_OR_RETURN(Id id, req.IdParam("id", "import"));
           RG_ASSIGN_OR_RETURN(auto job, importer::GetImportJob(tx, req.actor, id));
           return JsonReply(JobJson(job));
         });

  r.Read("GET", "/api/v1/imports/{id}/rejected", "An import's rejected lines as CSV",
         [](Request& req, store::Tx& tx) -> Result<Reply> {
           RG_ASSIGN_OR_RETURN(Id id, req.IdParam("id", "import"));
           RG_ASSIGN_OR_RETURN(auto job, importer::GetImportJob(tx, req.actor, id));
           std::string csv = "line,column,reason\r\n";
           if (job.report)
             for (const auto& l : job.report->rejected)
               csv += fmt::format("{},{},{}\r\n", l.line, CsvCell(l.column), CsvCell(l.reason));
           Reply reply;
           reply.raw = std::move(csv);
           reply.content_type = "text/csv; charset=utf-8";
           reply.headers.emplace_back(
               "Content-Disposition",
               fmt::format("attachment; filename=\"import-{}-rejected.csv\"", IdToString(id)));
           return reply;
         });

  r.Write("POST", "/api/v1/imports/{id}/cancel",
          "Cancel an import: a queued one at once, a running one after its current batch",
          [](Request& req, store::Tx& tx) -> Result<Reply> {
            RG_ASSIGN_OR_RETURN(Id id, req.IdParam("id", "import"));
            RG_ASSIGN_OR_RETURN(auto job, importer::CancelImportJob(tx, req.actor, id));
            return JsonReply(JobJson(job));
          });
}

}  // namespace regulars::http
