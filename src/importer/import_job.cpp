#include "importer/import_job.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/crypto.h"

namespace regulars::importer {
namespace {

using accounts::Actor;
using nlohmann::json;
using store::Opt;
using store::Row;
using store::Rows;
using store::Value;

const MappingField* FindField(std::string_view name) { return FindMappingField(name); }

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status RequireManager(const Actor& a) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may import orders");
  return {};
}

// --- Storage formats (the wire format is http/'s business) ---------------------------------

json RequestToJson(const ImportRequest& r) {
  json mapping = json::array();
  for (const auto& [field, column] : r.mapping) mapping.push_back({field, column});
  return {{"file_name", r.file_name},
          {"preset", r.preset},
          {"mapping", mapping},
          {"encoding", r.encoding},
          {"delimiter", std::string(1, r.delimiter)},
          {"dry_run", r.dry_run},
          {"all_or_nothing", r.all_or_nothing},
          {"award_points", r.award_points},
          {"rebuild_tiers", r.rebuild_tiers},
          {"cancel_prefix", r.cancel_prefix ? json(*r.cancel_prefix) : json(nullptr)}};
}

ImportRequest RequestFromJson(const json& j) {
  ImportRequest r;
  if (!j.is_object()) return r;
  r.file_name = j.value("file_name", "");
  r.preset = j.value("preset", "");
  if (auto m = j.find("mapping"); m != j.end() && m->is_array())
    for (const auto& pair : *m)
      if (pair.is_array() && pair.size() == 2)
        r.mapping.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  r.encoding = j.value("encoding", "auto");
  std::string d = j.value("delimiter", ",");
  r.delimiter = d.empty() ? ',' : d[0];
  r.dry_run = j.value("dry_run", false);
  r.all_or_nothing = j.value("all_or_nothing", false);
  r.award_points = j.value("award_points", false);
  r.rebuild_tiers = j.value("rebuild_tiers", false);
  if (auto c = j.find("cancel_prefix"); c != j.end() && c->is_string())
    r.cancel_prefix = c->get<std::string>();
  return r;
}

json ReportToJson(const ImportReport& r) {
  json out = json::object();
  for (const auto& c : ReportCounters()) out[std::string(c.name)] = r.*c.member;
  json rejected = json::array();
  for (const auto& l : r.rejected) rejected.push_back({l.line, l.column, l.reason});
  out.update({{"currency", r.currency},
              {"encoding", r.encoding},
              {"dry_run", r.dry_run},
              {"committed", r.committed},
              {"seconds", r.seconds},
              {"rejected", rejected}});
  return out;
}

ImportReport ReportFromJson(const json& j) {
  ImportReport r;
  if (!j.is_object()) return r;
  for (const auto& c : ReportCounters()) r.*c.member = j.value(std::string(c.name), int64_t{0});
  r.currency = j.value("currency", "");
  r.encoding = j.value("encoding", "");
  r.dry_run = j.value("dry_run", false);
  r.committed = j.value("committed", false);
  r.seconds = j.value("seconds", 0.0);
  if (auto rej = j.find("rejected"); rej != j.end() && rej->is_array())
    for (const auto& l : *rej)
      if (l.is_array() && l.size() == 3)
        r.rejected.push_back(
            {l[0].get<int64_t>(), l[1].get<std::string>(), l[2].get<std::string>()});
  return r;
}

// --- Rows ------------------------------------------------------------------------------------

constexpr std::string_view kJobCols =
    "merchant_id, id, status, file_name, options_json, lines, bytes_consumed, total_bytes, "
    "report_json, error, created_by, created_at, started_at, finished_at, cancel_requested, "
    "file_path";

ImportJob JobFromRow(const Row& r) {
  ImportJob j;
  j.merchant_id = r.Int(0);
  j.id = r.Int(1);
  j.status = ParseJobStatus(r.Str(2)).value_or(JobStatus::kFailed);
  j.request = RequestFromJson(json::parse(r.Str(4), nullptr, false));
  j.request.file_name = r.Str(3);
  j.progress.lines = r.Int(5);
  j.progress.bytes_consumed = r.Int(6);
  j.progress.total_bytes = r.Int(7);
  if (auto rep = r.OptStr(8)) j.report = ReportFromJson(json::parse(*rep, nullptr, false));
  j.error = r.OptStr(9);
  j.created_by = r.Str(10);
  j.created_at = r.Int(11);
  j.started_at = r.OptInt(12);
  j.finished_at = r.OptInt(13);
  j.cancel_requested = r.Bool(14);
  return j;
}

Result<std::optional<std::pair<ImportJob, std::string>>> LoadJob(store::Tx& tx, Id merchant_id,
                                                                 Id id) {
  RG_ASSIGN_OR_RETURN(
      Rows rows,
      tx.Query(fmt::format("SELECT {} FROM import_jobs WHERE merchant_id = ? AND id = ?", kJobCols),
               {merchant_id, id}));
  if (rows.empty()) return std::optional<std::pair<ImportJob, std::string>>{};
  return std::optional<std::pair<ImportJob, std::string>>(
      std::pair{JobFromRow(rows[0]), rows[0].Str(15)});
}

bool IsFinal(JobStatus s) {
  return s == JobStatus::kSucceeded || s == JobStatus::kFailed || s == JobStatus::kCancelled;
}

// Writes all of `bytes` to `fd`; false with errno on failure.
bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string_view JobStatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kSucceeded:
      return "succeeded";
    case JobStatus::kFailed:
      return "failed";
    case JobStatus::kCancelled:
      return "cancelled";
  }
  return "failed";
}

