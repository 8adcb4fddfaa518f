// The composition root: what runs `pgro` from its configuration to its exit. Reads the
// configuration, checks the upstream, builds the ProxyContext every loop shares (policy,
// pool, cache, audit, statistics), starts the control plane and runs the data plane until
// SIGTERM/SIGINT; also the reload (SIGHUP, the ReloadPolicy RPC).
#include "server/bootstrap.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "audit/audit_log.hpp"
#include "auth/users.hpp"
#include "config/config.hpp"
#include "config/logging.hpp"
#include "controlplane/control_plane.hpp"
#include "controlplane/stats_metrics.hpp"
#include "fleet/redis_url.hpp"
#include "metrics/registry.hpp"
#include "net/tls.hpp"
#include "policy/classifier.hpp"
#include "server/data_plane_admin.hpp"
#include "server/proxy_server.hpp"
#include "server/upstream_probe.hpp"
#include "session/governor.hpp"
#include "session/session_registry.hpp"
#include "upstream/server_connection.hpp"

namespace pgro::server {

using config::Config;

namespace {

cache::Admission cacheAdmission(config::CacheAdmission admission) {
  return admission == config::CacheAdmission::Frequency ? cache::Admission::Frequency
                                                        : cache::Admission::Cost;
}

// pgro's own logins: USERS_FILE, or PROXY_USER + PROXY_PASSWORD (a verifier is made at
// once), or none (AUTH=trust).
std::shared_ptr<const auth::UserStore> loadUsers(const Config& cfg, std::string& error) {
  try {
    if (!cfg.users_file.empty()) {
      auto store =
          auth::UserStore::fromFile(cfg.users_file, &session::GovernorLimits::checkOverride);
      if (!store.ok()) {
        error = "USERS_FILE: " + store.error().message;
        return nullptr;
      }
      return std::make_shared<auth::UserStore>(std::move(*store));
    }
    if (!cfg.proxy_user.empty()) {
      return std::make_shared<auth::UserStore>(
          auth::UserStore::single(cfg.proxy_user, cfg.proxy_password));
    }
    return std::make_shared<auth::UserStore>();
  } catch (const std::exception& e) {
    error = std::string("logins: ") + e.what();
    return nullptr;
  }
}

// The function catalog and the classifier's options made from a loaded catalog under `cfg`
// (ALLOW_PG_SLEEP, READ_ONLY_FUNCTIONS, the MAX_WORK_MEM-class ceilings, statistics on or off).
struct Judgement {
  std::shared_ptr<const policy::FunctionCatalog> catalog;
  std::shared_ptr<const policy::ClassifierOptions> options;
};

Judgement makeJudgement(const LoadedCatalog& loaded, const Config& cfg) {
  auto catalog = std::make_shared<policy::FunctionCatalog>(
      loaded.functions, cfg.read_only_functions, loaded.operators, cfg.allow_pg_sleep);
  auto options = std::make_shared<policy::ClassifierOptions>();
  options->catalog = catalog.get();
  options->allow_pg_sleep = cfg.allow_pg_sleep;
  options->max_work_mem_kb = cfg.max_work_mem_kb;
  options->max_maintenance_work_mem_kb = cfg.max_maintenance_work_mem_kb;
  options->max_hash_mem_multiplier = cfg.max_hash_mem_multiplier;
  options->fingerprint = cfg.query_stats_top_k > 0;
  return {std::move(catalog), std::move(options)};
}

session::ProxyContext::PolicyState makePolicy(std::shared_ptr<const auth::UserStore> users,
                                              const LoadedCatalog& loaded,
                                              std::shared_ptr<const net::TlsContext> client_tls,
                                              std::shared_ptr<const Config> cfg) {
  session::ProxyContext::PolicyState state;
  auto judgement = makeJudgement(loaded, *cfg);
  state.users = std::move(users);
  state.client_tls = std::move(client_tls);
  state.config = std::move(cfg);
  state.catalog = std::move(judgement.catalog);
  state.options = std::move(judgement.options);
  state.catalog_fingerprint = loaded.fingerprint;
  return state;
}

// The wire-protocol connections' settings, with their TLS context made once (nullopt and
// `error` when a certificate file is unusable).
std::optional<upstream::UpstreamSettings> upstreamSettings(const Config& cfg, std::string& error) {
  using config::UpstreamSslMode;
  using Tls = upstream::UpstreamSettings::Tls;
  upstream::UpstreamSettings s;
  if (cfg.upstream_sslmode != UpstreamSslMode::Disable) {
    s.tls_mode = cfg.upstream_sslmode == UpstreamSslMode::Prefer ? Tls::Prefer : Tls::Require;
    auto verify = net::Verify::None;
    if (cfg.upstream_sslmode == UpstreamSslMode::VerifyFull) {
      verify = net::Verify::ChainAndHost;
    } else if (cfg.upstream_sslmode == UpstreamSslMode::VerifyCa ||
               !cfg.upstream_sslrootcert.empty()) {
      verify = net::Verify::Chain;  // require with a root certificate: as libpq
    }
    s.tls = net::TlsContext::client(verify, cfg.upstream_sslrootcert, error);
    if (!s.tls) return std::nullopt;
  }
  s.host = cfg.upstream_host;
  s.port = cfg.upstream_port;
  s.user = cfg.upstream_user;
  s.password = cfg.upstream_password;
  s.database = cfg.upstream_database;
  s.connect_timeout = std::chrono::seconds(cfg.upstream_connect_timeout_seconds);
  s.max_prepared_statements = static_cast<std::size_t>(cfg.max_prepared_statements);
  return s;
}

// Client-facing TLS, when a certificate is configured and CLIENT_TLS is not disable: the
// context made from the files, or nullptr when TLS is off. false and `error` when a file is
// unusable.
bool makeClientTls(const Config& cfg, std::shared_ptr<const net::TlsContext>& tls,
                   std::string& error) {
  tls = nullptr;
  if (cfg.tls_cert_file.empty() || cfg.client_tls == config::ClientTls::Disable) return true;
  tls = net::TlsContext::server(cfg.tls_cert_file, cfg.tls_key_file, error);
  return tls != nullptr;
}

// SIGHUP and the ReloadPolicy RPC: the configuration read again as at startup (flags, the
// environment, .env; only .env can differ in a running process), its reloadable settings
// put in force, and the logins, the client TLS files and the function catalog loaded again.
// All or nothing: a failure is logged and changes nothing. A changed setting that needs a
// restart is logged and keeps its running value. The cache and log level are set only when
// their setting changed, so a value set through the admin API survives an unrelated reload.
ReloadResult reloadConfig(std::mutex& mu, const std::vector<std::string>& args,
                          const Config& startup, const std::string& role,
                          session::ProxyContext& context) {
  std::lock_guard lock(mu);  // SIGHUP and the RPC may arrive together
  // logrotate's postrotate sends SIGHUP: the audit file is opened again whatever else the
  // reload finds.
  if (context.audit) context.audit->reopen();
  auto fail = [](const std::string& why) {
    spdlog::error("reload failed, nothing changed: {}", why);
    return ReloadResult{.ok = false, .message = why};
  };
  const auto running = context.policy().config;
  std::shared_ptr<const Config> cfg;
  std::vector<config::SettingChange> changes;
  try {
    const auto next = config::load(args, config::processEnvironment(), config::readDotEnv(".env"));
    changes = config::diff(*running, *next);
    cfg = config::withReloadable(*running, *next);
  } catch (const config::ConfigError& e) {
    return fail(std::string("configuration error: ") + e.what());
  }
  std::string error;
  auto users = loadUsers(*cfg, error);
  if (!users) return fail(error);
  std::shared_ptr<const net::TlsContext> tls;
  if (!makeClientTls(*cfg, tls, error)) return fail("client TLS: " + error);
  auto functions = loadCatalog(startup, role, error);
  if (!functions) return fail("could not load pg_proc from upstream: " + error);
  // Last of the steps that can fail: a malformed rules file keeps the rules in force.
  if (!context.cache_rules->load(error)) return fail("CACHE_RULES_FILE: " + error);

  // A louder level first, so that the lines below show under it; a quieter one after them.
  const bool louder =
      config::toSpdlogLevel(cfg->log_level) < config::toSpdlogLevel(running->log_level);
  if (louder) config::applyLogLevel(*cfg);
  int kept = 0;
  for (const auto& c : changes) {
    if (c.reloadable) {
      spdlog::info("reload: {} changed from \"{}\" to \"{}\"", c.name, c.from, c.to);
    } else {
      ++kept;
      spdlog::warn("reload: {} changed to \"{}\" but needs a restart: keeping \"{}\"", c.name, c.to,
                   c.from);
    }
  }
  if (cfg->cache_enabled != running->cache_enabled) context.cache->setEnabled(cfg->cache_enabled);
  if (cfg->cache_ttl_seconds != running->cache_ttl_seconds) {
    context.cache->setTtl(std::chrono::seconds(cfg->cache_ttl_seconds));
  }
  if (cfg->cache_stale_if_error_seconds != running->cache_stale_if_error_seconds) {
    context.cache->setStaleIfError(std::chrono::seconds(cfg->cache_stale_if_error_seconds));
  }
  if (cfg->cache_swr_percent != running->cache_swr_percent) {
    context.cache->setRefreshFraction(cfg->cache_swr_percent / 100.0);
  }
  if (cfg->cache_admission != running->cache_admission) {
    context.cache->setAdmission(cacheAdmission(cfg->cache_admission));
  }
  if (cfg->cache_min_cost_ms != running->cache_min_cost_ms) {
    context.cache->setMinCost(std::chrono::milliseconds(cfg->cache_min_cost_ms));
  }
  if (!louder && cfg->log_level != running->log_level) config::applyLogLevel(*cfg);
  const std::size_t user_count = users->size();
  context.setPolicy(makePolicy(std::move(users), *functions, std::move(tls), cfg));
  if (context.l2) context.l2->setScope(functions->fingerprint);
  const std::string message =
      "reloaded: " + std::to_string(changes.size() - kept) + " setting(s) changed, " +
      std::to_string(kept) + " need a restart; " + std::to_string(user_count) + " login(s), " +
      std::to_string(functions->functions.size()) + " functions, " +
      std::to_string(context.cache_rules->current()->size()) + " cache rule(s)";
  spdlog::info("{}", message);
  return {.ok = true, .message = message};
}

// Opens one wire-protocol connection to learn the server's ParameterStatus values (what
// clients are told at startup) and to check the read-only tripwire before serving anyone.
std::optional<std::map<std::string, std::string>> learnUpstreamParameters(
    const upstream::UpstreamSettings& settings) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(
      io, upstream::ServerConnection::open(io.get_executor(), settings), boost::asio::use_future);
  io.run();
  auto result = future.get();
  if (!result.connection) {
    spdlog::error("Upstream login failed: {}", result.error.message);
    return std::nullopt;
  }
  auto params = result.connection->parameters();
  result.connection->close();
  return params;
}

// The configuration from flags, the environment and .env, with logging set up from it;
// nullptr after printing why it is unusable.
std::shared_ptr<const Config> loadConfig(const std::vector<std::string>& args) {
  std::shared_ptr<const Config> cfg;
  try {
    cfg = config::load(args, config::processEnvironment(), config::readDotEnv(".env"));
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "pgro: configuration error: %s\n", e.what());
    return nullptr;
  }
  config::setupLogging(*cfg);
  spdlog::info("Starting PostgreSQL Read-Only Proxy (pgro {})", PGRO_VERSION);
  spdlog::info("Upstream: {}:{}/{}", cfg->upstream_host, cfg->upstream_port,
               cfg->upstream_database);
  spdlog::info("Listening on: {}:{}", cfg->listen_host, cfg->listen_port);
  spdlog::info("Cache settings: max_entries={}, ttl={}s", cfg->max_cache_entries,
               cfg->cache_ttl_seconds);
  spdlog::info("Connection pool size: {}", cfg->pool_size);
  return cfg;
}

