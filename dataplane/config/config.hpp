// pgro configuration: one immutable struct, parsed once at startup (and on SIGHUP for the
// reloadable entries) and passed around as std::shared_ptr<const Config>.
// The schema (name, default, help, reloadable, secret) lives in one table in schema.cpp;
// `pgro --help` and README's reference table are generated from that table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgro::config {

enum class PoolMode { Transaction, Session };
enum class LogFormat { Text, Json };
enum class AuthMethod { ScramSha256, Trust };
enum class ClientTls { Disable, Allow, Require };
// libpq's sslmode values, for pgro's own connections to the upstream.
enum class UpstreamSslMode { Disable, Prefer, Require, VerifyCa, VerifyFull };
enum class AuditParameters { Off, On, Redacted };
enum class CacheAdmission { Frequency, Cost };

struct Config {
  // Upstream PostgreSQL (the seed's variables keep their names and defaults).
  std::string upstream_host;
  uint16_t upstream_port = 5432;
  std::string upstream_user;
  std::string upstream_password;  // secret
  std::string upstream_database;
  int upstream_connect_timeout_seconds = 10;
  UpstreamSslMode upstream_sslmode = UpstreamSslMode::Prefer;
  std::string upstream_sslrootcert;  // CA bundle for verify-ca/verify-full; "system" = OS store
  // Role every upstream session runs as (startup `-c role=`): "auto" (pg_read_all_data when
  // the account may use it), "none" (the account's own privileges) or a role name.
  std::string upstream_role = "auto";
  // Extension and user functions the operator vouches for as read-only (READ_ONLY_FUNCTIONS):
  // lowercase names, optionally schema-qualified ("myschema.f").
  std::vector<std::string> read_only_functions;
  // CATALOG_CHECK_INTERVAL_MS: how long a pg_proc snapshot is trusted for calls of extension
  // and user functions before it is checked again (0 = before every such statement).
  int catalog_check_interval_ms = 1000;

  // Query governor: what one login may take from production.
  bool allow_pg_sleep = false;    // pg_sleep, pg_sleep_for, pg_sleep_until
  int query_timeout_seconds = 0;  // pgro cancels a statement running longer; 0 = no limit
  int idle_transaction_timeout_seconds = 0;  // a client holding a server connection idle
  int max_user_connections = 0;              // client connections of one login; 0 = no limit
  int max_user_active_queries = 0;  // pool connections one login holds at once; 0 = no limit
  int64_t max_result_rows = 0;      // rows of one result; 0 = no limit
  int64_t max_result_bytes = 0;     // bytes of one result's rows; 0 = no limit
  // Ceilings on what a client may SET (or pass at startup) for work_mem-class settings;
  // 0 = no ceiling.
  int64_t max_work_mem_kb = 64 * 1024;
  int64_t max_maintenance_work_mem_kb = 256 * 1024;
  double max_hash_mem_multiplier = 2.0;

  // Client-facing listener.
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 5433;
  int max_client_connections = 1000;
  uint32_t max_message_bytes = 16u << 20;    // largest client message accepted
  int client_idle_timeout_seconds = 0;       // 0 = never
  int auth_timeout_seconds = 15;             // connect to ReadyForQuery, TLS handshake included
  int max_unauthenticated_per_address = 64;  // 0 = no limit
  int auth_failure_max_delay_ms = 4000;      // cap of the failed-login throttle; 0 = off
  std::string tls_cert_file;                 // client-facing TLS certificate chain (PEM)
  std::string tls_key_file;
  ClientTls client_tls = ClientTls::Allow;  // allow: TLS offered when a certificate is set
  int max_prepared_statements = 1000;       // named statements per client and per server conn
  // Partly received client messages, all sessions together; 0 = unlimited.
  std::size_t client_buffer_budget_bytes = std::size_t{256} << 20;

  // Client authentication against pgro's own users (never the upstream account).
  std::string proxy_user;
  std::string proxy_password;  // secret; turned into a SCRAM verifier at startup
  std::string users_file;      // lines of `user:SCRAM-SHA-256$...`
  AuthMethod auth = AuthMethod::ScramSha256;

  // Result cache.
  bool cache_enabled = true;
  int cache_ttl_seconds = 900;
  int cache_stale_if_error_seconds = 0;  // opt-in: README explains why
  int cache_swr_percent = 0;
  int cache_refresh_concurrency = 1;
  CacheAdmission cache_admission = CacheAdmission::Cost;
  int cache_min_cost_ms = 0;     // fills that took less upstream time are not cached; 0 = off
  std::string cache_rules_file;  // cache rules by statement shape; "" = in memory only
  std::size_t max_cache_entries = 10000;
  std::size_t max_cache_bytes = std::size_t{256} << 20;
  std::size_t max_cache_entry_bytes = std::size_t{1} << 20;
  // Fleet cache on Redis/Valkey (redis://[[user]:password@]host[:port][/db]); "" = off.
  std::string cache_l2_url;  // secret: may hold the password
  int cache_l2_timeout_ms = 30;
  std::size_t cache_l2_max_entry_bytes = std::size_t{256} << 10;
  int cache_l2_lease_ms = 2000;

