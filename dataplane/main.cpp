// pgro: a read-only PostgreSQL proxy. Parses the configuration, checks the upstream,
// then runs the data plane until SIGTERM/SIGINT. Exceptions are caught here, at startup only.
#include <termios.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>

#include "audit/audit_log.hpp"
#include "audit/hash_chain.hpp"
#include "auth/scram_verifier.hpp"
#include "auth/users.hpp"
#include "config/config.hpp"
#include "config/logging.hpp"
#include "controlplane/control_plane.hpp"
#include "controlplane/stats_metrics.hpp"
#include "metrics/registry.hpp"
#include "net/tls.hpp"
#include "policy/classifier.hpp"
#include "server/data_plane_admin.hpp"
#include "server/proxy_server.hpp"
#include "session/governor.hpp"
#include "session/session_registry.hpp"
#include "upstream/server_connection.hpp"

namespace {

using pgro::config::Config;

// MAX_WORK_MEM & co.: what the SET policy lets a client give work_mem-class settings.
void applySettingCeilings(const Config& cfg, pgro::policy::ClassifierOptions& options) {
  options.max_work_mem_kb = cfg.max_work_mem_kb;
  options.max_maintenance_work_mem_kb = cfg.max_maintenance_work_mem_kb;
  options.max_hash_mem_multiplier = cfg.max_hash_mem_multiplier;
}

std::string conninfoValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

// `pgro audit verify FILE`: checks an AUDIT_HASH_CHAIN log. Exit 0 when every line links to
// the one before it, 1 naming the first bad line, 2 on usage or I/O errors.
int auditCommand(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "verify") {
    std::fprintf(stderr, "usage: pgro audit verify FILE\n");
    return 2;
  }
  std::ifstream in(args[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "pgro audit verify: cannot open %s\n", args[2].c_str());
    return 2;
  }
  const auto result = pgro::audit::verifyChain(in);
  if (!result.ok) {
    std::printf("FAILED at line %llu: %s\n", static_cast<unsigned long long>(result.bad_line),
                result.message.c_str());
    return 1;
  }
  std::printf("OK: %llu line(s), hash chain intact\n",
              static_cast<unsigned long long>(result.lines));
  return 0;
}

// `pgro passwd USER`: prints a USERS_FILE line with a SCRAM-SHA-256 verifier. The password
// comes from stdin (asked twice without echo on a terminal).
int passwd(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: pgro passwd USER   (password read from stdin)\n");
    return 2;
  }
  const std::string& user = args[1];
  if (user.empty() || user.find(':') != std::string::npos) {
    std::fprintf(stderr, "pgro passwd: the user name must be non-empty and contain no ':'\n");
    return 2;
  }
  auto read_line = [](const char* prompt) {
    std::string line;
    const bool tty = isatty(STDIN_FILENO) != 0;
    termios old{};
    if (tty) {
      std::fprintf(stderr, "%s", prompt);
      tcgetattr(STDIN_FILENO, &old);
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::getline(std::cin, line);
    if (tty) {
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::fprintf(stderr, "\n");
    }
    return line;
  };
  const std::string password = read_line("Password: ");
  if (isatty(STDIN_FILENO) != 0 && read_line("Again: ") != password) {
    std::fprintf(stderr, "pgro passwd: passwords do not match\n");
    return 1;
  }
  if (password.empty()) {
    std::fprintf(stderr, "pgro passwd: empty password\n");
    return 1;
  }
  std::printf("%s:%s\n", user.c_str(),
              pgro::auth::ScramVerifier::fromPassword(password).toString().c_str());
  return 0;
}

// UPSTREAM_SSLMODE and UPSTREAM_SSLROOTCERT as libpq keywords (libpq 15 has no
// sslrootcert=system: the OpenSSL default bundle stands in for it).
std::string upstreamTlsConninfo(const Config& cfg) {
  using pgro::config::UpstreamSslMode;
  std::string mode;
  switch (cfg.upstream_sslmode) {
    case UpstreamSslMode::Disable:
      mode = "disable";
      break;
    case UpstreamSslMode::Prefer:
      mode = "prefer";
      break;
    case UpstreamSslMode::Require:
      mode = "require";
      break;
    case UpstreamSslMode::VerifyCa:
      mode = "verify-ca";
      break;
    case UpstreamSslMode::VerifyFull:
      mode = "verify-full";
      break;
  }
  std::string out = " sslmode=" + mode;
  if (!cfg.upstream_sslrootcert.empty()) {
    const std::string root = cfg.upstream_sslrootcert == "system" ? pgro::net::systemRootCertFile()
                                                                  : cfg.upstream_sslrootcert;
    out += " sslrootcert=" + conninfoValue(root);
  }
  return out;
}