// The context's parts that need no upstream: the login guard and every refusal reason as a
// series from startup (zero until it happens).
std::shared_ptr<session::ProxyContext> makeContext(std::shared_ptr<const Config> cfg) {
  auto context = std::make_shared<session::ProxyContext>();
  context->config = cfg;
  session::LoginThrottle::Settings throttle;
  throttle.max_delay = std::chrono::milliseconds(cfg->auth_failure_max_delay_ms);
  throttle.first_delay = std::min(throttle.first_delay, throttle.max_delay);
  context->guard = std::make_shared<session::LoginGuard>(cfg->max_unauthenticated_per_address,
                                                         throttle, cfg->client_buffer_budget_bytes);
  for (auto kind :
       {policy::Refusal::Write, policy::Refusal::ForbiddenFunction,
        policy::Refusal::ForbiddenParameter, policy::Refusal::SecretRead,
        policy::Refusal::ParseError, policy::Refusal::Unsupported, policy::Refusal::TooComplex,
        policy::Refusal::UnknownFunction, policy::Refusal::Sleep}) {
    context->counters.refused_by_reason[std::string(policy::refusalName(kind))] = 0;
  }
  return context;
}

// The policy in force at startup: `users`, the function catalog read as `role`, client TLS.
// Also starts the catalog's look-up on demand. false after logging why not; `exit_code`
// says how to end.
bool installPolicy(session::ProxyContext& context, std::shared_ptr<const Config> cfg,
                   std::shared_ptr<const auth::UserStore> users, const std::string& role,
                   int& exit_code) {
  std::string error;
  exit_code = 2;
  auto functions = loadCatalog(*cfg, role, error);
  if (!functions) {
    spdlog::error("Could not load pg_proc from upstream: {}", error);
    exit_code = 1;
    return false;
  }
  spdlog::info("Loaded {} functions from pg_proc for the function policy",
               functions->functions.size());
  std::shared_ptr<const net::TlsContext> client_tls;
  if (!makeClientTls(*cfg, client_tls, error)) {
    spdlog::error("Client TLS: {}", error);
    return false;
  }
  if (client_tls) {
    spdlog::info("Client TLS: {} ({})",
                 cfg->client_tls == config::ClientTls::Require ? "required" : "offered",
                 cfg->tls_cert_file);
  } else {
    spdlog::info("Client TLS: off");
  }
  // Unknown function names are looked up at most every 50 ms, and a new catalog is loaded
  // at most every 250 ms; calls of extension and user functions check that pg_proc is
  // unchanged once per CATALOG_CHECK_INTERVAL_MS.
  auto install = [&context](const LoadedCatalog& loaded) {
    auto judgement = makeJudgement(loaded, *context.policy().config);  // as last reloaded
    context.setCatalog(std::move(judgement.catalog), std::move(judgement.options));
    if (context.l2) context.l2->setScope(loaded.fingerprint);
  };
  context.catalog_refresher = std::make_shared<session::CatalogRefresher>(
      catalogLookup(cfg, role, functions->fingerprint, install), std::chrono::milliseconds(50),
      std::chrono::milliseconds(250), std::chrono::milliseconds(cfg->catalog_check_interval_ms));
  context.setPolicy(makePolicy(std::move(users), *functions, std::move(client_tls), cfg));
  return true;
}

