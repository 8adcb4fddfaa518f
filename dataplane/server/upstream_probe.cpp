// What pgro learns from the upstream through libpq (libpqxx), apart from the wire-protocol
// sessions: the startup check of the account and its role, and the function catalog (pg_proc,
// pg_operator) for the function policy, loaded at startup and again on demand.
#include "server/upstream_probe.hpp"

#include <spdlog/spdlog.h>
#include <pqxx/pqxx>

#include "net/tls.hpp"
#include "upstream/server_connection.hpp"

namespace pgro::server {

using config::Config;

namespace {

std::string conninfoValue(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

// UPSTREAM_SSLMODE and UPSTREAM_SSLROOTCERT as libpq keywords (libpq 15 has no
// sslrootcert=system: the OpenSSL default bundle stands in for it).
std::string upstreamTlsConninfo(const Config& cfg) {
  using config::UpstreamSslMode;
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
    const std::string root =
        cfg.upstream_sslrootcert == "system" ? net::systemRootCertFile() : cfg.upstream_sslrootcert;
    out += " sslrootcert=" + conninfoValue(root);
  }
  return out;
}

// libpq's conninfo for pgro's own catalog connections: the same startup options (read-only,
// and `role` when UPSTREAM_ROLE resolved to one) as the wire-protocol sessions.
std::string upstreamConninfo(const Config& cfg, const std::string& role) {
  upstream::UpstreamSettings options;
  options.role = role;
  return "host=" + conninfoValue(cfg.upstream_host) + " port=" + std::to_string(cfg.upstream_port) +
         " user=" + conninfoValue(cfg.upstream_user) +
         " password=" + conninfoValue(cfg.upstream_password) +
         " dbname=" + conninfoValue(cfg.upstream_database) +
         " connect_timeout=" + std::to_string(cfg.upstream_connect_timeout_seconds) +
         " application_name=pgro options=" + conninfoValue(upstream::startupOptions(options)) +
         upstreamTlsConninfo(cfg);
}

std::string oneLine(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  for (auto& c : msg) {
    if (c == '\n') c = ' ';
  }
  return msg;
}

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

}  // namespace

// Through libpqxx, as the account itself (no role yet): one
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
    std::vector<policy::FunctionInfo>& functions = loaded.functions;
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

// The catalog's look-up on demand (CatalogRefresher, on its thread): does pg_proc now have any
// of `names`, or has it changed since the installed catalog was read (its fingerprint)? Small
// queries on a connection kept for it; only if so, the whole catalog again (loadCatalog),
// installed for every loop. `fingerprint`: the installed catalog's.
session::CatalogRefresher::Lookup catalogLookup(std::shared_ptr<const Config> cfg, std::string role,
                                                std::string fingerprint, InstallCatalog install) {
  using Outcome = session::CatalogRefresher::Outcome;
  auto connection = std::make_shared<std::unique_ptr<pqxx::connection>>();
  return [cfg = std::move(cfg), role = std::move(role), install = std::move(install), connection,
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
    install(*loaded);
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

}  // namespace pgro::server
