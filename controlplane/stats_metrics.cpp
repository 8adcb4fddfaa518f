#include "controlplane/stats_metrics.hpp"

#include <array>
#include <vector>

namespace pgro::controlplane {

namespace {

using metrics::MetricType;
using metrics::SampleWriter;
using server::StatsSnapshot;

constexpr MetricType kCounter = MetricType::Counter;
constexpr MetricType kGauge = MetricType::Gauge;

// One row per family read from the stats snapshot: adding a metric is one line here.
struct StatsMetric {
  metrics::MetricDesc desc;
  void (*fill)(const StatsSnapshot&, SampleWriter&);
};

double d(uint64_t v) {
  return static_cast<double>(v);
}

// pgro_governor_<limit>_total{user}: the limits of the query governor, one family each
// (names as session::limitName spells them).
constexpr std::array<const char*, 8> kGovernorLimits = {"pg_sleep",
                                                        "query_timeout",
                                                        "idle_transaction_timeout",
                                                        "client_idle_timeout",
                                                        "user_connections",
                                                        "user_active_queries",
                                                        "result_rows",
                                                        "result_bytes"};

template <std::size_t I>
void governorSamples(const StatsSnapshot& s, SampleWriter& w) {
  auto it = s.governor.find(kGovernorLimits[I]);
  if (it == s.governor.end()) return;
  for (const auto& [user, n] : it->second) w.add({user}, d(n));
}

const std::vector<StatsMetric>& statsMetrics() {
  static const std::vector<StatsMetric> table = {
      {{"pgro_build_info", "pgro version (always 1).", kGauge, {"version"}},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add({s.version}, 1); }},
      {{"pgro_uptime_seconds", "Seconds since pgro started.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.uptime_seconds); }},
      // Clients
      {{"pgro_client_connections", "Client connections open now.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add(static_cast<double>(s.clients_current));
       }},
      {{"pgro_client_connections_total", "Client connections accepted.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.clients_total)); }},
      {{"pgro_client_connections_refused_total",
        "Client connections refused: too_many (MAX_CLIENT_CONNECTIONS), auth_failed, "
        "unauthenticated_limit (MAX_UNAUTHENTICATED_PER_ADDRESS), auth_timeout "
        "(AUTH_TIMEOUT_SECONDS), buffer_budget (CLIENT_BUFFER_BUDGET_BYTES).",
        kCounter,
        {"reason"}},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add({"too_many"}, d(s.clients_refused));
         w.add({"auth_failed"}, d(s.auth_failures));
         w.add({"unauthenticated_limit"}, d(s.unauthenticated_refused));
         w.add({"auth_timeout"}, d(s.auth_timeouts));
         w.add({"buffer_budget"}, d(s.buffer_budget_refused));
       }},
      {{"pgro_auth_throttled_total",
        "Authentication answers delayed because the client's address failed to log in too "
        "often.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.auth_throttled)); }},
      // Queries
      {{"pgro_queries_total",
        "Statements by outcome: forwarded upstream, cache_hit, refused.",
        kCounter,
        {"outcome"}},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add({"forwarded"}, d(s.queries.forwarded));
         w.add({"cache_hit"}, d(s.queries.cache_hits));
         w.add({"refused"}, d(s.queries.refused));
       }},
      {{"pgro_queries_refused_total",
        "Statements refused by the read-only policy, by reason.",
        kCounter,
        {"reason"}},
       [](const StatsSnapshot& s, SampleWriter& w) {
         for (const auto& [reason, n] : s.queries.refused_by_reason) w.add({reason}, d(n));
       }},
      // Query governor (limits a reader cannot lift), by login ("other" outside USERS_FILE).
      {{"pgro_governor_pg_sleep_total",
        "Statements refused because they call pg_sleep and ALLOW_PG_SLEEP is off.",
        kCounter,
        {"user"}},
       governorSamples<0>},
      {{"pgro_governor_query_timeout_total",
        "Statements cancelled upstream by pgro after QUERY_TIMEOUT_SECONDS.",
        kCounter,
        {"user"}},
       governorSamples<1>},
      {{"pgro_governor_idle_transaction_timeout_total",
        "Clients disconnected for holding a server connection idle longer than "
        "IDLE_TRANSACTION_TIMEOUT_SECONDS.",
        kCounter,
        {"user"}},
       governorSamples<2>},
      {{"pgro_governor_client_idle_timeout_total",
        "Clients disconnected after CLIENT_IDLE_TIMEOUT_SECONDS without a message.",
        kCounter,
        {"user"}},
       governorSamples<3>},
      {{"pgro_governor_user_connections_total",
        "Logins refused because the login had MAX_USER_CONNECTIONS connections open.",
        kCounter,
        {"user"}},
       governorSamples<4>},
      {{"pgro_governor_user_active_queries_total",
        "Times a client waited because its login held MAX_USER_ACTIVE_QUERIES upstream "
        "connections.",
        kCounter,
        {"user"}},
       governorSamples<5>},
      {{"pgro_governor_result_rows_total",
        "Results cut at MAX_RESULT_ROWS (cancelled upstream, or a cached one refused).",
        kCounter,
        {"user"}},
       governorSamples<6>},
      {{"pgro_governor_result_bytes_total",
        "Results cut at MAX_RESULT_BYTES (cancelled upstream, or a cached one refused).",
        kCounter,
        {"user"}},
       governorSamples<7>},
      {{"pgro_protocol_errors_total", "Malformed or out-of-sequence client messages.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.queries.protocol_errors)); }},
      {{"pgro_catalog_lookups_total",
        "Look-ups in pg_proc of function names the loaded catalog did not know.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.catalog_lookups)); }},
      {{"pgro_catalog_refreshes_total",
        "Function catalogs loaded again because such a look-up found a name.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.catalog_refreshes)); }},
      {{"pgro_query_shapes",
        "Statement shapes the query statistics track now, summed over worker threads "
        "(QUERY_STATS_TOP_K each; `pgro-admin top` lists them).",
        kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.query_shapes)); }},
      {{"pgro_query_shape_evictions_total",
        "Statement shapes the query statistics dropped for a new one (since the last reset).",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.query_shape_evictions)); }},
      {{"pgro_audit_lines_total", "Lines written to the audit log (AUDIT_LOG).", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.audit_lines)); }},
      {{"pgro_audit_dropped_total",
        "Audit records dropped because the writer fell behind by AUDIT_QUEUE_BYTES.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.audit_dropped)); }},
      {{"pgro_audit_write_failures_total",
        "Audit lines lost because writing the audit log failed (disk full, file not reopened).",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.audit_failed)); }},
      // Cache
      {{"pgro_cache_entries", "Results held in the cache.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.entries)); }},
      {{"pgro_cache_bytes", "Bytes of results held in the cache.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.bytes)); }},
      {{"pgro_cache_max_entries", "MAX_CACHE_ENTRIES.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.max_entries)); }},
      {{"pgro_cache_max_bytes", "MAX_CACHE_BYTES.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.max_bytes)); }},
      {{"pgro_cache_hits_total", "Cache lookups answered from a stored entry.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.hits)); }},
      {{"pgro_cache_misses_total", "Cache lookups that went upstream.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.misses)); }},
      {{"pgro_cache_evictions_total", "Results evicted to stay within the cache limits.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.evictions)); }},
      {{"pgro_cache_coalesced_total", "Misses answered by another client's in-flight query.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.coalesced)); }},
      {{"pgro_cache_stale_served_total",
        "Queries answered from an expired result because upstream was unavailable "
        "(CACHE_STALE_IF_ERROR_SECONDS).",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.stale_served)); }},
      {{"pgro_cache_refreshes_total",
        "Background refreshes of cached results sent upstream (CACHE_SWR_PERCENT).", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.refreshes)); }},
      {{"pgro_cache_l2_hits_total",
        "Local cache misses answered from the fleet cache (CACHE_L2_URL), lease waits included.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_hits)); }},
      {{"pgro_cache_l2_misses_total", "Fleet cache lookups that found nothing.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_misses)); }},
      {{"pgro_cache_l2_errors_total",
        "Fleet cache commands that failed: timeouts (CACHE_L2_TIMEOUT_MS), connection failures, "
        "error replies. The local cache and upstream answered instead.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_errors)); }},
      {{"pgro_cache_l2_writes_total", "Results written through to the fleet cache.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_writes)); }},
      {{"pgro_cache_l2_too_large_total",
        "Results kept in the local cache only: over CACHE_L2_MAX_ENTRY_BYTES.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_too_large)); }},
      {{"pgro_cache_l2_lease_waits_total",
        "Misses that waited for another replica running the same query (CACHE_L2_LEASE_MS).",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_lease_waits)); }},
      {{"pgro_cache_l2_lease_filled_total", "Lease waits answered by the other replica's result.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_lease_filled)); }},
      {{"pgro_cache_l2_resets_total",
        "Fleet cache resets seen (key-space generation changes), this replica's and others'.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.cache.l2_resets)); }},
      {{"pgro_cache_l2_up", "1 when the fleet cache is connected (0 when down or off).", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.cache.l2_connected ? 1 : 0); }},
      {{"pgro_cache_admissions_refused_total",
        "Results not cached although there was a miss to fill, by reason: outranked (the "
        "entries they would evict save more upstream time, CACHE_ADMISSION) or below_min_cost "
        "(CACHE_MIN_COST_MS).",
        kCounter,
        {"reason"}},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add({"outranked"}, d(s.cache.admissions_rejected));
         w.add({"below_min_cost"}, d(s.cache.admissions_below_min_cost));
       }},
      {{"pgro_cache_saved_seconds_total",
        "Upstream time the cache saved: for each hit and coalesced answer, the time upstream "
        "took to produce the result it was answered from.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add(static_cast<double>(s.cache.saved_micros) / 1e6);
       }},
      {{"pgro_cache_enabled", "1 when the result cache is on.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.cache.enabled ? 1 : 0); }},
      {{"pgro_cache_ttl_seconds", "Time to live of newly cached results.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add(static_cast<double>(s.cache.ttl_seconds));
       }},
      // Pool and upstream
      {{"pgro_pool_size", "Most upstream connections (POOL_SIZE).", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.pool.size); }},
      {{"pgro_pool_connections", "Upstream connections open, by state.", kGauge, {"state"}},
       [](const StatsSnapshot& s, SampleWriter& w) {
         w.add({"idle"}, s.pool.idle);
         w.add({"busy"}, s.pool.busy);
       }},
      {{"pgro_pool_waiting_clients", "Clients waiting for a free upstream connection.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.pool.waiting); }},
      {{"pgro_pool_wait_timeouts_total",
        "Clients that gave up waiting for an upstream connection (POOL_TIMEOUT_SECONDS).",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.pool.timeouts)); }},
      {{"pgro_upstream_up", "1 when the upstream answered recently.", kGauge},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(s.upstream_up ? 1 : 0); }},
      {{"pgro_upstream_connects_total", "Upstream connections opened.", kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.pool.connects)); }},
      {{"pgro_upstream_connect_errors_total", "Upstream connection attempts that failed.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.pool.connect_errors)); }},
      {{"pgro_upstream_tripwire_total",
        "Upstream connections closed because default_transaction_read_only was found off.",
        kCounter},
       [](const StatsSnapshot& s, SampleWriter& w) { w.add(d(s.pool.tripwire_trips)); }},
  };
  return table;
}

}  // namespace

metrics::DataPlaneMetrics registerDataPlaneMetrics(metrics::Registry& registry,
                                                   server::AdminTarget& target) {
  std::vector<metrics::MetricDesc> descs;
  for (const auto& m : statsMetrics()) descs.push_back(m.desc);
  registry.addCollector(std::move(descs), [&target](metrics::CollectorSink& sink) {
    const StatsSnapshot snapshot = target.stats();
    for (const auto& m : statsMetrics()) m.fill(snapshot, sink.family(m.desc.name));
  });
  return metrics::registerDataPlaneHistograms(registry);
}

}  // namespace pgro::controlplane