// The result cache with its settings, the in-flight table and the cache rules. false after
// logging a malformed rules file.
bool makeCache(session::ProxyContext& context, const Config& cfg) {
  cache::CacheLimits limits;
  limits.max_entries = cfg.max_cache_entries;
  limits.max_bytes = cfg.max_cache_bytes;
  limits.max_entry_bytes = cfg.max_cache_entry_bytes;
  limits.ttl = std::chrono::seconds(cfg.cache_ttl_seconds);
  limits.stale_if_error = std::chrono::seconds(cfg.cache_stale_if_error_seconds);
  limits.refresh_fraction = cfg.cache_swr_percent / 100.0;
  limits.admission = cacheAdmission(cfg.cache_admission);
  limits.min_cost = std::chrono::milliseconds(cfg.cache_min_cost_ms);
  context.cache = std::make_shared<cache::ResultCache>(limits, nullptr);
  context.cache->setEnabled(cfg.cache_enabled);
  context.inflight = std::make_shared<cache::InFlight>();
  context.cache_rules = std::make_shared<session::CacheRuleStore>(cfg.cache_rules_file);
  std::string error;
  if (!context.cache_rules->load(error)) {
    spdlog::error("CACHE_RULES_FILE: {}", error);
    return false;
  }
  if (!cfg.cache_rules_file.empty()) {
    spdlog::info("Cache rules: {} from {}", context.cache_rules->current()->size(),
                 cfg.cache_rules_file);
  }
  return true;
}

