// The narrow interface through which the control plane (gRPC admin API, Prometheus exposer)
// sees the data plane. The data plane implements it; nothing in the data plane includes gRPC.
// Every method is thread-safe and cheap: it reads counters or posts work to the loops.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgro::server {

struct CacheStatsView {
  bool enabled = false;
  int64_t ttl_seconds = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t max_entries = 0;
  uint64_t max_bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t coalesced = 0;                  // misses answered by another client's in-flight query
  uint64_t stale_served = 0;               // answered from an expired entry: upstream unavailable
  uint64_t refreshes = 0;                  // background refreshes run (stale-while-revalidate)
  uint64_t admissions_rejected = 0;        // outranked by the entries they would evict
  uint64_t admissions_below_min_cost = 0;  // CACHE_MIN_COST_MS
  uint64_t saved_micros = 0;               // upstream time of the fills hits were answered from
  double hit_ratio = 0;                    // hits / (hits + misses), 0 when both are 0
  // The fleet cache (CACHE_L2_URL); all 0 when off.
  bool l2_enabled = false;
  bool l2_connected = false;
  uint64_t l2_hits = 0;  // local misses answered from L2 (lease waits included)
  uint64_t l2_misses = 0;
  uint64_t l2_errors = 0;       // timeouts, connection failures, error replies
  uint64_t l2_writes = 0;       // fills written through
  uint64_t l2_too_large = 0;    // fills kept local (CACHE_L2_MAX_ENTRY_BYTES)
  uint64_t l2_lease_waits = 0;  // misses that waited for another replica's fill
  uint64_t l2_lease_filled = 0;
  uint64_t l2_resets = 0;  // fleet resets seen (key-space generation changes)
};

struct QueryStatsView {
  uint64_t forwarded = 0;                             // statements sent upstream
  uint64_t cache_hits = 0;                            // statements answered from the cache
  uint64_t refused = 0;                               // statements refused by the policy
  std::map<std::string, uint64_t> refused_by_reason;  // write, forbidden_function, ...
  uint64_t protocol_errors = 0;
};

struct PoolStatsView {
  int size = 0;
  int open = 0;
  int idle = 0;
  int busy = 0;
  int waiting = 0;
  uint64_t connects = 0;
  uint64_t connect_errors = 0;
  uint64_t timeouts = 0;
  uint64_t tripwire_trips = 0;
};

struct StatsSnapshot {
  CacheStatsView cache;
  QueryStatsView queries;
  PoolStatsView pool;
  int64_t clients_current = 0;
  uint64_t clients_total = 0;
  uint64_t clients_refused = 0;
  uint64_t auth_failures = 0;
  uint64_t unauthenticated_refused = 0;  // MAX_UNAUTHENTICATED_PER_ADDRESS
  uint64_t auth_timeouts = 0;            // AUTH_TIMEOUT_SECONDS
  uint64_t auth_throttled = 0;           // authentication answers delayed (failed logins)
  uint64_t buffer_budget_refused = 0;    // CLIENT_BUFFER_BUDGET_BYTES
  // Look-ups of function names the catalog did not know, and the new catalogs they loaded.
  uint64_t catalog_lookups = 0;
  uint64_t catalog_refreshes = 0;
  // Query-shape statistics (QUERY_STATS_TOP_K): shapes tracked now (summed over the shards),
  // and shapes dropped for a newcomer since the last reset.
  uint64_t query_shapes = 0;
  uint64_t query_shape_evictions = 0;
  // Audit log (AUDIT_LOG): lines written, records dropped (queue full), lines lost to failed
  // writes.
  uint64_t audit_lines = 0;
  uint64_t audit_dropped = 0;
  uint64_t audit_failed = 0;
  // Query governor enforcements: limit name ("query_timeout", ...) -> login -> count.
  std::map<std::string, std::map<std::string, uint64_t>> governor;
  bool upstream_up = false;
  double uptime_seconds = 0;
  std::string version;
};

struct SessionView {
  std::string user;
  std::string client_address;
  std::string application_name;
  std::string state;  // idle, active, idle in transaction, ...
  std::chrono::system_clock::time_point since;
  std::string query;  // the current or last statement, first 200 characters
};