std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  for (JobStatus s : {JobStatus::kQueued, JobStatus::kRunning, JobStatus::kSucceeded,
                      JobStatus::kFailed, JobStatus::kCancelled})
    if (JobStatusName(s) == name) return s;
  return std::nullopt;
}

const std::vector<std::string>& MappingFieldNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& f : MappingFields())
      if (f.names_column) v.emplace_back(f.name);
    return v;
  }();
  return names;
}

const std::vector<std::string>& RequiredMappingFields() {
  static const std::vector<std::string> names = {"order_id", "occurred_at"};
  return names;
}

std::vector<std::pair<std::string, std::string>> MappingPairs(const Mapping& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : MappingFields())
    if (f.names_column && !(m.*f.member).empty())
      out.emplace_back(std::string(f.name), m.*f.member);
  return out;
}

Result<ImportOptions> ResolveImportOptions(const ImportRequest& request) {
  ImportOptions o;
  if (!request.preset.empty()) {
    auto preset = PresetMapping(request.preset);
    if (!preset)
      return InvalidField("preset", fmt::format("unknown preset \"{}\"; the presets are {}",
                                                request.preset, Join(PresetNames())));
    o.mapping = *preset;
  } else if (request.mapping.empty()) {
    o.mapping = PresetMapping("generic").value_or(Mapping{});
  }
  for (const auto& [field, column] : request.mapping) {
    const MappingField* f = FindField(field);
    if (!f)
      return InvalidField("mapping." + field, fmt::format("unknown field; the fields are {}",
                                                          Join(MappingFieldNames())));
    o.mapping.*f->member = column;
    // A column the caller named must be there (a preset's optional columns may be missing).
    if (std::find(o.mapping.required.begin(), o.mapping.required.end(), field) ==
        o.mapping.required.end())
      o.mapping.required.push_back(field);
  }
  if (request.cancel_prefix) o.mapping.cancel_prefix = *request.cancel_prefix;
  for (const auto& required : RequiredMappingFields()) {
    if ((o.mapping.*FindField(required)->member).empty())
      return InvalidField("mapping." + required, "is required: name the column that holds it");
    if (std::find(o.mapping.required.begin(), o.mapping.required.end(), required) ==
        o.mapping.required.end())
      o.mapping.required.push_back(required);
  }
  auto encoding = ParseEncoding(request.encoding);
  if (!encoding) return InvalidField("encoding", "must be auto, utf-8, big5 or gb18030");
  o.csv.encoding = *encoding;
  o.csv.delimiter = request.delimiter;
  if (request.file_name.size() > 255) return InvalidField("file_name", "is longer than 255 bytes");
  o.dry_run = request.dry_run;
  o.all_or_nothing = request.all_or_nothing;
  o.award_points = request.award_points;
  o.rebuild_tiers = request.rebuild_tiers;
  return o;
}

int ImportJob::Percent() const {
  if (status == JobStatus::kSucceeded) return 100;
  if (progress.total_bytes <= 0) return 0;
  int64_t p = progress.bytes_consumed * 100 / progress.total_bytes;
  return static_cast<int>(std::clamp<int64_t>(p, 0, 100));
}