// libpq's conninfo for pgro's own catalog connections: the same startup options (read-only,
// and `role` when UPSTREAM_ROLE resolved to one) as the wire-protocol sessions.
std::string upstreamConninfo(const Config& cfg, const std::string& role) {
  pgro::upstream::UpstreamSettings options;
  options.role = role;
  return "host=" + conninfoValue(cfg.upstream_host) + " port=" + std::to_string(cfg.upstream_port) +
         " user=" + conninfoValue(cfg.upstream_user) +
         " password=" + conninfoValue(cfg.upstream_password) +
         " dbname=" + conninfoValue(cfg.upstream_database) +
         " connect_timeout=" + std::to_string(cfg.upstream_connect_timeout_seconds) +
         " application_name=pgro options=" +
         conninfoValue(pgro::upstream::startupOptions(options)) + upstreamTlsConninfo(cfg);
}

std::string oneLine(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  for (auto& c : msg) {
    if (c == '\n') c = ' ';
  }
  return msg;
}

constexpr std::string_view kAutoRole = "pg_read_all_data";

// What the startup check learns from the server about UPSTREAM_USER and the role it would run
// as (pg_read_all_data for UPSTREAM_ROLE=auto).
struct UpstreamFacts {
  std::string version;  // server_version
  int version_num = 0;  // server_version_num
  bool account_is_superuser = false;
  bool role_exists = false;
  bool role_usable = false;  // the account may SET ROLE to it
  bool role_is_superuser = false;
};

// The seed's connectivity check, through libpqxx, as the account itself (no role yet): one
// query. SET ROLE needs membership (pg_has_role MEMBER; a superuser is a member of every
// role) and, from PostgreSQL 16, the SET option of the grant. CASE evaluates only the branch
// taken, so PostgreSQL 14/15 never see the 'SET' mode they do not know.
std::optional<UpstreamFacts> checkUpstream(const Config& cfg) {
  spdlog::info("Testing upstream connection...");
  const std::string role = cfg.upstream_role == "auto"   ? std::string(kAutoRole)
                           : cfg.upstream_role == "none" ? std::string()
                                                         : cfg.upstream_role;
  try {
    pqxx::connection c(upstreamConninfo(cfg, ""));
    pqxx::nontransaction tx(c);
    auto row = tx.exec_params1(
        "SELECT current_setting('server_version'), "
        "current_setting('server_version_num')::int, "
        "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user), "
        "r.oid IS NOT NULL, "
        "CASE WHEN r.oid IS NULL THEN false "
        "WHEN current_setting('server_version_num')::int >= 160000 "
        "THEN pg_catalog.pg_has_role(session_user, r.oid, 'SET') "
        "ELSE pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') END, "
        "coalesce(r.rolsuper, false) "
        "FROM (VALUES (1)) AS one (x) LEFT JOIN pg_catalog.pg_roles r ON r.rolname = $1",
        role);
    UpstreamFacts facts;
    facts.version = row[0].c_str();
    facts.version_num = row[1].as<int>();
    facts.account_is_superuser = row[2].as<bool>(false);
    facts.role_exists = row[3].as<bool>();
    facts.role_usable = row[4].as<bool>();
    facts.role_is_superuser = row[5].as<bool>();
    spdlog::info("Successfully connected to upstream database (PostgreSQL {})", facts.version);
    return facts;
  } catch (const std::exception& e) {
    spdlog::error("Could not connect to upstream database {}:{}/{}: {}", cfg.upstream_host,
                  cfg.upstream_port, cfg.upstream_database, oneLine(e.what()));
    return std::nullopt;
  }
}

