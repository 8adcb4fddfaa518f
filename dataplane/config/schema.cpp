// The configuration schema table. Add a setting here (and its field in config.hpp); --help,
// README's reference (pgro --help-markdown), describe() and load() pick it up.
#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "config/value_parsers.hpp"
#include "protocol/setting_values.hpp"

namespace pgro::config::detail {
namespace {

// ---- Bindings -------------------------------------------------------------------------------

Binding text(std::string Config::*member, std::string type = "string") {
  return {std::move(type), [member](Config& c, const std::string& v) { c.*member = v; },
          [member](const Config& c) { return c.*member; }};
}

// A host name or address with no port (LISTEN_HOST, UPSTREAM_HOST).
Binding host(std::string Config::*member) {
  return {"host",
          [member](Config& c, const std::string& v) {
            for (unsigned char ch : v) {
              if (std::isspace(ch) || ch == '/' || ch == '@') {
                throw ValueError("expected a host name or IP address, got \"" + v + "\"");
              }
            }
            c.*member = v;
          },
          [member](const Config& c) { return c.*member; }};
}

template <class T>
Binding number(T Config::*member, T min, T max, const std::string& type = "integer") {
  return {type + " " + detail::rangeText(min, max),
          [member, min, max](Config& c, const std::string& v) {
            c.*member = detail::parseNumber<T>(v, min, max);
          },
          [member](const Config& c) { return std::to_string(c.*member); }};
}

// A memory size as PostgreSQL reads work_mem ("64MB", "1GB", "65536" = kB), kept in kB.
Binding memoryKb(int64_t Config::*member) {
  return {"memory size (PostgreSQL units: kB, MB, GB, TB; no unit = kB; 0 = no ceiling)",
          [member](Config& c, const std::string& v) {
            const auto kb = protocol::parseMemoryKb(v);
            if (!kb || *kb < 0 || *kb > 1e15) {
              throw ValueError("expected a memory size such as 64MB or 1GB, got \"" + v + "\"");
            }
            c.*member = static_cast<int64_t>(*kb);
          },
          [member](const Config& c) {
            const int64_t kb = c.*member;
            if (kb != 0 && kb % (1024 * 1024) == 0) return std::to_string(kb / 1024 / 1024) + "GB";
            if (kb != 0 && kb % 1024 == 0) return std::to_string(kb / 1024) + "MB";
            return std::to_string(kb) + (kb != 0 ? "kB" : "");
          }};
}

Binding real(double Config::*member, double max) {
  return {"number in 0.." + std::to_string(static_cast<int>(max)),
          [member, max](Config& c, const std::string& v) {
            const auto value = protocol::parseRealSetting(v);
            if (!value || *value < 0 || *value > max) {
              throw ValueError("expected a number in 0.." + std::to_string(static_cast<int>(max)) +
                               ", got \"" + v + "\"");
            }
            c.*member = *value;
          },
          [member](const Config& c) {
            std::string out = std::to_string(c.*member);
            while (out.size() > 1 && out.back() == '0') out.pop_back();
            if (!out.empty() && out.back() == '.') out.pop_back();
            return out;
          }};
}

Binding boolean(bool Config::*member) {
  return {"boolean",
          [member](Config& c, const std::string& v) { c.*member = detail::parseBool(v); },
          [member](const Config& c) { return std::string(c.*member ? "true" : "false"); }};
}

template <class E>
Binding choice(E Config::*member, std::vector<std::pair<std::string, E>> words) {
  std::string type;
  for (const auto& [word, value] : words) {
    type += (type.empty() ? "" : ", ") + word;
  }
  return {"one of: " + type,
          [member, words, type](Config& c, const std::string& v) {
            const std::string w = detail::lower(v);
            for (const auto& [word, value] : words) {
              if (w == word) {
                c.*member = value;
                return;
              }
            }
            throw ValueError("expected one of " + type + ", got \"" + v + "\"");
          },
          [member, words](const Config& c) {
            for (const auto& [word, value] : words) {
              if (c.*member == value) {
                return word;
              }
            }
            return std::string("?");
          }};
}

Binding address(std::string Config::*member) {
  return {"host:port",
          [member](Config& c, const std::string& v) {
            try {
              parseHostPort(v, "value");
            } catch (const ConfigError& e) {
              // Strip our placeholder name; load() puts the real one in front.
              throw ValueError(std::string(e.what()).substr(std::string_view("value: ").size()));
            }
            c.*member = v;
          },
          [member](const Config& c) { return c.*member; }};
}

// UPSTREAM_ROLE: the keywords auto and none (any case), or a role name as PostgreSQL spells
// it (case kept: role names are case-sensitive).
Binding upstreamRole() {
  return {"auto, none or a role name",
          [](Config& c, const std::string& v) {
            const std::string w = detail::lower(v);
            if (w == "auto" || w == "none") {
              c.upstream_role = w;
              return;
            }
            // NAMEDATALEN - 1: PostgreSQL would silently truncate a longer name.
            if (v.size() > 63) {
              throw ValueError("a role name has at most 63 bytes, got " + std::to_string(v.size()));
            }
            for (unsigned char ch : v) {
              if (ch < 0x20 || ch == 0x7f) {
                throw ValueError("a role name cannot contain control characters");
              }
            }
            c.upstream_role = v;
          },
          [](const Config& c) { return c.upstream_role; }};
}

// READ_ONLY_FUNCTIONS: `f, s.g` -> {"f", "s.g"}, lowercased (pg_proc names are compared
// lowercased). Empty items are skipped; a name with spaces or two dots is an error.
Binding functionNames(std::vector<std::string> Config::*member) {
  return {"comma-separated function names ([schema.]name)",
          [member](Config& c, const std::string& v) {
            std::vector<std::string> names;
            std::size_t start = 0;
            while (start <= v.size()) {
              std::size_t end = v.find(',', start);
              if (end == std::string::npos) end = v.size();
              std::string item = v.substr(start, end - start);
              const auto first = item.find_first_not_of(" \t");
              const auto last = item.find_last_not_of(" \t");
              item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
              if (!item.empty()) {
                if (item.find_first_of(" \t\"") != std::string::npos ||
                    std::count(item.begin(), item.end(), '.') > 1 || item.front() == '.' ||
                    item.back() == '.') {
                  throw ValueError("expected [schema.]name, got \"" + item + "\"");
                }
                names.push_back(detail::lower(item));
              }
              start = end + 1;
            }
            c.*member = std::move(names);
          },
          [member](const Config& c) {
            std::string out;
            for (const std::string& name : c.*member) {
              out += (out.empty() ? "" : ",") + name;
            }
            return out;
          }};
}

Binding logLevel() {
  return {"level: trace, debug, info, warn, error or off",
          [](Config& c, const std::string& v) { c.log_level = detail::normalizeLogLevel(v); },
          [](const Config& c) { return c.log_level; }};
}

constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr std::size_t kSizeMax = std::numeric_limits<std::size_t>::max();

// ---- The table ------------------------------------------------------------------------------

constexpr std::string_view kUpstream = "Upstream PostgreSQL";
constexpr std::string_view kListener = "Client listener";
constexpr std::string_view kClientAuth = "Client logins";
constexpr std::string_view kCache = "Result cache";
constexpr std::string_view kPool = "Upstream pool";
constexpr std::string_view kRuntime = "Process and logging";
constexpr std::string_view kControl = "Admin API and metrics";
constexpr std::string_view kGovernor = "Query governor";
constexpr std::string_view kAudit = "Audit log";
constexpr std::string_view kStats = "Query statistics";

}  // namespace

const std::vector<Setting>& schema() {
  static const std::vector<Setting> rows = {
      // Upstream PostgreSQL.
      {"UPSTREAM_HOST", kUpstream, kRequired, host(&Config::upstream_host),
       "Host name or IP address of the PostgreSQL server pgro reads from."},
      {"UPSTREAM_PORT", kUpstream, kNone,
       number<uint16_t>(&Config::upstream_port, 1, 65535, "port"),
       "TCP port of the upstream server."},
      {"UPSTREAM_USER", kUpstream, kRequired, text(&Config::upstream_user),
       "The upstream account pgro connects as. Clients never see it or its password."},
      {"UPSTREAM_PASSWORD", kUpstream, kSecret, text(&Config::upstream_password),
       "Password of UPSTREAM_USER; may be empty if the server does not ask for one."},
      {"UPSTREAM_DATABASE", kUpstream, kRequired, text(&Config::upstream_database),
       "Database pgro connects to upstream; the only database name clients may ask for."},
      {"UPSTREAM_CONNECT_TIMEOUT_SECONDS", kUpstream, kNone,
       number(&Config::upstream_connect_timeout_seconds, 1, 3600, "seconds"),
       "Time allowed to open and authenticate one upstream connection."},
      {"UPSTREAM_SSLMODE", kUpstream, kNone,
       choice(&Config::upstream_sslmode,
              std::vector<std::pair<std::string, UpstreamSslMode>>{
                  {"disable", UpstreamSslMode::Disable},
                  {"prefer", UpstreamSslMode::Prefer},
                  {"require", UpstreamSslMode::Require},
                  {"verify-ca", UpstreamSslMode::VerifyCa},
                  {"verify-full", UpstreamSslMode::VerifyFull}}),
       "TLS to the upstream, as libpq's sslmode: prefer uses TLS when the server offers it; "
       "require insists on it; verify-ca also checks the certificate against "
       "UPSTREAM_SSLROOTCERT; verify-full also checks that it names UPSTREAM_HOST."},
      {"UPSTREAM_SSLROOTCERT", kUpstream, kNone, text(&Config::upstream_sslrootcert, "path"),
       "PEM file of CA certificates trusted for the upstream's certificate (`system` = the "
       "operating system's store). Required by verify-ca and verify-full; with require it "
       "makes pgro verify the chain, as libpq does."},
      {"UPSTREAM_ROLE", kUpstream, kNone, upstreamRole(),
       "Role every upstream session runs as (startup option `-c role=`), so PostgreSQL itself "
       "refuses writes, superuser-only functions and settings, and other users' query texts. "
       "auto: pg_read_all_data when the server is PostgreSQL 14+ and UPSTREAM_USER may use it, "
       "else a startup warning and the account's own privileges; a role name: that role, or "
       "no start if the account may not use it; none: the account's own privileges."},
      {"READ_ONLY_FUNCTIONS", kUpstream, kNone, functionNames(&Config::read_only_functions),
       "Extension and user functions you vouch for as read-only (`f` in any schema, or "
       "`schema.f`). pgro judges other such functions itself: LANGUAGE sql and plpgsql by "
       "their bodies, other languages only from its reviewed list of read-only extension "
       "functions; the rest are refused. Built-in functions keep pgro's own table."},
      {"CATALOG_CHECK_INTERVAL_MS", kUpstream, kNone,
       number(&Config::catalog_check_interval_ms, 0, 3600000, "milliseconds"),
       "How long pgro trusts its judgement of extension and user functions before a statement "
       "that calls one first checks that pg_proc is unchanged (one small query, shared by "
       "every session; a function replaced or overloaded since is judged again). 0 = check "
       "before every such statement."},

      // Client listener.
      {"LISTEN_HOST", kListener, kNone, host(&Config::listen_host),
       "Address clients connect to; 0.0.0.0 = every IPv4 interface, :: = every IPv6 one."},
      {"LISTEN_PORT", kListener, kNone, number<uint16_t>(&Config::listen_port, 0, 65535, "port"),
       "Port clients connect to; 0 picks a free port (used by tests)."},
      {"MAX_CLIENT_CONNECTIONS", kListener, kNone,
       number(&Config::max_client_connections, 1, 1000000),
       "Client connections open at once; further ones are refused."},
      {"MAX_MESSAGE_BYTES", kListener, kNone,
       number<uint32_t>(&Config::max_message_bytes, 1024, 1u << 30, "bytes"),
       "Largest protocol message a client may send; a larger one ends the connection."},
      {"AUTH_TIMEOUT_SECONDS", kListener, kNone,
       number(&Config::auth_timeout_seconds, 1, 3600, "seconds"),
       "A client that has not logged in this long after connecting (TLS handshake included) "
       "is disconnected (PostgreSQL's authentication_timeout, 60 s there)."},
      {"MAX_UNAUTHENTICATED_PER_ADDRESS", kListener, kNone,
       number(&Config::max_unauthenticated_per_address, 0, 1000000),
       "Connections from one client IP address that have not logged in yet; further ones are "
       "refused at once (53300), so half-open connections from one host cannot take every "
       "client slot. 0 = no limit."},
      {"AUTH_FAILURE_MAX_DELAY_MS", kListener, kNone,
       number(&Config::auth_failure_max_delay_ms, 0, 60000, "milliseconds"),
       "After 5 failed logins from one address (an IPv6 /64), each further login answer to it "
       "waits 250 ms, doubling up to this; one failure is forgotten per 10 s. 0 = no delay. "
       "Behind a load balancer every client shares its address: keep that in mind."},
      {"CLIENT_BUFFER_BUDGET_BYTES", kListener, kNone,
       number<std::size_t>(&Config::client_buffer_budget_bytes, 0, kSizeMax, "bytes"),
       "Bytes of partly received client messages all sessions may buffer together; a client "
       "whose message would go over it is refused (53200) and disconnected. 0 = unlimited."},
      {"TLS_CERT_FILE", kListener, kReloadable, text(&Config::tls_cert_file, "path"),
       "PEM certificate chain clients see; with TLS_KEY_FILE, pgro accepts TLS connections "
       "(sslmode=require, verify-full). A reload reads both files again, so new connections get a "
       "renewed certificate."},
      {"TLS_KEY_FILE", kListener, kReloadable, text(&Config::tls_key_file, "path"),
       "PEM private key of TLS_CERT_FILE."},
      {"CLIENT_TLS", kListener, kNone,
       choice(&Config::client_tls,
              std::vector<std::pair<std::string, ClientTls>>{{"disable", ClientTls::Disable},
                                                             {"allow", ClientTls::Allow},
                                                             {"require", ClientTls::Require}}),
       "disable: refuse TLS; allow: TLS when the client asks and a certificate is set; "
       "require: refuse clients that do not use TLS (needs TLS_CERT_FILE)."},
      {"MAX_PREPARED_STATEMENTS", kListener, kNone,
       number(&Config::max_prepared_statements, 1, 1000000),
       "Named prepared statements one client may hold (one more is an error until it closes "
       "some), and statements pgro keeps prepared on one upstream connection (the least "
       "recently used is closed first)."},

      // Client logins: pgro's own, never the upstream account.
      {"PROXY_USER", kClientAuth, kReloadable, text(&Config::proxy_user),
       "User name of a single read-only login, with PROXY_PASSWORD."},
      {"PROXY_PASSWORD", kClientAuth, kReloadable | kSecret, text(&Config::proxy_password),
       "Password of PROXY_USER, kept only as a SCRAM-SHA-256 verifier. Must differ from "
       "UPSTREAM_PASSWORD."},
      {"USERS_FILE", kClientAuth, kReloadable, text(&Config::users_file, "path"),
       "File of `user:SCRAM-SHA-256$...` lines (from `pgro passwd USER` or pg_authid), one "
       "login each, optionally followed by that login's query governor limits as "
       "`name=value` fields (`query_timeout_seconds=60 max_user_connections=5`)."},
      {"AUTH", kClientAuth, kNone,
       choice(&Config::auth,
              std::vector<std::pair<std::string, AuthMethod>>{
                  {"scram-sha-256", AuthMethod::ScramSha256}, {"trust", AuthMethod::Trust}}),
       "How clients log in. trust accepts any user without a password and is allowed only on a "
       "loopback LISTEN_HOST."},

      // Result cache.
      {"CACHE_ENABLED", kCache, kReloadable, boolean(&Config::cache_enabled),
       "Serve repeated reads from the result cache."},
      {"CACHE_TTL_SECONDS", kCache, kReloadable,
       number(&Config::cache_ttl_seconds, 1, kIntMax, "seconds"),
       "How long a cached result is served before upstream is asked again."},
      {"CACHE_STALE_IF_ERROR_SECONDS", kCache, kReloadable,
       number(&Config::cache_stale_if_error_seconds, 0, kIntMax, "seconds"),
       "How long past its TTL a cached result is kept to answer its query, with a NOTICE "
       "giving its age, when upstream cannot (down, restarting, too many connections, pool "
       "wait timeout); 0 = never serve expired results."},
      {"CACHE_SWR_PERCENT", kCache, kReloadable,
       number(&Config::cache_swr_percent, 0, 99, "percent"),
       "Stale-while-revalidate: once a cached result is this old (percent of its TTL), the "
       "first hit sends its query upstream once more in the background, with the settings of "
       "the cache key, while hits are still served the old result until the new one replaces "
       "it; 0 = off."},
      {"CACHE_REFRESH_CONCURRENCY", kCache, kNone,
       number(&Config::cache_refresh_concurrency, 1, 10000),
       "Most background refreshes (CACHE_SWR_PERCENT) running at once; each holds one upstream "
       "connection, so this is the share of POOL_SIZE refreshes may take (at most POOL_SIZE - 1 "
       "is used when POOL_SIZE > 1)."},
      {"CACHE_ADMISSION", kCache, kReloadable,
       choice(&Config::cache_admission,
              std::vector<std::pair<std::string, CacheAdmission>>{
                  {"cost", CacheAdmission::Cost}, {"frequency", CacheAdmission::Frequency}}),
       "What decides, when the cache is full, whether a new result displaces cached ones. cost: "
       "the upstream time each saves (how often it is asked x how long upstream took to "
       "answer it), so a costly aggregate outranks a point lookup asked more often; the victims "
       "are the least valuable of the oldest few. frequency: how often each is asked "
       "(TinyLFU), the victims in least-recently-used order."},
      {"CACHE_MIN_COST_MS", kCache, kReloadable,
       number(&Config::cache_min_cost_ms, 0, 3600000, "milliseconds"),
       "Results whose upstream time (query sent to ReadyForQuery) was below this are not "
       "cached, so cheap point lookups never take room from costly results; 0 = off."},
      {"CACHE_RULES_FILE", kCache, kNone, text(&Config::cache_rules_file, "path"),
       "File of the cache rules by statement shape (TTL, SWR percent, stale-if-error seconds "
       "or no-cache per libpg_query fingerprint), set with `pgro-admin cache rule add|remove`: "
       "rewritten atomically on every change, read at startup (a missing file is no rules) and "
       "on SIGHUP. Empty: rules are kept in memory only."},
      {"MAX_CACHE_ENTRIES", kCache, kNone,
       number<std::size_t>(&Config::max_cache_entries, 0, kSizeMax),
       "Most results kept in the cache."},
      {"MAX_CACHE_BYTES", kCache, kNone,
       number<std::size_t>(&Config::max_cache_bytes, 0, kSizeMax, "bytes"),
       "Most bytes of results kept in the cache."},
      {"MAX_CACHE_ENTRY_BYTES", kCache, kNone,
       number<std::size_t>(&Config::max_cache_entry_bytes, 0, kSizeMax, "bytes"),
       "Results larger than this are streamed through, not cached."},
      {"CACHE_L2_URL", kCache, kSecret, text(&Config::cache_l2_url, "url"),
       "Fleet cache: redis://[[user]:password@]host[:port][/db] of a Redis or Valkey that "
       "every pgro replica shares as a second-level cache. A local miss asks it before "
       "upstream, a fill is written to it with the same TTL, a cache reset clears it for the "
       "whole fleet (a key-space generation), and replicas missing the same key run it "
       "upstream once (CACHE_L2_LEASE_MS). When it is down or slow pgro goes on with its own "
       "cache. Empty: off."},
      {"CACHE_L2_TIMEOUT_MS", kCache, kNone,
       number(&Config::cache_l2_timeout_ms, 1, 1000, "milliseconds"),
       "Longest wait for the fleet cache on a lookup; past it the query goes upstream."},
      {"CACHE_L2_MAX_ENTRY_BYTES", kCache, kNone,
       number<std::size_t>(&Config::cache_l2_max_entry_bytes, 0, kSizeMax, "bytes"),
       "Results larger than this stay in the local cache only."},
      {"CACHE_L2_LEASE_MS", kCache, kNone,
       number(&Config::cache_l2_lease_ms, 0, 60000, "milliseconds"),
       "Cross-replica coalescing: the replica that misses first holds a lease this long while "
       "it runs the query; the others wait for its result up to this long, then run the query "
       "themselves. 0: no lease, every replica that misses runs the query."},

      // Upstream pool.
      {"POOL_SIZE", kPool, kNone, number(&Config::pool_size, 1, 10000),
       "Most upstream connections open at once."},
      {"POOL_MODE", kPool, kNone,
       choice(&Config::pool_mode,
              std::vector<std::pair<std::string, PoolMode>>{{"transaction", PoolMode::Transaction},
                                                            {"session", PoolMode::Session}}),
       "transaction: a client holds an upstream connection for one transaction; session: for "
       "its whole connection."},
      {"POOL_TIMEOUT_SECONDS", kPool, kNone,
       number(&Config::pool_timeout_seconds, 1, 3600, "seconds"),
       "How long a client waits for a free upstream connection before it gets an error."},

      // Query governor: limits a reader cannot lift.
      {"ALLOW_PG_SLEEP", kGovernor, kReloadable, boolean(&Config::allow_pg_sleep),
       "Allow pg_sleep, pg_sleep_for and pg_sleep_until (any schema or spelling, also inside "
       "functions). Off by default: a sleeping statement holds a pooled server connection and "
       "does nothing, so a few clients could take the whole pool; refused with 42501."},
      {"QUERY_TIMEOUT_SECONDS", kGovernor, kReloadable,
       number(&Config::query_timeout_seconds, 0, 2147483, "seconds"),
       "Longest a statement may run: pgro then sends a CancelRequest to its backend and the "
       "client gets 57014 naming this limit. Enforced by pgro, so `SET statement_timeout` or a "
       "startup `-c statement_timeout` cannot raise it (they can still lower it). 0 = no "
       "limit."},
      {"IDLE_TRANSACTION_TIMEOUT_SECONDS", kGovernor, kReloadable,
       number(&Config::idle_transaction_timeout_seconds, 0, kIntMax, "seconds"),
       "A client that holds a server connection (inside a transaction block, or after an "
       "extended-protocol Flush without Sync) and sends nothing this long is disconnected "
       "with FATAL 25P03; its server connection is closed, so the transaction is rolled back "
       "and the pool slot freed for the clients waiting. 0 = no limit."},
      {"CLIENT_IDLE_TIMEOUT_SECONDS", kGovernor, kReloadable,
       number(&Config::client_idle_timeout_seconds, 0, kIntMax, "seconds"),
       "A client that holds no transaction and sends nothing this long is disconnected with "
       "FATAL 57P05 (PostgreSQL's idle_session_timeout). 0 = never."},
      {"MAX_USER_CONNECTIONS", kGovernor, kReloadable,
       number(&Config::max_user_connections, 0, 1000000),
       "Client connections one login may have open at once; one more is refused at login with "
       "53300. 0 = no limit."},
      {"MAX_USER_ACTIVE_QUERIES", kGovernor, kReloadable,
       number(&Config::max_user_active_queries, 0, 10000),
       "Upstream connections one login may hold at once (a transaction or statement each, in "
       "transaction pooling): its further clients wait for one of its own, up to "
       "POOL_TIMEOUT_SECONDS, so one login cannot take the whole pool from the others. 0 = no "
       "limit."},
      {"MAX_RESULT_ROWS", kGovernor, kReloadable,
       number<int64_t>(&Config::max_result_rows, 0, std::numeric_limits<int64_t>::max()),
       "Most rows one result may send to the client (each statement of a Query, each Execute, "
       "each FETCH; COPY TO STDOUT rows count too). Past it the rows stop, pgro cancels the "
       "statement upstream and the client gets 54000 naming the limit; the server connection "
       "goes back to the pool clean, and the result is not cached (a cached one past the "
       "login's limit is refused the same way). 0 = no limit."},
      {"MAX_RESULT_BYTES", kGovernor, kReloadable,
       number<int64_t>(&Config::max_result_bytes, 0, std::numeric_limits<int64_t>::max(), "bytes"),
       "Most bytes of rows (DataRow messages as sent) one result may send to the client; "
       "enforced as MAX_RESULT_ROWS. 0 = no limit. The governor's settings except "
       "ALLOW_PG_SLEEP can be set per login in USERS_FILE as trailing `name=value` fields, "
       "names lowercase (`max_user_active_queries=2 max_result_rows=10000`)."},
      {"MAX_WORK_MEM", kGovernor, kReloadable, memoryKb(&Config::max_work_mem_kb),
       "Highest work_mem a client may set (SET, set_config(), a startup parameter or `options=-c "
       "work_mem=...`); above it, or a value pgro cannot read, is refused with 42501. Each sort "
       "or hash step of a query may use this much (hash steps hash_mem_multiplier times more), "
       "per parallel worker, on every pooled connection: 64MB keeps one reader's worst case "
       "to a few GB with the default pool. RESET returns to the server's own value. 0 = no "
       "ceiling."},
      {"MAX_MAINTENANCE_WORK_MEM", kGovernor, kReloadable,
       memoryKb(&Config::max_maintenance_work_mem_kb),
       "Highest maintenance_work_mem a client may set, as MAX_WORK_MEM. 0 = no ceiling."},
      {"MAX_HASH_MEM_MULTIPLIER", kGovernor, kReloadable,
       real(&Config::max_hash_mem_multiplier, 1000),
       "Highest hash_mem_multiplier a client may set (PostgreSQL 15's default is 2), as "
       "MAX_WORK_MEM. 0 = no ceiling."},

      // Process and logging.
      {"WORKER_THREADS", kRuntime, kNone, number(&Config::worker_threads, 0, 1024),
       "Event-loop threads of the data plane; 0 = one per CPU core."},
      {"VERDICT_CACHE_BYTES", kRuntime, kNone,
       number<std::size_t>(&Config::verdict_cache_bytes, 0, kSizeMax, "bytes"),
       "Memory each event loop may use to remember statement texts and their policy verdicts "
       "(so a repeated statement is not parsed again); 0 = parse every statement."},
      {"SHUTDOWN_TIMEOUT_SECONDS", kRuntime, kNone,
       number(&Config::shutdown_timeout_seconds, 0, 86400, "seconds"),
       "On SIGTERM/SIGINT, how long running transactions may finish before sessions are "
       "ended."},
      {"LOG_LEVEL", kRuntime, kReloadable, logLevel(),
       "Log verbosity. RUST_LOG is accepted as an alias, including env_logger lists such as "
       "`rust_pg_proxy=debug,info` (the most verbose level for pgro wins).",
       "RUST_LOG"},
      {"LOG_FORMAT", kRuntime, kNone,
       choice(&Config::log_format,
              std::vector<std::pair<std::string, LogFormat>>{{"text", LogFormat::Text},
                                                             {"json", LogFormat::Json}}),
       "text: `<UTC time> <LEVEL> pgro: <message>` lines in the seed's layout; json: one object "
       "per line with ts, level and msg."},

      // Admin API and metrics.
      {"ADMIN_LISTEN", kControl, kNone, address(&Config::admin_listen),
       "Address of the gRPC admin API (`pgro-admin`). A non-loopback address requires "
       "ADMIN_TOKEN."},
      {"ADMIN_TOKEN", kControl, kSecret, text(&Config::admin_token),
       "Bearer token every admin call must carry; empty = no token (loopback only)."},
      {"ADMIN_TLS_CERT_FILE", kControl, kNone, text(&Config::admin_tls_cert_file, "path"),
       "PEM certificate chain; with ADMIN_TLS_KEY_FILE the admin API uses TLS."},
      {"ADMIN_TLS_KEY_FILE", kControl, kNone, text(&Config::admin_tls_key_file, "path"),
       "PEM private key of ADMIN_TLS_CERT_FILE."},
      {"METRICS_LISTEN", kControl, kNone, address(&Config::metrics_listen),
       "Address of the HTTP endpoint serving /metrics (Prometheus), /healthz and /readyz."},

      // Audit log.
      {"AUDIT_LOG", kAudit, kNone, text(&Config::audit_log, "off, stdout or a path"),
       "One JSON line per statement (simple and extended protocol, refused ones too): time, "
       "login, client, application_name, database, session, fingerprint, text, verdict and "
       "reason, cache outcome, rows, bytes, upstream and total ms, SQLSTATE. off: none; "
       "stdout; or a file, appended to and opened again on SIGHUP (for logrotate). Written by "
       "its own thread: when it falls behind by AUDIT_QUEUE_BYTES, lines are dropped, counted "
       "and logged, never waited for."},
      {"AUDIT_MAX_TEXT_BYTES", kAudit, kNone,
       number<std::size_t>(&Config::audit_max_text_bytes, 16, std::size_t{1} << 20, "bytes"),
       "Statement text (and each parameter value) longer than this is cut in the audit line; "
       "text_length then gives the whole length."},
      {"AUDIT_PARAMETERS", kAudit, kNone,
       choice(&Config::audit_parameters,
              std::vector<std::pair<std::string, AuditParameters>>{
                  {"off", AuditParameters::Off},
                  {"on", AuditParameters::On},
                  {"redacted", AuditParameters::Redacted}}),
       "Bind parameter values of extended-protocol statements in the audit line: on (text, or "
       "\\x-hex when sent in binary), redacted (\"***\" for each value, NULLs kept), off."},
      {"AUDIT_HASH_CHAIN", kAudit, kNone, boolean(&Config::audit_hash_chain),
       "Each audit line ends with its sequence number and the SHA-256 of the line before it, "
       "so an edited or deleted line is detected by `pgro audit verify FILE`."},
      {"AUDIT_QUEUE_BYTES", kAudit, kNone,
       number<std::size_t>(&Config::audit_queue_bytes, 4096, kSizeMax, "bytes"),
       "Memory for audit records waiting for the writer thread; past it records are dropped "
       "(and a line says how many)."},

      // Query statistics.
      {"QUERY_STATS_TOP_K", kStats, kNone,
       number<std::size_t>(&Config::query_stats_top_k, 0, 100000, "shapes"),
       "Statement shapes (libpg_query fingerprints) whose statistics pgro keeps: calls, rows, "
       "bytes, refusals, cache outcomes, upstream time with p50/p99, time saved by the cache, "
       "logins (`pgro-admin top`). The most frequent K stay (space-saving: a new shape takes "
       "the place of the least frequent one); per worker thread, merged when read. 0: off."},
  };
  return rows;
}

std::string flagName(std::string_view env_name) {
  std::string flag = "--" + detail::lower(env_name);
  for (char& c : flag) {
    if (c == '_') {
      c = '-';
    }
  }
  return flag;
}

std::string defaultText(const Setting& s) {
  static const Config defaults;
  return s.binding.show(defaults);
}

}  // namespace pgro::config::detail