Result<ImportPreview> PreviewImport(const Actor& actor, std::string head,
                                    const std::string& encoding, char delimiter) {
  RG_TRY(RequireManager(actor));
  if (head.empty()) return InvalidField("file", "is empty");
  auto enc = ParseEncoding(encoding);
  if (!enc) return InvalidField("encoding", "must be auto, utf-8, big5 or gb18030");
  // The console sends the first kMaxPreviewBytes of a larger file: its last record may be cut.
  const bool maybe_cut = head.size() >= kMaxPreviewBytes;
  if (head.size() > kMaxPreviewBytes) head.resize(kMaxPreviewBytes);
  CsvOptions o;
  o.delimiter = delimiter;
  o.encoding = *enc;
  RG_ASSIGN_OR_RETURN(auto reader, CsvReader::FromString(std::move(head), o));
  std::vector<std::string_view> fields;
  auto first = reader->Next(fields);
  if (!first) {
    const CsvError& e = first.error();
    return Fail(Code::kInvalidArgument,
                fmt::format("file: line {}, column {}: {}", e.line, e.column, e.message), "file");
  }
  if (!*first) return InvalidField("file", "has no header line");
  ImportPreview p;
  p.header.assign(fields.begin(), fields.end());
  bool ended = false;
  while (p.rows.size() < kPreviewRows) {
    auto next = reader->Next(fields);
    if (!next) {
      if (next.error().fatal) {
        ended = true;
        break;
      }
      continue;  // a malformed row is left out of the preview
    }
    if (!*next) {
      ended = true;
      break;
    }
    p.rows.emplace_back(fields.begin(), fields.end());
  }
  if (maybe_cut && ended && !p.rows.empty()) p.rows.pop_back();
  p.encoding = std::string(EncodingName(reader->encoding()));
  p.preset = GuessPreset(p.header);
  if (p.preset) {
    // Only the preset's columns this file has: the console shows what will be read.
    p.mapping = PresetMapping(*p.preset);
    for (const auto& f : MappingFields()) {
      if (!f.names_column) continue;
      std::string& column = (*p.mapping).*f.member;
      if (std::find(p.header.begin(), p.header.end(), column) == p.header.end()) column.clear();
    }
  }
  return p;
}

std::string UploadStore::PathFor(Id merchant_id, Id job_id) const {
  return fmt::format("{}/{}-{}.upload", dir, merchant_id, job_id);
}

std::string DefaultUploadDir() {
  std::error_code ec;
  auto tmp = std::filesystem::temp_directory_path(ec);
  return ((ec ? std::filesystem::path("/tmp") : tmp) / "regulars-imports").string();
}

Status SaveUpload(const Actor& actor, const UploadStore& uploads, Id job_id,
                  const ImportRequest& request, std::string_view bytes) {
  RG_TRY(RequireManager(actor));
  RG_TRY(ResolveImportOptions(request));
  const Id merchant_id = actor.merchant_id;
  if (bytes.empty()) return InvalidField("file", "is empty: send the file as the request body");
  std::error_code ec;
  std::filesystem::create_directories(uploads.dir, ec);
  if (ec)
    return Fail(Code::kUnavailable,
                fmt::format("cannot create the imports folder {}: {}", uploads.dir, ec.message()));
  // Written under a temporary name and renamed once synced, so a crash never leaves a job
  // pointing at half a file.
  std::string path = uploads.PathFor(merchant_id, job_id);
  std::string part = path + ".part";
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Fail(Code::kUnavailable, fmt::format("cannot write {}: {}", part, std::strerror(errno)));
  bool ok = WriteAll(fd, bytes) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(part.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(part.c_str());
    return Fail(Code::kUnavailable, fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  return {};
}

Result<ImportJob> CreateImportJob(store::Tx& tx, const Actor& actor, const UploadStore& uploads,
                                  Id job_id, const ImportRequest& request, int64_t total_bytes) {
  RG_TRY(RequireManager(actor));
  RG_TRY(ResolveImportOptions(request));
  ImportJob j;
  j.merchant_id = actor.merchant_id;
  j.id = job_id;
  j.status = JobStatus::kQueued;
  j.request = request;
  if (j.request.file_name.empty()) j.request.file_name = "upload.csv";
  j.progress.total_bytes = total_bytes;
  j.created_by = actor.Label();
  j.created_at = actor.now;
  RG_TRY(tx.Exec(
      "INSERT INTO import_jobs (merchant_id, id, status, file_name, file_path, options_json, "
      "total_bytes, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {j.merchant_id, j.id, std::string(JobStatusName(j.status)), j.request.file_name,
       uploads.PathFor(j.merchant_id, j.id), RequestToJson(j.request).dump(), total_bytes,
       j.created_by, j.created_at}));
  return j;
}

Result<Page<ImportJob>> ListImportJobs(store::Tx& tx, const Actor& actor,
                                       std::optional<std::string> cursor, int limit) {
  RG_TRY(RequireManager(actor));
  Id before = INT64_MAX;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    before = *id;
  }
  RG_ASSIGN_OR_RETURN(Rows rows, tx.Query(fmt::format("SELECT {} FROM import_jobs WHERE "
                                                      "merchant_id = ? AND id < ? ORDER BY id "
                                                      "DESC LIMIT ?",
                                                      kJobCols),
                                          {actor.merchant_id, before, int64_t{limit + 1}}));
  Page<ImportJob> page;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i)
    page.items.push_back(JobFromRow(rows[i]));
  if (static_cast<int>(rows.size()) > limit) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

