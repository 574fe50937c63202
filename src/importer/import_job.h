#pragma once

// Import jobs: an order-history import started from the console or the API (POST
// /api/v1/imports) and run in the background by the server's import worker.
//
// Contract:
// - The upload is kept as a file in the imports folder (`<data>/imports/<merchant>-<id>.upload`)
//   until its job ends; the row in import_jobs holds the options, the progress and, at the end,
//   the ImportReport or the error. The worker deletes the files of finished jobs (and uploads no
//   row names, left by a replayed request, once they are an hour old).
// - One worker thread per server claims queued jobs oldest first (PostgreSQL: FOR UPDATE SKIP
//   LOCKED, so several servers share the queue) and holds each under a lease it renews after
//   every batch. A job whose server died goes back to queued: on SQLite at the worker's start
//   (one server per database file), on PostgreSQL once its lease lapses. Re-running is safe
//   because ImportOrders is idempotent by external id.
// - A server that stops cleanly puts its running job back in the queue after the current batch.
// - Cancelling a queued job ends it at once; a running one stops after its current batch (what
//   was committed stays; running the file again completes it without duplicates).
// - Only an owner or manager may create, list, read or cancel jobs (permission_denied).
// - On PostgreSQL with several servers, the imports folder must be shared by all of them (a
//   worker that cannot find the upload fails the job saying so).

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "base/page.h"
#include "base/time.h"
#include "importer/order_import.h"
#include "store/db.h"

namespace regulars::importer {

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
std::string_view JobStatusName(JobStatus s);
std::optional<JobStatus> ParseJobStatus(std::string_view name);

// What the caller asked for, as given (kept with the job and shown back).
struct ImportRequest {
  std::string file_name;                                     // shown in lists; default "upload.csv"
  std::string preset;                                        // "" = none
  std::vector<std::pair<std::string, std::string>> mapping;  // field -> column; overrides preset
  std::string encoding = "auto";
  char delimiter = ',';
  bool dry_run = false;
  bool all_or_nothing = false;
  bool award_points = false;
  bool rebuild_tiers = false;
  std::optional<std::string> cancel_prefix;  // overrides the preset's
};

// The Mapping field names a request's mapping may use ("order_id", "occurred_at", ...), in the
// order the console shows them, and those a mapping must end up with.
const std::vector<std::string>& MappingFieldNames();
const std::vector<std::string>& RequiredMappingFields();

// The engine options a request stands for. invalid_argument naming the field: "preset" (unknown
// preset), "mapping.<field>" (unknown field, or a required one left empty), "encoding",
// "file_name". Neither preset nor mapping: the "generic" preset.
Result<ImportOptions> ResolveImportOptions(const ImportRequest& request);

struct ImportJob {
  Id merchant_id = 0;
  Id id = 0;
  JobStatus status = JobStatus::kQueued;
  ImportRequest request;
  Progress progress;
  std::optional<ImportReport> report;
  std::optional<std::string> error;
  bool cancel_requested = false;
  std::string created_by;  // Actor::Label()
  Micros created_at = 0;
  std::optional<Micros> started_at;
  std::optional<Micros> finished_at;