// AUDIT_LOG and QUERY_STATS_TOP_K. false after logging an audit destination that cannot be
// opened.
bool makeAudit(session::ProxyContext& context, const Config& cfg, int loops) {
  if (!cfg.audit_log.empty() && cfg.audit_log != "off") {
    audit::Settings audit;
    audit.destination = cfg.audit_log;
    audit.format.max_text_bytes = cfg.audit_max_text_bytes;
    audit.format.parameters =
        cfg.audit_parameters == config::AuditParameters::On         ? audit::ParameterMode::On
        : cfg.audit_parameters == config::AuditParameters::Redacted ? audit::ParameterMode::Redacted
                                                                    : audit::ParameterMode::Off;
    audit.hash_chain = cfg.audit_hash_chain;
    audit.queue_bytes = cfg.audit_queue_bytes;
    try {
      context.audit = std::make_shared<audit::AuditLog>(std::move(audit));
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return false;
    }
    spdlog::info("Audit log: {}{}", cfg.audit_log, cfg.audit_hash_chain ? " (hash chain)" : "");
  }
  if (cfg.query_stats_top_k > 0) {
    context.query_stats =
        std::make_shared<audit::QueryStats>(cfg.query_stats_top_k, static_cast<std::size_t>(loops));
  }
  return true;
}