Result<ImportJob> GetImportJob(store::Tx& tx, const Actor& actor, Id id) {
  RG_TRY(RequireManager(actor));
  RG_ASSIGN_OR_RETURN(auto job, LoadJob(tx, actor.merchant_id, id));
  if (!job) return Fail(Code::kNotFound, "import not found");
  return std::move(job->first);
}

Result<ImportJob> CancelImportJob(store::Tx& tx, const Actor& actor, Id id) {
  RG_TRY(RequireManager(actor));
  RG_ASSIGN_OR_RETURN(auto job, LoadJob(tx, actor.merchant_id, id));
  if (!job) return Fail(Code::kNotFound, "import not found");
  ImportJob& j = job->first;
  if (IsFinal(j.status))
    return Fail(Code::kFailedPrecondition,
                fmt::format("the import already ended ({})", JobStatusName(j.status)));
  // A queued job ends here; a running one is told to stop and its worker ends it after the
  // current batch. The status condition makes this safe against a worker claiming it meanwhile.
  RG_ASSIGN_OR_RETURN(
      int64_t n,
      tx.Exec("UPDATE import_jobs SET status = 'cancelled', finished_at = ?, cancel_requested = 1 "
              "WHERE merchant_id = ? AND id = ? AND status = 'queued'",
              {actor.now, actor.merchant_id, id}));
  if (n == 0)
    RG_TRY(tx.Exec("UPDATE import_jobs SET cancel_requested = 1 WHERE merchant_id = ? AND id = ?",
                   {actor.merchant_id, id}));
  RG_ASSIGN_OR_RETURN(auto after, LoadJob(tx, actor.merchant_id, id));
  return std::move(after->first);
}

// --- The worker ------------------------------------------------------------------------------

ImportWorker::ImportWorker(store::Database& db, const Clock& clock, ImportWorkerOptions options)
    : db_(db), clock_(clock), options_(std::move(options)), worker_id_(RandomToken(12)) {}

ImportWorker::~ImportWorker() { Stop(); }