  // 0..100: bytes read of the upload; 100 once succeeded.
  int Percent() const;
};

// The first lines of a file, for the console to choose a mapping (nothing is written).
struct ImportPreview {
  std::string encoding;  // as detected or chosen: "utf-8", "big5", "gb18030"
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // up to kPreviewRows
  std::optional<std::string> preset;           // the guessed preset
  std::optional<Mapping> mapping;              // the guessed preset's mapping
};
inline constexpr size_t kPreviewRows = 10;
inline constexpr size_t kMaxPreviewBytes = 256 << 10;
// Largest upload accepted.
inline constexpr size_t kMaxUploadBytes = size_t{512} << 20;

// Reads the header and up to kPreviewRows rows of `head` (the first bytes of a file, possibly
// cut mid-record; may be gzip). A malformed header is invalid_argument naming its line and column;
// a malformed later row is left out; an empty input is invalid_argument field "file".
// Owner or manager only.
Result<ImportPreview> PreviewImport(const accounts::Actor& actor, std::string head,
                                    const std::string& encoding, char delimiter = ',');

// The (name, value) pairs of a Mapping that are set, in MappingFieldNames() order.
std::vector<std::pair<std::string, std::string>> MappingPairs(const Mapping& m);

// --- Use cases (each inside the caller's transaction) ---------------------------------------

// Where uploads are kept. The folder is created when missing.
struct UploadStore {
  std::string dir;
  std::string PathFor(Id merchant_id, Id job_id) const;
};
// The folder used when the server has no data folder (PostgreSQL without --data): under the
// system's temporary folder.
std::string DefaultUploadDir();

// Checks the caller and the request, then writes the upload to its file, before the job's
// transaction (slow work must not hold the writer). Errors: permission_denied; those of
// ResolveImportOptions; invalid_argument field "file" for an empty upload; unavailable when the
// file cannot be written.
Status SaveUpload(const accounts::Actor& actor, const UploadStore& uploads, Id job_id,
                  const ImportRequest& request, std::string_view bytes);

// Queues a job for an upload saved by SaveUpload. Validates the request first.
Result<ImportJob> CreateImportJob(store::Tx& tx, const accounts::Actor& actor,
                                  const UploadStore& uploads, Id job_id,
                                  const ImportRequest& request, int64_t total_bytes);
// Newest first; the cursor is the last id of the page before.
Result<Page<ImportJob>> ListImportJobs(store::Tx& tx, const accounts::Actor& actor,
                                       std::optional<std::string> cursor, int limit);
Result<ImportJob> GetImportJob(store::Tx& tx, const accounts::Actor& actor, Id id);
// failed_precondition for a job that already ended.
Result<ImportJob> CancelImportJob(store::Tx& tx, const accounts::Actor& actor, Id id);

// --- The worker -----------------------------------------------------------------------------

struct ImportWorkerOptions {
  UploadStore uploads;
  // How often an idle worker looks for queued jobs.
  Micros poll_interval = kMicrosPerSecond;
  // How long a claim holds without a renewal (renewed after every batch).
  Micros lease = 120 * kMicrosPerSecond;
  // Orders per transaction; 0: the engine's default (50,000, tuned for the command line).
  // The server's worker writes 5,000 a transaction: it shares the one SQLite writer with the
  // counter, so a batch must hold it for well under a second, and the console's progress bar
  // moves once a batch. Tests use smaller batches.
  int batch_orders = 5000;
  // Called on the worker thread after each batch, before the cancel check (tests only).
  std::function<void(const ImportJob&, const Progress&)> on_batch;
};

// One background thread that runs queued jobs one at a time. Start/Stop are not thread-safe
// against each other; RunOnce may be called instead of Start (tests).
class ImportWorker {
 public:
  ImportWorker(store::Database& db, const Clock& clock, ImportWorkerOptions options);
  ~ImportWorker();

  // Recovers jobs left running by a dead server, then polls until Stop().
  void Start();
  // A running import stops after its current batch and goes back to the queue (the next start
  // runs it again, skipping what was committed); then the thread ends.
  void Stop();

  // Puts jobs left running by a dead server back in the queue (SQLite: every running job;
  // PostgreSQL: those whose lease lapsed); a job whose cancel was requested ends cancelled.
  // Returns how many were recovered.
  Result<int> Recover();
  // Claims the oldest queued job of any merchant and runs it to its end. false: none queued.
  Result<bool> RunOnce();
  // Deletes upload files of jobs that ended, and orphans older than an hour.
  Result<int> SweepUploads();

 private:
  Status Run(const ImportJob& job);

  store::Database& db_;
  const Clock& clock_;
  ImportWorkerOptions options_;
  std::string worker_id_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace regulars::importer