// Query-shape statistics (QUERY_STATS_TOP_K), one shape.
struct QueryShapeView {
  std::string fingerprint;   // 16 hex digits, as in the audit log
  std::string text;          // a statement of the shape, as sent (the first a worker saw)
  uint64_t calls = 0;        // refused ones included
  uint64_t calls_error = 0;  // calls it may have had before it was tracked (0: exact)
  uint64_t rows = 0;
  uint64_t bytes = 0;
  uint64_t refused = 0;
  uint64_t errors = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t cache_coalesced = 0;
  uint64_t cache_stale = 0;
  uint64_t upstream_calls = 0;
  double upstream_total_ms = 0;
  double upstream_mean_ms = 0;
  double upstream_p50_ms = 0;
  double upstream_p99_ms = 0;
  double saved_ms = 0;  // (hits + coalesced + stale) x mean upstream time: an estimate
  std::vector<std::pair<std::string, uint64_t>> logins;  // login, calls; most first
  uint64_t other_login_calls = 0;                        // calls of logins beyond those listed
};

struct ShapeStatsRequest {
  std::string order = "time";  // time, calls, saved, bytes
  std::string user;            // only shapes this login ran; "" = all
  uint64_t limit = 20;         // 0 = all tracked
};

struct ShapeStatsView {
  bool enabled = false;
  uint64_t top_k = 0;
  uint64_t statements = 0;       // counted since the last reset
  uint64_t unfingerprinted = 0;  // statements without a shape (did not parse, ...)
  uint64_t shapes_tracked = 0;
  uint64_t evictions = 0;
  std::vector<QueryShapeView> shapes;
};

struct ReloadResult {
  bool ok = false;
  std::string message;
};

// A result cache rule (policy/cache_rules.hpp) as the admin API shows and takes it.
struct CacheRuleView {
  std::string fingerprint;  // 16 hex digits
  std::string sample;       // a statement of the shape
  std::optional<int64_t> ttl_ms;
  std::optional<int> swr_percent;
  std::optional<int64_t> stale_if_error_seconds;
  bool nocache = false;
  uint64_t matched = 0;  // cacheable statements of the shape since the rule was loaded
  uint64_t hits = 0;     // of those, answered from the cache
};

struct CacheRuleResult {
  enum class Status { Ok, Invalid, NotFound, Failed };
  Status status = Status::Ok;
  std::string message;  // what is wrong, unless Ok
  CacheRuleView rule;   // Ok: the rule as stored (add)
};

class AdminTarget {
 public:
  virtual ~AdminTarget() = default;
  // Empties the result cache; returns the entries cleared.
  virtual uint64_t resetCache() = 0;
  virtual StatsSnapshot stats() = 0;
  // Applies to entries stored from now on.
  virtual void setCacheTtl(std::chrono::seconds ttl) = 0;
  virtual void setCacheEnabled(bool enabled) = 0;
  virtual std::vector<SessionView> sessions() = 0;
  // Every setting as name=value, secrets redacted.
  virtual std::vector<std::pair<std::string, std::string>> config() = 0;
  // Reads the configuration again and applies its reloadable settings, logins, client TLS
  // files and the function catalog (as SIGHUP does).
  virtual ReloadResult reload() = 0;
  // Whether the upstream answered recently (readiness).
  virtual bool upstreamReady() = 0;
  // Cache rules. add: by `rule.fingerprint`, or, when `query` is not empty, by the
  // fingerprint of that statement (which becomes the sample unless one is given); replaces
  // the rule of the same fingerprint. Written to CACHE_RULES_FILE before it applies.
  virtual CacheRuleResult addCacheRule(const std::string& /*query*/, CacheRuleView /*rule*/) {
    return {.status = CacheRuleResult::Status::Failed, .message = "cache rules are not available"};
  }
  virtual std::vector<CacheRuleView> cacheRules() { return {}; }
  virtual CacheRuleResult removeCacheRule(const std::string& /*fingerprint*/) {
    return {.status = CacheRuleResult::Status::Failed, .message = "cache rules are not available"};
  }
  // Query-shape statistics, ordered and filtered as asked (enabled = false when off).
  virtual ShapeStatsView queryStats(const ShapeStatsRequest&) { return {}; }
  // Forgets the query-shape statistics; returns the shapes dropped.
  virtual uint64_t resetQueryStats() { return 0; }
};

}  // namespace pgro::server