// UPSTREAM_ROLE made concrete: the role every upstream session runs as ("" = the account's
// own privileges), or nullopt when a role named explicitly cannot be used (pgro does not
// start). Logs which role is in effect.
std::optional<std::string> resolveUpstreamRole(const Config& cfg, const UpstreamFacts& facts) {
  const std::string& user = cfg.upstream_user;
  if (cfg.upstream_role == "none") {
    spdlog::info(
        "Upstream role: none (UPSTREAM_ROLE=none): upstream sessions run with the "
        "privileges of UPSTREAM_USER \"{}\"{}",
        user, facts.account_is_superuser ? ", a superuser" : "");
    return std::string();
  }
  if (cfg.upstream_role == "auto") {
    if (facts.role_usable) {
      spdlog::info(
          "Upstream role: {} (UPSTREAM_ROLE=auto): upstream sessions read every table "
          "and can write none; PostgreSQL refuses superuser-only functions and settings",
          kAutoRole);
      return std::string(kAutoRole);
    }
    const std::string why =
        facts.version_num < 140000
            ? "the server is PostgreSQL " + facts.version + " and the role needs 14 or later"
            : "the account is not a member of it";
    const std::string lost =
        facts.account_is_superuser
            ? "table writes, superuser-only functions (pg_read_file, heap_force_kill, "
              "get_raw_page, ...), superuser-only settings (primary_conninfo, archive_command, "
              "pg_file_settings) and other users' query texts (pg_stat_activity, "
              "pg_stat_statements) are then stopped only by pgro's own policy, not by "
              "PostgreSQL"
            : "writes to whatever the account may write are then stopped only by pgro's own "
              "policy, not by PostgreSQL";
    spdlog::warn(
        "UPSTREAM_ROLE=auto: UPSTREAM_USER \"{}\" cannot use {} ({}), so upstream "
        "sessions run with the account's own privileges and PostgreSQL does not enforce "
        "read-only: {}. To fix: GRANT {} TO \"{}\" (PostgreSQL 14+) or name a read-only "
        "role in UPSTREAM_ROLE; UPSTREAM_ROLE=none accepts this without a warning",
        user, kAutoRole, why, lost, kAutoRole, user);
    return std::string();
  }
  const std::string& role = cfg.upstream_role;
  if (!facts.role_exists) {
    spdlog::error(
        "UPSTREAM_ROLE: role \"{}\" does not exist on the upstream server (create it, "
        "set UPSTREAM_ROLE=auto for {}, or none)",
        role, kAutoRole);
    return std::nullopt;
  }
  if (!facts.role_usable) {
    spdlog::error(
        "UPSTREAM_ROLE: UPSTREAM_USER \"{}\" may not SET ROLE \"{}\" (GRANT \"{}\" "
        "TO \"{}\")",
        user, role, role, user);
    return std::nullopt;
  }
  if (facts.role_is_superuser) {
    spdlog::warn(
        "UPSTREAM_ROLE: role \"{}\" is a superuser, so PostgreSQL enforces nothing for "
        "pgro's sessions; name a read-only role (e.g. one granted {})",
        role, kAutoRole);
  }
  spdlog::info("Upstream role: {} (UPSTREAM_ROLE): upstream sessions run with its privileges",
               role);
  return role;
}

// pg_proc's volatility for the function policy (a volatile function not on the safe list
// is refused), through libpqxx.
// pg_proc for the function policy. Built-in functions (oid < 16384, FirstNormalObjectId)
// need only their name and volatility; for the others the catalog needs what they run:
// the body of LANGUAGE sql (prosrc; for a BEGIN ATOMIC or RETURN body, PostgreSQL 14+, the
// statements as pg_get_functiondef prints them, a RETURN expression as a SELECT), the
// whole definition of plpgsql (the PL/pgSQL compiler wants argument names and return type),
// and for aggregates `SELECT s.f(), ...` naming their support functions. Bodies of built-ins
// and of other languages are not fetched, which keeps the snapshot small.
struct LoadedCatalog {
  std::vector<pgro::policy::FunctionInfo> functions;
  std::vector<pgro::policy::OperatorInfo> operators;
  std::string fingerprint;  // kCatalogFingerprint, read before the functions
};

// Extension and user functions and operators (and the schemas the catalog keys them by) as
// one value: a CREATE OR REPLACE, ALTER FUNCTION, new overload or operator, DROP or schema
// rename changes it (a new row version has a new xmin). Read before the functions, so a
// change in between is seen at the next check.
constexpr const char* kCatalogFingerprint =
    "SELECT pg_catalog.md5(COALESCE((SELECT pg_catalog.string_agg(p.oid::text || '.' || "
    "p.xmin::text, ',' ORDER BY p.oid) FROM pg_catalog.pg_proc p WHERE p.oid >= 16384), '') "
    "|| '/' || COALESCE((SELECT pg_catalog.string_agg(n.oid::text || '.' || n.xmin::text || "
    "'.' || n.nspname, ',' ORDER BY n.oid) FROM pg_catalog.pg_namespace n), '') || '/' || "
    "COALESCE((SELECT pg_catalog.string_agg(o.oid::text || '.' || o.xmin::text, ',' ORDER BY "
    "o.oid) FROM pg_catalog.pg_operator o WHERE o.oid >= 16384), ''))";