void ImportWorker::Start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    if (auto r = Recover(); !r)
      spdlog::error("import recovery failed: {}", r.error().ToString());
    else if (*r > 0)
      spdlog::info("imports left running by a stopped server: {} re-queued", *r);
    int polls = 0;
    while (!stopping_.load()) {
      // Leases lapse while we run (another server died): look now and then.
      if (db_.dialect() == store::Dialect::kPostgres && polls % 30 == 29) (void)Recover();
      if (polls % 60 == 0) {
        if (auto s = SweepUploads(); !s)
          spdlog::warn("import upload sweep failed: {}", s.error().ToString());
      }
      ++polls;
      auto ran = RunOnce();
      if (!ran) spdlog::error("import worker: {}", ran.error().ToString());
      if (ran && *ran) continue;
      auto wait = std::chrono::microseconds(options_.poll_interval);
      auto until = std::chrono::steady_clock::now() + wait;
      while (!stopping_.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

void ImportWorker::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

Result<int> ImportWorker::Recover() {
  const Micros now = clock_.Now();
  // On SQLite one server owns the database file, so whatever is running at its start was left
  // by a server that died. On PostgreSQL only a lapsed lease says so.
  std::string lapsed = db_.dialect() == store::Dialect::kPostgres
                           ? " AND (lease_until IS NULL OR lease_until < ?)"
                           : "";
  auto params = [&](std::vector<Value> v) {
    if (!lapsed.empty()) v.push_back(now);
    return v;
  };
  return db_.WriteValue([&](store::Tx& tx) -> Result<int> {
    RG_ASSIGN_OR_RETURN(
        int64_t cancelled,
        tx.Exec("UPDATE import_jobs SET status = 'cancelled', finished_at = ?, claimed_by = NULL, "
                "lease_until = NULL WHERE status = 'running' AND cancel_requested = 1" +
                    lapsed,
                params({now})));
    RG_ASSIGN_OR_RETURN(int64_t queued,
                        tx.Exec("UPDATE import_jobs SET status = 'queued', claimed_by = NULL, "
                                "lease_until = NULL WHERE status = 'running'" +
                                    lapsed,
                                params({})));
    return static_cast<int>(cancelled + queued);
  });
}

Result<bool> ImportWorker::RunOnce() {
  const Micros now = clock_.Now();
  std::string lock = db_.dialect() == store::Dialect::kPostgres ? " FOR UPDATE SKIP LOCKED" : "";
  RG_ASSIGN_OR_RETURN(
      auto claimed, db_.WriteValue([&](store::Tx& tx) -> Result<std::optional<ImportJob>> {
        RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT merchant_id, id FROM import_jobs WHERE "
                                                "status = 'queued' ORDER BY created_at, id "
                                                "LIMIT 1" +
                                                lock));
        if (rows.empty()) return std::optional<ImportJob>{};
        Id merchant_id = rows[0].Int(0), id = rows[0].Int(1);
        RG_ASSIGN_OR_RETURN(int64_t n,
                            tx.Exec("UPDATE import_jobs SET status = 'running', "
                                    "started_at = ?, claimed_by = ?, lease_until = ? "
                                    "WHERE merchant_id = ? AND id = ? AND status = "
                                    "'queued'",
                                    {now, worker_id_, now + options_.lease, merchant_id, id}));
        if (n == 0) return std::optional<ImportJob>{};
        RG_ASSIGN_OR_RETURN(auto job, LoadJob(tx, merchant_id, id));
        if (!job) return std::optional<ImportJob>{};
        return std::optional<ImportJob>(std::move(job->first));
      }));
  if (!claimed) return false;
  RG_TRY(Run(*claimed));
  return true;
}