  // Upstream pool.
  int pool_size = 5;
  PoolMode pool_mode = PoolMode::Transaction;
  int pool_timeout_seconds = 30;

  // Runtime.
  int worker_threads = 0;  // 0 = number of cores
  // Statement texts and their policy verdicts kept per event loop (VerdictCache).
  std::size_t verdict_cache_bytes = std::size_t{8} << 20;
  int shutdown_timeout_seconds = 30;
  std::string log_level = "info";  // LOG_LEVEL, RUST_LOG accepted as an alias
  LogFormat log_format = LogFormat::Text;

  // Control plane.
  std::string admin_listen = "127.0.0.1:50051";
  std::string admin_token;  // secret
  std::string admin_tls_cert_file;
  std::string admin_tls_key_file;
  std::string metrics_listen = "0.0.0.0:9433";

  // Audit log: one JSON line per statement.
  std::string audit_log = "off";  // off, stdout or a file path
  std::size_t audit_max_text_bytes = 4096;
  AuditParameters audit_parameters = AuditParameters::Off;
  bool audit_hash_chain = false;
  std::size_t audit_queue_bytes = std::size_t{16} << 20;

  // Query-shape statistics: the K most frequent statement shapes; 0 = off.
  std::size_t query_stats_top_k = 500;
};

// Startup-only error: what() is one line that names the variable at fault.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Environment = std::map<std::string, std::string>;

// The process environment as a map.
Environment processEnvironment();

// Parses a .env file (KEY=VALUE, optional `export `, '#' comments, single or double quotes).
// A missing file yields an empty map; an unreadable or malformed one throws ConfigError.
Environment readDotEnv(const std::string& path);

// Precedence: command-line flags > environment > .env > defaults.
// Flags are `--name=value` or `--name value`, the variable name lowercased with '-' for '_'
// (e.g. --listen-port=6432). Throws ConfigError on a missing required value, an unparsable
// number, an unknown flag or an invalid combination.
std::shared_ptr<const Config> load(const std::vector<std::string>& args, const Environment& env,
                                   const Environment& dotenv);

// `pgro --help`: every setting with its default and meaning, from the schema table.
std::string helpText();

// README's configuration reference table (Markdown), from the same schema table.
std::string markdownReference();

// name=value lines with secrets redacted ("***"), for logs and the admin API.
std::vector<std::pair<std::string, std::string>> describe(const Config& config);

// ---- Additions beyond the original contract (all read the same schema table). ----

// One row of the schema table, for callers that list settings (tests, tooling).
struct SettingInfo {
  std::string name;          // environment variable, e.g. "LISTEN_PORT"
  std::string flag;          // command-line flag, e.g. "--listen-port"
  std::string alias;         // accepted alternative name ("RUST_LOG" for LOG_LEVEL), or empty
  std::string group;         // section heading in --help and README
  std::string type;          // human description of the accepted values
  std::string default_text;  // default as text (empty when required or empty by default)
  std::string help;
  bool required = false;
  bool reloadable = false;  // picked up on SIGHUP without a restart
  bool secret = false;      // never logged; "***" in describe()
};
const std::vector<SettingInfo>& settings();

// One setting whose value differs between the running configuration and a freshly loaded
// one, with both values as describe() shows them (a secret is "***", or "" when unset).
struct SettingChange {
  std::string name;
  std::string from;
  std::string to;
  bool reloadable = false;  // false: a reload keeps the running value (needs a restart)
};

// Every setting whose value differs between `running` and `next`, in schema order. Secrets are
// compared but never shown.
std::vector<SettingChange> diff(const Config& running, const Config& next);

// What a reload puts in force: `running` with every reloadable setting taken from `next`,
// checked as a whole as load() checks a configuration. Throws ConfigError.
std::shared_ptr<const Config> withReloadable(const Config& running, const Config& next);

// `host:port` as used by ADMIN_LISTEN and METRICS_LISTEN; IPv6 in brackets ("[::1]:9433").
// The host comes back without brackets. Throws ConfigError naming `name`.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
HostPort parseHostPort(const std::string& value, const std::string& name);

// True for "localhost", 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (the addresses where AUTH=trust
// and a token-less admin API are allowed).
bool isLoopbackHost(const std::string& host);

}  // namespace pgro::config