std::optional<LoadedCatalog> loadCatalog(const Config& cfg, const std::string& role,
                                         std::string& error) {
  try {
    pqxx::connection c(upstreamConninfo(cfg, role));
    pqxx::nontransaction tx(c);
    LoadedCatalog loaded;
    loaded.fingerprint = tx.exec1(kCatalogFingerprint)[0].c_str();
    const int version =
        tx.exec1("SELECT pg_catalog.current_setting('server_version_num')::int")[0].as<int>();
    const std::string plain_sql_body =
        version >= 140000 ? "p.prosqlbody IS NULL" : "true";  // prosqlbody is PostgreSQL 14+
    const auto procs = tx.exec(
        "SELECT n.nspname, p.proname, p.provolatile, p.oid < 16384, "
        "CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE l.lanname END, "
        "CASE WHEN p.oid < 16384 THEN '' "
        "WHEN p.prokind = 'a' THEN (SELECT 'SELECT ' || pg_catalog.string_agg("
        "pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.proname) || "
        "'()', ', ') FROM pg_catalog.pg_aggregate a, pg_catalog.unnest(ARRAY[a.aggtransfn, "
        "a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, "
        "a.aggminvtransfn, a.aggmfinalfn]::pg_catalog.oid[]) AS s (fn_oid) "
        "JOIN pg_catalog.pg_proc f ON f.oid = s.fn_oid "
        "JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace WHERE a.aggfnoid = p.oid) "
        "WHEN l.lanname = 'sql' THEN CASE WHEN " +
        plain_sql_body +
        " THEN p.prosrc ELSE COALESCE(pg_catalog.substring(pg_catalog.pg_get_functiondef(p.oid), "
        "'\\nBEGIN ATOMIC\\n(.*)\\nEND\\s*$'), 'SELECT ' || pg_catalog.substring("
        "pg_catalog.pg_get_functiondef(p.oid), '\\nRETURN (.*)$'), '') END "
        "WHEN l.lanname = 'plpgsql' THEN pg_catalog.pg_get_functiondef(p.oid) "
        "ELSE '' END "
        "FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
        "JOIN pg_catalog.pg_language l ON l.oid = p.prolang");
    std::vector<pgro::policy::FunctionInfo>& functions = loaded.functions;
    functions.reserve(procs.size());
    for (const auto& r : procs) {
      functions.push_back({.schema = r[0].c_str(),
                           .name = r[1].c_str(),
                           .volatility = r[2].c_str()[0],
                           .builtin = r[3].as<bool>(),
                           .language = r[4].c_str(),
                           .body = r[5].is_null() ? std::string() : r[5].c_str()});
    }
    const auto operators = tx.exec(
        "SELECT o.oprname, o.oid < 16384, fn.nspname, f.proname, l.lanname "
        "FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_proc f ON f.oid = o.oprcode "
        "JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace "
        "JOIN pg_catalog.pg_language l ON l.oid = f.prolang");
    loaded.operators.reserve(operators.size());
    for (const auto& r : operators) {
      loaded.operators.push_back({.symbol = r[0].c_str(),
                                  .builtin = r[1].as<bool>(),
                                  .function_schema = r[2].c_str(),
                                  .function_name = r[3].c_str(),
                                  .function_language = r[4].c_str()});
    }
    return loaded;
  } catch (const std::exception& e) {
    error = oneLine(e.what());
    return std::nullopt;
  }
}