// The fleet cache (CACHE_L2_URL) on the server's loops, when configured. false after logging
// a malformed URL.
bool makeFleetCache(session::ProxyContext& context, const ProxyServer& server) {
  const Config& cfg = *context.config;
  if (cfg.cache_l2_url.empty()) return true;
  std::string error;
  auto url = fleet::parseRedisUrl(cfg.cache_l2_url, error);
  if (!url) {
    spdlog::error("CACHE_L2_URL: {}", error);
    return false;
  }
  fleet::L2Settings l2;
  l2.url = std::move(*url);
  l2.timeout = std::chrono::milliseconds(cfg.cache_l2_timeout_ms);
  l2.max_entry_bytes = cfg.cache_l2_max_entry_bytes;
  l2.lease = std::chrono::milliseconds(cfg.cache_l2_lease_ms);
  spdlog::info("Fleet cache: redis://{}:{}/{}{}", l2.url.host, l2.url.port, l2.url.db,
               l2.url.password.empty() ? "" : " (AUTH)");
  // A reset seen from another replica clears this one's own cache.
  std::weak_ptr<cache::ResultCache> local = context.cache;
  auto clear = [local] {
    if (auto cache = local.lock()) cache->clear();
  };
  context.l2 = std::make_shared<fleet::L2Cache>(std::move(l2), server.loopExecutors(), clear);
  context.l2->setScope(context.policy().catalog_fingerprint);
  context.l2->start();
  return true;
}

// Serves until SIGTERM/SIGINT: the listener, the control plane (admin API, metrics) beside
// it, and the reload both trigger. Returns the exit code.
int serve(std::shared_ptr<session::ProxyContext> context, const std::vector<std::string>& args,
          const std::string& role) {
  const auto cfg = context->config;
  ProxyServer server(context);
  try {
    server.bind();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  if (!makeFleetCache(*context, server)) return 2;
  // The control plane sees the data plane only through AdminTarget.
  metrics::Registry registry;
  std::mutex reload_mu;
  DataPlaneAdmin admin(context, [&reload_mu, args, cfg, context, role] {
    return reloadConfig(reload_mu, args, *cfg, role, *context);
  });
  server.setReloadHandler([&admin] { (void)admin.reload(); });
  context->metrics = controlplane::registerDataPlaneMetrics(registry, admin);
  controlplane::ControlPlane control(admin, registry,
                                     {.admin_listen = cfg->admin_listen,
                                      .admin_token = cfg->admin_token,
                                      .tls_cert_file = cfg->admin_tls_cert_file,
                                      .tls_key_file = cfg->admin_tls_key_file,
                                      .metrics_listen = cfg->metrics_listen});
  try {
    control.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info("Admin API on {}, metrics on {}", cfg->admin_listen, cfg->metrics_listen);
  spdlog::info("Proxy server listening on {}:{}", cfg->listen_host, server.port());
  const int code = server.run();
  context->catalog_refresher->stop();  // its look-up installs into `context`
  control.stop();
  if (context->audit) context->audit->flush();
  spdlog::info("pgro stopped");
  return code;
}

}  // namespace

int runProxy(const std::vector<std::string>& args) {
  // A SIGHUP before the server takes signals over (ProxyServer) must not end the process.
  std::signal(SIGHUP, SIG_IGN);
  const auto cfg = loadConfig(args);
  if (!cfg) return 2;
  auto context = makeContext(cfg);
  std::string error;
  auto users = loadUsers(*cfg, error);
  if (!users) {
    spdlog::error("{}", error);
    return 2;
  }
  const auto facts = checkUpstream(*cfg);
  if (!facts) return 1;
  const auto role = resolveUpstreamRole(*cfg, *facts);
  if (!role) return 2;
  if (int code = 0; !installPolicy(*context, cfg, std::move(users), *role, code)) return code;
  auto upstream = upstreamSettings(*cfg, error);
  if (!upstream) {
    spdlog::error("{}", error);
    return 2;
  }
  upstream->role = *role;
  auto params = learnUpstreamParameters(*upstream);
  if (!params) return 1;
  context->upstream_parameters = std::move(*params);
  const int loops = cfg->worker_threads > 0
                        ? cfg->worker_threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  context->pool = std::make_shared<upstream::Pool>(
      *upstream, cfg->pool_size, std::chrono::seconds(cfg->pool_timeout_seconds), loops);
  context->registry = std::make_shared<session::SessionRegistry>();
  if (!makeCache(*context, *cfg) || !makeAudit(*context, *cfg, loops)) return 2;
  return serve(std::move(context), args, *role);
}

}  // namespace pgro::server