Status ImportWorker::Run(const ImportJob& job) {
  RG_ASSIGN_OR_RETURN(std::string path, db_.ReadValue([&](store::Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(auto j, LoadJob(tx, job.merchant_id, job.id));
    if (!j) return Fail(Code::kNotFound, "import not found");
    return j->second;
  }));
  spdlog::info("import {} merchant={} started: {}", job.id, job.merchant_id, job.request.file_name);
  bool lost = false;         // another worker took the job over (our lease lapsed)
  bool interrupted = false;  // the server is stopping: the job goes back to the queue
  bool cancelled = false;    // cancel_requested seen after a batch
  Progress last = job.progress;
  auto progress = [&](const Progress& p) -> bool {
    last = p;
    if (options_.on_batch) options_.on_batch(job, p);
    if (stopping_.load()) {
      interrupted = true;
      return false;
    }
    const Micros now = clock_.Now();
    auto s = db_.WriteValue([&](store::Tx& tx) -> Result<bool> {
      RG_ASSIGN_OR_RETURN(int64_t n,
                          tx.Exec("UPDATE import_jobs SET lines = ?, bytes_consumed = ?, "
                                  "total_bytes = ?, lease_until = ? WHERE merchant_id = ? AND "
                                  "id = ? AND claimed_by = ? AND status = 'running'",
                                  {p.lines, p.bytes_consumed, p.total_bytes, now + options_.lease,
                                   job.merchant_id, job.id, worker_id_}));
      if (n == 0) return false;
      RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT cancel_requested FROM import_jobs WHERE "
                                              "merchant_id = ? AND id = ?",
                                              {job.merchant_id, job.id}));
      return !rows.empty() && !rows[0].Bool(0);
    });
    if (!s) {
      // A failed progress write is no reason to stop the import; the next batch tries again.
      spdlog::warn("import {}: progress not saved: {}", job.id, s.error().ToString());
      return true;
    }
    if (!*s) {
      auto still_ours = db_.ReadValue([&](store::Tx& tx) -> Result<bool> {
        RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT claimed_by FROM import_jobs WHERE "
                                                "merchant_id = ? AND id = ?",
                                                {job.merchant_id, job.id}));
        return !rows.empty() && rows[0].Str(0) == worker_id_;
      });
      if (still_ours && *still_ours)
        cancelled = true;
      else
        lost = true;
      return false;
    }
    return true;
  };

  JobStatus status = JobStatus::kFailed;
  std::optional<ImportReport> report;
  std::optional<std::string> error;
  auto options = ResolveImportOptions(job.request);
  if (!options) {
    error = options.error().message;
  } else {
    if (options_.batch_orders > 0) options->batch_orders = options_.batch_orders;
    options->source = "import";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      error = fmt::format("the uploaded file is missing on this server ({})", path);
    } else {
      accounts::Actor actor = accounts::SystemActor(job.merchant_id, clock_.Now());
      auto r = ImportOrdersFile(db_, actor, path, *options, progress);
      if (lost) {
        spdlog::warn("import {}: taken over by another worker; stopping", job.id);
        return {};
      }
      if (interrupted) {
        // What the finished batches wrote stays; the next start runs the file again and skips
        // it (idempotent by external id).
        spdlog::info("import {}: server stopping; back in the queue", job.id);
        return db_.Write([&](store::Tx& tx) -> Status {
          RG_TRY(
              tx.Exec("UPDATE import_jobs SET status = 'queued', claimed_by = NULL, "
                      "lease_until = NULL, lines = ?, bytes_consumed = ?, total_bytes = ? "
                      "WHERE merchant_id = ? AND id = ? AND claimed_by = ?",
                      {last.lines, last.bytes_consumed, last.total_bytes, job.merchant_id, job.id,
                       worker_id_}));
          return {};
        });
      }
      if (!r) {
        error = r.error().message;
      } else {
        report = std::move(*r);
        last.lines = report->lines;
        if (cancelled || report->cancelled) {
          status = JobStatus::kCancelled;
        } else if (options->all_or_nothing && !options->dry_run && !report->committed) {
          status = JobStatus::kFailed;
          error = fmt::format("{} line(s) rejected; nothing was imported (all or nothing)",
                              report->lines_rejected);
        } else {
          status = JobStatus::kSucceeded;
        }
      }
    }
  }
  const Micros now = clock_.Now();
  RG_TRY(db_.Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec(
        "UPDATE import_jobs SET status = ?, report_json = ?, error = ?, finished_at = ?, "
        "lines = ?, bytes_consumed = ?, total_bytes = ?, claimed_by = NULL, lease_until = NULL "
        "WHERE merchant_id = ? AND id = ? AND claimed_by = ?",
        {std::string(JobStatusName(status)),
         report ? Value(ReportToJson(*report).dump()) : store::Null(), Opt(error), now, last.lines,
         last.bytes_consumed, last.total_bytes, job.merchant_id, job.id, worker_id_}));
    return {};
  }));
  spdlog::info("import {} merchant={} {}{}", job.id, job.merchant_id, JobStatusName(status),
               error ? ": " + *error : "");
  if (IsFinal(status)) ::unlink(path.c_str());
  return {};
}

Result<int> ImportWorker::SweepUploads() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(options_.uploads.dir, ec)) return 0;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(options_.uploads.dir, ec)) {
    std::string name = entry.path().filename().string();
    bool part = name.ends_with(".upload.part");
    if (!part && !name.ends_with(".upload")) continue;
    bool old = entry.last_write_time(ec) < cutoff;
    if (part) {  // a save that never finished
      if (old && fs::remove(entry.path(), ec)) ++removed;
      continue;
    }
    size_t dash = name.find('-');
    auto merchant_id = ParseId(name.substr(0, dash));
    auto id = dash == std::string::npos
                  ? std::nullopt
                  : ParseId(name.substr(dash + 1, name.size() - dash - 1 - 7));
    if (!merchant_id || !id) continue;
    RG_ASSIGN_OR_RETURN(
        auto status, db_.ReadValue([&](store::Tx& tx) -> Result<std::optional<std::string>> {
          RG_ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT status FROM import_jobs "
                                                  "WHERE merchant_id = ? AND id = ?",
                                                  {*merchant_id, *id}));
          if (rows.empty()) return std::optional<std::string>{};
          return std::optional<std::string>(rows[0].Str(0));
        }));
    bool ended = status && IsFinal(ParseJobStatus(*status).value_or(JobStatus::kFailed));
    if ((ended || (!status && old)) && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace regulars::importer