// `names` as a PostgreSQL array literal (a text[] parameter): every element quoted, with `"`
// and `\` escaped, so any identifier survives.
std::string textArray(const std::vector<std::string>& names) {
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : names[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

// The catalog's look-up on demand (CatalogRefresher, on its thread): does pg_proc now have any
// of `names`, or has it changed since the installed catalog was read (its fingerprint)? Small
// queries on a connection kept for it; only if so, the whole catalog again (loadCatalog),
// installed for every loop. `fingerprint`: the installed catalog's.
pgro::session::CatalogRefresher::Lookup catalogLookup(std::shared_ptr<const Config> cfg,
                                                      std::string role, std::string fingerprint,
                                                      pgro::session::ProxyContext& context) {
  using Outcome = pgro::session::CatalogRefresher::Outcome;
  auto connection = std::make_shared<std::unique_ptr<pqxx::connection>>();
  return [cfg = std::move(cfg), role = std::move(role), &context, connection,
          installed = std::move(fingerprint)](const std::vector<std::string>& names) mutable {
    // As the classifier reports them: "name", or "schema.name" when the call was qualified
    // (then only that schema's function will do).
    std::vector<std::string> bare;
    std::vector<std::string> qualified;
    for (const std::string& name : names) {
      (name.find('.') == std::string::npos ? bare : qualified).push_back(name);
    }
    long found = 0;
    std::string now;
    try {
      if (!*connection || !(*connection)->is_open()) {
        *connection = std::make_unique<pqxx::connection>(upstreamConninfo(*cfg, role));
      }
      pqxx::nontransaction tx(**connection);
      now = tx.exec1(kCatalogFingerprint)[0].c_str();
      if (!names.empty()) {
        found = tx.exec_params1(
                      "SELECT count(*) FROM pg_catalog.pg_proc p "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE lower(p.proname) = ANY ($1::text[]) "
                      "OR lower(n.nspname) || '.' || lower(p.proname) = ANY ($2::text[])",
                      textArray(bare), textArray(qualified))[0]
                    .as<long>();
      }
    } catch (const std::exception& e) {
      connection->reset();
      spdlog::warn("function catalog look-up failed: {}", oneLine(e.what()));
      return Outcome::Failed;
    }
    if (found == 0 && now == installed) {
      spdlog::debug("function catalog look-up: pg_proc unchanged, none of {} name(s) exists",
                    names.size());
      return Outcome::Unchanged;
    }
    std::string error;
    auto loaded = loadCatalog(*cfg, role, error);
    if (!loaded) {
      spdlog::warn("function catalog refresh failed: could not load pg_proc: {}", error);
      return Outcome::Failed;
    }
    const auto running = context.policy().config;  // ALLOW_PG_SLEEP as last reloaded
    auto catalog = std::make_shared<pgro::policy::FunctionCatalog>(
        loaded->functions, cfg->read_only_functions, loaded->operators, running->allow_pg_sleep);
    auto options = std::make_shared<pgro::policy::ClassifierOptions>();
    options->catalog = catalog.get();
    options->allow_pg_sleep = running->allow_pg_sleep;
    applySettingCeilings(*running, *options);
    options->fingerprint = running->query_stats_top_k > 0;
    context.setCatalog(std::move(catalog), std::move(options));
    installed = std::move(loaded->fingerprint);
    if (found > 0) {
      spdlog::info("function catalog refreshed: {} functions (asked for {}{})",
                   loaded->functions.size(), names.front(), names.size() > 1 ? ", ..." : "");
    } else {
      spdlog::info("function catalog refreshed: {} functions (pg_proc changed since it was read)",
                   loaded->functions.size());
    }
    return Outcome::Refreshed;
  };
}

// pgro's own logins: USERS_FILE, or PROXY_USER + PROXY_PASSWORD (a verifier is made at
// once), or none (AUTH=trust).
std::shared_ptr<const pgro::auth::UserStore> loadUsers(const Config& cfg, std::string& error) {
  try {
    if (!cfg.users_file.empty()) {
      auto store = pgro::auth::UserStore::fromFile(cfg.users_file,
                                                   &pgro::session::GovernorLimits::checkOverride);
      if (!store.ok()) {
        error = "USERS_FILE: " + store.error().message;
        return nullptr;
      }
      return std::make_shared<pgro::auth::UserStore>(std::move(*store));
    }
    if (!cfg.proxy_user.empty()) {
      return std::make_shared<pgro::auth::UserStore>(
          pgro::auth::UserStore::single(cfg.proxy_user, cfg.proxy_password));
    }
    return std::make_shared<pgro::auth::UserStore>();
  } catch (const std::exception& e) {
    error = std::string("logins: ") + e.what();
    return nullptr;
  }
}

pgro::session::ProxyContext::PolicyState makePolicy(
    std::shared_ptr<const pgro::auth::UserStore> users, const LoadedCatalog& loaded,
    std::shared_ptr<const pgro::net::TlsContext> client_tls, std::shared_ptr<const Config> cfg) {
  pgro::session::ProxyContext::PolicyState state;
  state.users = std::move(users);
  state.client_tls = std::move(client_tls);
  state.config = std::move(cfg);
  state.catalog = std::make_shared<pgro::policy::FunctionCatalog>(
      loaded.functions, state.config->read_only_functions, loaded.operators,
      state.config->allow_pg_sleep);
  auto options = std::make_shared<pgro::policy::ClassifierOptions>();
  options->catalog = state.catalog.get();
  options->allow_pg_sleep = state.config->allow_pg_sleep;
  applySettingCeilings(*state.config, *options);
  options->fingerprint = state.config->query_stats_top_k > 0;
  state.options = std::move(options);
  return state;
}

// The wire-protocol connections' settings, with their TLS context made once (nullopt and
// `error` when a certificate file is unusable).
std::optional<pgro::upstream::UpstreamSettings> upstreamSettings(const Config& cfg,
                                                                 std::string& error) {
  using pgro::config::UpstreamSslMode;
  using Tls = pgro::upstream::UpstreamSettings::Tls;
  pgro::upstream::UpstreamSettings s;
  if (cfg.upstream_sslmode != UpstreamSslMode::Disable) {
    s.tls_mode = cfg.upstream_sslmode == UpstreamSslMode::Prefer ? Tls::Prefer : Tls::Require;
    auto verify = pgro::net::Verify::None;
    if (cfg.upstream_sslmode == UpstreamSslMode::VerifyFull) {
      verify = pgro::net::Verify::ChainAndHost;
    } else if (cfg.upstream_sslmode == UpstreamSslMode::VerifyCa ||
               !cfg.upstream_sslrootcert.empty()) {
      verify = pgro::net::Verify::Chain;  // require with a root certificate: as libpq
    }
    s.tls = pgro::net::TlsContext::client(verify, cfg.upstream_sslrootcert, error);
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
bool makeClientTls(const Config& cfg, std::shared_ptr<const pgro::net::TlsContext>& tls,
                   std::string& error) {
  tls = nullptr;
  if (cfg.tls_cert_file.empty() || cfg.client_tls == pgro::config::ClientTls::Disable) return true;
  tls = pgro::net::TlsContext::server(cfg.tls_cert_file, cfg.tls_key_file, error);
  return tls != nullptr;
}

// SIGHUP and the ReloadPolicy RPC: the configuration read again as at startup (flags, the
// environment, .env; only .env can differ in a running process), its reloadable settings
// put in force, and the logins, the client TLS files and the function catalog loaded again.
// All or nothing: a failure is logged and changes nothing. A changed setting that needs a
// restart is logged and keeps its running value. The cache and log level are set only when
// their setting changed, so a value set through the admin API survives an unrelated reload.
pgro::server::ReloadResult reloadConfig(std::mutex& mu, const std::vector<std::string>& args,
                                        const Config& startup, const std::string& role,
                                        pgro::session::ProxyContext& context) {
  std::lock_guard lock(mu);  // SIGHUP and the RPC may arrive together
  // logrotate's postrotate sends SIGHUP: the audit file is opened again whatever else the
  // reload finds.
  if (context.audit) context.audit->reopen();
  auto fail = [](const std::string& why) {
    spdlog::error("reload failed, nothing changed: {}", why);
    return pgro::server::ReloadResult{.ok = false, .message = why};
  };
  const auto running = context.policy().config;
  std::shared_ptr<const Config> cfg;
  std::vector<pgro::config::SettingChange> changes;
  try {
    const auto next = pgro::config::load(args, pgro::config::processEnvironment(),
                                         pgro::config::readDotEnv(".env"));
    changes = pgro::config::diff(*running, *next);
    cfg = pgro::config::withReloadable(*running, *next);
  } catch (const pgro::config::ConfigError& e) {
    return fail(std::string("configuration error: ") + e.what());
  }
  std::string error;
  auto users = loadUsers(*cfg, error);
  if (!users) return fail(error);
  std::shared_ptr<const pgro::net::TlsContext> tls;
  if (!makeClientTls(*cfg, tls, error)) return fail("client TLS: " + error);
  auto functions = loadCatalog(startup, role, error);
  if (!functions) return fail("could not load pg_proc from upstream: " + error);
  // Last of the steps that can fail: a malformed rules file keeps the rules in force.
  if (!context.cache_rules->load(error)) return fail("CACHE_RULES_FILE: " + error);

  // A louder level first, so that the lines below show under it; a quieter one after them.
  const bool louder =
      pgro::config::toSpdlogLevel(cfg->log_level) < pgro::config::toSpdlogLevel(running->log_level);
  if (louder) pgro::config::applyLogLevel(*cfg);
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
  if (!louder && cfg->log_level != running->log_level) pgro::config::applyLogLevel(*cfg);
  const std::size_t user_count = users->size();
  context.setPolicy(makePolicy(std::move(users), *functions, std::move(tls), cfg));
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
    const pgro::upstream::UpstreamSettings& settings) {
  boost::asio::io_context io;
  auto future =
      boost::asio::co_spawn(io, pgro::upstream::ServerConnection::open(io.get_executor(), settings),
                            boost::asio::use_future);
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

int runProxy(const std::vector<std::string>& args) {
  // A SIGHUP before the server takes signals over (ProxyServer) must not end the process.
  std::signal(SIGHUP, SIG_IGN);
  std::shared_ptr<const Config> cfg;
  try {
    cfg = pgro::config::load(args, pgro::config::processEnvironment(),
                             pgro::config::readDotEnv(".env"));
  } catch (const pgro::config::ConfigError& e) {
    std::fprintf(stderr, "pgro: configuration error: %s\n", e.what());
    return 2;
  }
  pgro::config::setupLogging(*cfg);
  spdlog::info("Starting PostgreSQL Read-Only Proxy (pgro {})", PGRO_VERSION);
  spdlog::info("Upstream: {}:{}/{}", cfg->upstream_host, cfg->upstream_port,
               cfg->upstream_database);
  spdlog::info("Listening on: {}:{}", cfg->listen_host, cfg->listen_port);
  spdlog::info("Cache settings: max_entries={}, ttl={}s", cfg->max_cache_entries,
               cfg->cache_ttl_seconds);
  spdlog::info("Connection pool size: {}", cfg->pool_size);

  auto context = std::make_shared<pgro::session::ProxyContext>();
  context->config = cfg;
  pgro::session::LoginThrottle::Settings throttle;
  throttle.max_delay = std::chrono::milliseconds(cfg->auth_failure_max_delay_ms);
  throttle.first_delay = std::min(throttle.first_delay, throttle.max_delay);
  context->guard = std::make_shared<pgro::session::LoginGuard>(
      cfg->max_unauthenticated_per_address, throttle, cfg->client_buffer_budget_bytes);
  // Every refusal reason exists as a series from startup (zero until it happens).
  for (auto kind : {pgro::policy::Refusal::Write, pgro::policy::Refusal::ForbiddenFunction,
                    pgro::policy::Refusal::ForbiddenParameter, pgro::policy::Refusal::SecretRead,
                    pgro::policy::Refusal::ParseError, pgro::policy::Refusal::Unsupported,
                    pgro::policy::Refusal::TooComplex, pgro::policy::Refusal::UnknownFunction,
                    pgro::policy::Refusal::Sleep}) {
    context->counters.refused_by_reason[std::string(pgro::policy::refusalName(kind))] = 0;
  }
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
  auto functions = loadCatalog(*cfg, *role, error);
  if (!functions) {
    spdlog::error("Could not load pg_proc from upstream: {}", error);
    return 1;
  }
  spdlog::info("Loaded {} functions from pg_proc for the function policy",
               functions->functions.size());
  // Unknown function names are looked up at most every 50 ms, and a new catalog is loaded
  // at most every 250 ms; calls of extension and user functions check that pg_proc is
  // unchanged once per CATALOG_CHECK_INTERVAL_MS.
  context->catalog_refresher = std::make_shared<pgro::session::CatalogRefresher>(
      catalogLookup(cfg, *role, functions->fingerprint, *context), std::chrono::milliseconds(50),
      std::chrono::milliseconds(250), std::chrono::milliseconds(cfg->catalog_check_interval_ms));
  auto upstream = upstreamSettings(*cfg, error);
  if (!upstream) {
    spdlog::error("{}", error);
    return 2;
  }
  upstream->role = *role;
  const auto& settings = *upstream;
  std::shared_ptr<const pgro::net::TlsContext> client_tls;
  if (!makeClientTls(*cfg, client_tls, error)) {
    spdlog::error("Client TLS: {}", error);
    return 2;
  }
  if (client_tls) {
    spdlog::info("Client TLS: {} ({})",
                 cfg->client_tls == pgro::config::ClientTls::Require ? "required" : "offered",
                 cfg->tls_cert_file);
  } else {
    spdlog::info("Client TLS: off");
  }
  context->setPolicy(makePolicy(std::move(users), *functions, std::move(client_tls), cfg));
  auto params = learnUpstreamParameters(settings);
  if (!params) return 1;
  context->upstream_parameters = std::move(*params);

  int loops = cfg->worker_threads > 0
                  ? cfg->worker_threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  context->pool = std::make_shared<pgro::upstream::Pool>(
      settings, cfg->pool_size, std::chrono::seconds(cfg->pool_timeout_seconds), loops);
  context->registry = std::make_shared<pgro::session::SessionRegistry>();
  pgro::cache::CacheLimits limits;
  limits.max_entries = cfg->max_cache_entries;
  limits.max_bytes = cfg->max_cache_bytes;
  limits.max_entry_bytes = cfg->max_cache_entry_bytes;
  limits.ttl = std::chrono::seconds(cfg->cache_ttl_seconds);
  limits.stale_if_error = std::chrono::seconds(cfg->cache_stale_if_error_seconds);
  limits.refresh_fraction = cfg->cache_swr_percent / 100.0;
  context->cache = std::make_shared<pgro::cache::ResultCache>(limits, nullptr);
  context->cache->setEnabled(cfg->cache_enabled);
  context->inflight = std::make_shared<pgro::cache::InFlight>();
  context->cache_rules = std::make_shared<pgro::session::CacheRuleStore>(cfg->cache_rules_file);
  if (!context->cache_rules->load(error)) {
    spdlog::error("CACHE_RULES_FILE: {}", error);
    return 2;
  }
  if (!cfg->cache_rules_file.empty()) {
    spdlog::info("Cache rules: {} from {}", context->cache_rules->current()->size(),
                 cfg->cache_rules_file);
  }
  if (!cfg->audit_log.empty() && cfg->audit_log != "off") {
    pgro::audit::Settings audit;
    audit.destination = cfg->audit_log;
    audit.format.max_text_bytes = cfg->audit_max_text_bytes;
    audit.format.parameters = cfg->audit_parameters == pgro::config::AuditParameters::On
                                  ? pgro::audit::ParameterMode::On
                              : cfg->audit_parameters == pgro::config::AuditParameters::Redacted
                                  ? pgro::audit::ParameterMode::Redacted
                                  : pgro::audit::ParameterMode::Off;
    audit.hash_chain = cfg->audit_hash_chain;
    audit.queue_bytes = cfg->audit_queue_bytes;
    try {
      context->audit = std::make_shared<pgro::audit::AuditLog>(std::move(audit));
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    spdlog::info("Audit log: {}{}", cfg->audit_log, cfg->audit_hash_chain ? " (hash chain)" : "");
  }
  if (cfg->query_stats_top_k > 0) {
    context->query_stats = std::make_shared<pgro::audit::QueryStats>(
        cfg->query_stats_top_k, static_cast<std::size_t>(loops));
  }

  pgro::server::ProxyServer server(context);
  try {
    server.bind();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  // The control plane sees the data plane only through AdminTarget.
  pgro::metrics::Registry registry;
  std::mutex reload_mu;
  pgro::server::DataPlaneAdmin admin(context, [&reload_mu, args, cfg, context, role = *role] {
    return reloadConfig(reload_mu, args, *cfg, role, *context);
  });
  server.setReloadHandler([&admin] { (void)admin.reload(); });
  context->metrics = pgro::controlplane::registerDataPlaneMetrics(registry, admin);
  pgro::controlplane::ControlPlane control(admin, registry,
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

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty()) {
    if (args[0] == "passwd") return passwd(args);
    if (args[0] == "audit") return auditCommand(args);
    if (args[0] == "--help" || args[0] == "-h") {
      std::printf("%s", pgro::config::helpText().c_str());
      return 0;
    }
    if (args[0] == "--help-markdown") {
      std::printf("%s", pgro::config::markdownReference().c_str());
      return 0;
    }
    if (args[0] == "--version") {
      std::printf("pgro %s\n", PGRO_VERSION);
      return 0;
    }
  }
  try {
    return runProxy(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgro: fatal: %s\n", e.what());
    return 1;
  }
}
