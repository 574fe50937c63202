// The `regulars` command: serve, merchant create, apikey create, migrate, version.

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "accounts/account_service.h"
#include "base/crypto.h"
#include "base/log.h"
#include "cli/clv_command.h"
#include "cli/config.h"
#include "cli/demo.h"
#include "cli/import_command.h"
#include "events/dispatcher.h"
#include "http/server.h"
#include "importer/import_job.h"
#include "insight/scores.h"
#include "loyalty/coupon_service.h"
#include "loyalty/ledger_repo.h"
#include "loyalty/loyalty_service.h"
#include "loyalty/tier_service.h"
#include "loyalty/wallet_service.h"
#include "messaging/secrets.h"
#include "messaging/sender.h"
#include "messaging/transactional.h"
#include "store/migrations.h"

#ifndef REGULARS_VERSION
#define REGULARS_VERSION "0.0.0"
#endif

namespace regulars::cli {
namespace {

struct Common {
  std::string config_file;
  std::string data_dir;
  std::string database_url;
  bool json = false;
};

int Die(const Error& e, bool json) {
  if (json) {
    nlohmann::json j = {{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}};
    if (!e.field.empty()) j["error"]["field"] = e.field;
    std::cout << j.dump() << "\n";
  } else {
    std::cerr << "regulars: " << e.message << "\n";
  }
  return e.code == Code::kInvalidArgument ? 2 : 1;
}

Result<Config> ResolveConfig(const Common& c) {
  Config cfg;
  if (!c.config_file.empty()) {
    RG_ASSIGN_OR_RETURN(cfg, LoadConfigFile(c.config_file));
  }
  if (!c.data_dir.empty()) cfg.data_dir = c.data_dir;
  if (!c.database_url.empty()) cfg.database_url = c.database_url;
  return cfg;
}

Result<std::unique_ptr<store::Database>> OpenAndMigrate(const Config& cfg) {
  RG_ASSIGN_OR_RETURN(auto db, store::Open(cfg.StoreOptions()));
  RG_ASSIGN_OR_RETURN(int applied, store::Migrate(*db, *SystemClock::Default()));
  if (applied > 0) spdlog::info("migrations applied: {} database={}", applied, db->Describe());
  return db;
}

void AddCommon(CLI::App* app, Common& c) {
  app->add_option("--config", c.config_file, "TOML configuration file");
  app->add_option("--data", c.data_dir, "folder for embedded SQLite (default ./var)");
  app->add_option("--database", c.database_url, "postgresql://... or sqlite:PATH");
  app->add_flag("--json", c.json, "machine-readable output");
}

int Serve(const Common& common, const std::string& listen, bool demo) {
  auto cfg = ResolveConfig(common);
  if (!cfg) return Die(cfg.error(), common.json);
  if (!listen.empty()) cfg->listen = listen;
  SetUpLogging(cfg->log_level, cfg->log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  auto options = cfg->ServerOptions();
  if (!options) return Die(options.error(), common.json);
  // Uploaded import files wait in <data>/imports; on PostgreSQL without --data, in a temporary
  // folder (servers sharing one PostgreSQL need one shared --data folder for imports).
  if (!cfg->EffectiveDatabaseUrl().starts_with("postgres") || !common.data_dir.empty())
    options->imports_dir = std::filesystem::absolute(cfg->data_dir + "/imports").string();
  else
    options->imports_dir = importer::DefaultUploadDir();

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto db = OpenAndMigrate(*cfg);
  if (!db) return Die(db.error(), common.json);
  const Clock& clock = *SystemClock::Default();
  if (demo) {
    auto seeded = SeedDemo(**db, clock);
    if (!seeded) return Die(seeded.error(), common.json);
  }
  events::Dispatcher dispatcher(**db, clock);
  // Messaging: channel secrets and unsubscribe links are sealed under <data>/secret.key (or
  // REGULARS_SECRET_KEY); transactional messages come from the event log; the sender workers
  // deliver the outbox.
  options->data_dir = std::filesystem::absolute(cfg->data_dir).string();
  std::optional<messaging::SecretBox> secret_box;
  if (auto box = messaging::SecretBox::LoadFromEnvironment(options->data_dir); box)
    secret_box.emplace(std::move(*box));
  else
    spdlog::error("messaging secrets unavailable: {}", box.error().ToString());
  const messaging::SecretBox* secrets = secret_box ? &*secret_box : nullptr;
  // Links in messages point at the public URL (config public_url / REGULARS_PUBLIC_URL), else
  // at the listen address.
  const std::string public_base = PublicBaseUrl(*options);
  messaging::TransactionalConsumer transactional(secrets, public_base);
  dispatcher.Register(&transactional);
  dispatcher.Start();
  messaging::SenderOptions sender_options;
  sender_options.secrets = secrets;
  messaging::Sender sender(**db, clock, sender_options);
  sender.Start();
  // Settings and channels changed through the API reach the workers at their next round.
  options->on_messaging_changed = [&sender] { sender.InvalidateCaches(); };
  // Expires due points and lapsed reservations every minute; idempotent, so several servers
  // sharing one database may all run it.
  std::atomic<bool> stopping{false};
  // The server's feature store, once it is built (insight/scores.h: nightly model fits).
  std::atomic<insight::FeatureStore*> features{nullptr};
  std::thread sweeper([&] {
    Micros last_review = 0;
    insight::FitSweepState fit_state;
    while (!stopping.load()) {
      if (auto* fs = features.load()) {
        auto fitted = insight::RunDueFits(**db, *fs, clock.Now(), fit_state);
        if (!fitted) spdlog::error("insight model fits failed: {}", fitted.error().ToString());
      }
      // Tier reviews hourly: downgrades after grace, overrides that ended.
      if (clock.Now() - last_review >= 3600 * kMicrosPerSecond) {
        last_review = clock.Now();
        auto merchants =
            (*db)->ReadValue([](store::Tx& tx) { return accounts::ListMerchants(tx); });
        for (const auto& m : merchants.value_or(std::vector<accounts::Merchant>{})) {
          auto n = (*db)->WriteValue(
              [&](store::Tx& tx) { return loyalty::ReviewTiers(tx, m.id, clock.Now()); });
          if (!n) spdlog::error("tier review merchant={} failed: {}", m.id, n.error().ToString());
        }
        // Birthday coupons, N days before each birthday in the merchant's zone; idempotent.
        auto b = (*db)->WriteValue(
            [&](store::Tx& tx) { return loyalty::IssueBirthdayCoupons(tx, clock.Now()); });
        if (!b)
          spdlog::error("birthday coupons failed: {}", b.error().ToString());
        else if (*b > 0)
          spdlog::info("birthday coupons issued: {}", *b);
        // "Points about to expire" messages, N days ahead in the merchant's zone; idempotent.
        auto pe = (*db)->WriteValue([&](store::Tx& tx) {
          return messaging::EnqueuePointsExpiring(tx, clock.Now(), secrets, public_base);
        });
        if (!pe)
          spdlog::error("points expiring messages failed: {}", pe.error().ToString());
        else if (*pe > 0)
          spdlog::info("points expiring messages enqueued: {}", *pe);
      }
      auto r =
          (*db)->WriteValue([&](store::Tx& tx) { return loyalty::RunExpiry(tx, clock.Now()); });
      if (!r)
        spdlog::error("expiry sweep failed: {}", r.error().ToString());
      else if (r->points_expired || r->reservations_released)
        spdlog::info("expiry sweep: points_expired={} reservations_released={}", r->points_expired,
                     r->reservations_released);
      for (int i = 0; i < 600 && !stopping.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // Runs uploaded order-history imports, one at a time (importer/import_job.h).
  importer::ImportWorkerOptions import_options;
  import_options.uploads.dir = options->imports_dir;
  importer::ImportWorker import_worker(**db, clock, import_options);
  import_worker.Start();
  http::Server server(**db, clock, &dispatcher, *options);
  auto port = server.Bind();
  if (!port) return Die(port.error(), common.json);
  features = &server.Features();
  std::string url = fmt::format("http://{}:{}", options->host, *port);
  if (common.json) {
    std::cout << nlohmann::json{{"url", url}, {"database", (*db)->Describe()}}.dump() << std::endl;
  } else {
    std::cout << "Regulars is running at " << url << "\n";
    std::cout << "  database: " << (*db)->Describe() << "\n";
    if (demo) {
      DemoLogins logins;
      std::cout << "  demo owner:   " << logins.owner_email << " / " << logins.owner_password
                << "\n  demo cashier: " << logins.cashier_email << " / " << logins.cashier_password
                << "\n";
    }
    std::cout << "  stop with Ctrl-C" << std::endl;
  }
  // A stop signal may come before Serve listens (it stays pending from the mask above, e.g.
  // during a slow demo seed), and the HTTP server ignores a stop before it listens: so the
  // waiter repeats Stop until Serve has returned.
  std::atomic<bool> served{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (served) return;  // woken by the main thread below
    spdlog::info("signal {} received; stopping", sig);
    while (!served) {
      server.Stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server.Serve();
  served = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // a waiter still in sigwait returns
  waiter.join();
  stopping = true;
  sweeper.join();
  import_worker.Stop();
  sender.Stop();
  dispatcher.Stop();
  return 0;
}

}  // namespace
}  // namespace regulars::cli

int main(int argc, char** argv) {
  using namespace regulars;
  using namespace regulars::cli;
  CLI::App app{"Regulars: customer loyalty and CRM for shops"};
  app.require_subcommand(1);
  Common common;

  std::string listen;
  bool demo = false;
  auto* serve = app.add_subcommand("serve", "run the API, the console and the workers");
  AddCommon(serve, common);
  serve->add_option("--listen", listen, "HOST:PORT (default 127.0.0.1:8080)");
  serve->add_flag("--demo", demo, "fill an empty database with a demo merchant");

  auto* merchant = app.add_subcommand("merchant", "manage merchants");
  merchant->require_subcommand(1);
  auto* mcreate = merchant->add_subcommand("create",
                                           "create a merchant and its owner; the "
                                           "owner's password is read from stdin");
  AddCommon(mcreate, common);
  accounts::Merchant m;
  std::string owner_email, owner_name = "Owner";
  mcreate->add_option("--name", m.name, "shop or chain name")->required();
  mcreate->add_option("--region", m.region, "ISO 3166 region for phone numbers (default TW)");
  mcreate->add_option("--currency", m.currency, "ISO 4217 currency (default TWD)");
  mcreate->add_option("--timezone", m.timezone, "IANA time zone (default Asia/Taipei)");
  mcreate->add_option("--language", m.language, "zh-TW, zh-CN or en (default zh-TW)");
  mcreate->add_option("--owner-email", owner_email, "the owner's log-in e-mail")->required();
  mcreate->add_option("--owner-name", owner_name, "the owner's name");

  auto* apikey = app.add_subcommand("apikey", "manage API keys");
  apikey->require_subcommand(1);
  auto* kcreate = apikey->add_subcommand("create", "print a new API key once");
  AddCommon(kcreate, common);
  std::string key_merchant, key_name = "API key", key_role = "owner";
  kcreate->add_option("--merchant", key_merchant, "merchant id")->required();
  kcreate->add_option("--name", key_name, "what the key is for");
  kcreate->add_option("--role", key_role, "owner, manager or cashier (default owner)");

  auto* migrate = app.add_subcommand("migrate", "apply pending schema migrations");
  AddCommon(migrate, common);
  auto* check = app.add_subcommand("check",
                                   "audit every balance against its ledger; exits 1 on "
                                   "any mismatch");
  AddCommon(check, common);
  auto* import_cmd = app.add_subcommand("import", "import data from files");
  import_cmd->require_subcommand(1);
  auto* iorders = import_cmd->add_subcommand("orders", "import order history from a CSV export");
  AddCommon(iorders, common);
  ImportOrdersArgs import_args;
  AddImportOrdersOptions(iorders, import_args);
  auto* version = app.add_subcommand("version", "print the version");
  version->add_flag("--json", common.json, "machine-readable output");
  // `regulars clv fit|predict` (cli/clv_command.cpp): churn and value models, no database.
  ClvOptions clv_options;
  AddClvCommands(app, clv_options);
  // `regulars insight fit --merchant ID` (insight/scores.h): one merchant's churn and value
  // models fitted on its database now; the fit and every member's scores are saved.
  auto* insight_cmd = app.add_subcommand("insight", "customer insight on the database");
  insight_cmd->require_subcommand(1);
  auto* insight_fit = insight_cmd->add_subcommand(
      "fit", "fit BG/NBD + Gamma-Gamma for one merchant; save the fit and its members' scores");
  AddCommon(insight_fit, common);
  std::string fit_merchant;
  insight_fit->add_option("--merchant", fit_merchant, "merchant id")->required();

  CLI11_PARSE(app, argc, argv);
  SetUpLogging("warn", LogFormat::kText);
  if (clv_options.fit->parsed() || clv_options.predict->parsed()) return RunClv(clv_options);

  if (*serve) return Serve(common, listen, demo);

  if (*version) {
    if (common.json)
      std::cout << nlohmann::json{{"version", REGULARS_VERSION}}.dump() << "\n";
    else
      std::cout << "regulars " << REGULARS_VERSION << "\n";
    return 0;
  }

  std::optional<importer::ImportOptions> import_options;
  if (*iorders) {  // usage errors before any database is opened
    auto o = ImportOptionsFromArgs(import_args);
    if (!o) return Die(o.error(), common.json);
    import_options = std::move(*o);
  }

  std::optional<Id> fit_merchant_id;
  if (*insight_fit) {  // usage errors before any database is opened
    fit_merchant_id = ParseId(fit_merchant);
    if (!fit_merchant_id)
      return Die(MakeError(Code::kInvalidArgument, "--merchant: not a merchant id", "merchant"),
                 common.json);
  }

  auto cfg = ResolveConfig(common);
  if (!cfg) return Die(cfg.error(), common.json);
  auto db = OpenAndMigrate(*cfg);
  if (!db) return Die(db.error(), common.json);
  const Clock& clock = *SystemClock::Default();

  if (*iorders) return RunImportOrders(**db, clock, import_args, *import_options, common.json);

  if (*insight_fit) {
    insight::FeatureStore features(**db, clock);
    auto built = features.Build();
    if (!built) return Die(built.error(), common.json);
    auto fit = insight::FitMerchant(**db, features, *fit_merchant_id, clock.Now());
    if (!fit) return Die(fit.error(), common.json);
    if (common.json) {
      std::cout << nlohmann::json{{"kind", fit->kind},
                                  {"fitted_at", FormatRfc3339(fit->fitted_at)},
                                  {"customers", fit->customers},
                                  {"repeat_buyers", fit->repeat_buyers},
                                  {"converged", fit->converged},
                                  {"params", nlohmann::json::parse(insight::ModelParamsJson(*fit))}}
                       .dump()
                << "\n";
    } else {
      std::cout << fmt::format(
          "insight fit: {} customers ({} repeat buyers); BG/NBD r={:.4g} alpha={:.4g} a={:.4g} "
          "b={:.4g}; Gamma-Gamma {}\n",
          fit->customers, fit->repeat_buyers, fit->bgnbd.r, fit->bgnbd.alpha, fit->bgnbd.a,
          fit->bgnbd.b,
          fit->gamma_gamma ? fmt::format("p={:.4g} q={:.4g} gamma={:.4g}", fit->gamma_gamma->p,
                                         fit->gamma_gamma->q, fit->gamma_gamma->gamma)
                           : std::string("not fitted (fewer than two repeat buyers)"));
    }
    return 0;
  }

  if (*migrate) {
    auto v = store::SchemaVersion(**db);
    if (!v) return Die(v.error(), common.json);
    if (common.json)
      std::cout << nlohmann::json{{"schema_version", *v}}.dump() << "\n";
    else
      std::cout << "schema version " << *v << "\n";
    return 0;
  }

  if (*check) {
    std::vector<std::string> problems;
    auto s = (*db)->Read([&](store::Tx& tx) -> Status {
      RG_TRY(loyalty::CheckLedger(tx, &problems));
      RG_TRY(loyalty::CheckWallets(tx, &problems));
      return {};
    });
    if (!s) return Die(s.error(), common.json);
    if (common.json) {
      std::cout << nlohmann::json{{"ok", problems.empty()}, {"problems", problems}}.dump() << "\n";
    } else {
      for (const auto& p : problems) std::cout << p << "\n";
      std::cout << (problems.empty() ? "check: every balance matches its ledger\n"
                                     : fmt::format("check: {} problem(s)\n", problems.size()));
    }
    return problems.empty() ? 0 : 1;
  }

  if (*mcreate) {
    std::string password;
    std::getline(std::cin, password);
    if (auto s = accounts::ValidatePassword(password, "password"); !s)
      return Die(s.error(), common.json);
    auto hash = HashPassword(password);
    if (!hash) return Die(hash.error(), common.json);
    auto created = (*db)->WriteValue([&](store::Tx& tx) -> Result<accounts::Merchant> {
      RG_ASSIGN_OR_RETURN(auto merchant, accounts::CreateMerchant(tx, clock.Now(), m));
      RG_TRY(accounts::CreateStaff(tx, accounts::SystemActor(merchant.id, clock.Now()),
                                   {owner_name, owner_email, accounts::Role::kOwner, *hash, {}}));
      return merchant;
    });
    if (!created) return Die(created.error(), common.json);
    if (common.json)
      std::cout << nlohmann::json{{"merchant_id", IdToString(created->id)}}.dump() << "\n";
    else
      std::cout << IdToString(created->id) << "\n";
    return 0;
  }

  if (*kcreate) {
    auto mid = ParseId(key_merchant);
    if (!mid)
      return Die(MakeError(Code::kInvalidArgument, "--merchant: not a merchant id"), common.json);
    auto role = accounts::ParseRole(key_role);
    if (!role)
      return Die(MakeError(Code::kInvalidArgument, "--role: must be owner, manager or cashier"),
                 common.json);
    auto key = (*db)->WriteValue([&](store::Tx& tx) {
      return accounts::CreateApiKey(tx, clock.Now(), *mid, key_name, *role);
    });
    if (!key) return Die(key.error(), common.json);
    if (common.json)
      std::cout << nlohmann::json{{"id", IdToString(key->key.id)}, {"secret", key->secret}}.dump()
                << "\n";
    else
      std::cout << key->secret << "\n";
    return 0;
  }
  return 0;
}
