#include "server/data_plane_admin.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <tuple>

#include "policy/fingerprint.hpp"
#include "session/client_session.hpp"
#include "session/session_registry.hpp"

namespace pgro::server {

DataPlaneAdmin::DataPlaneAdmin(std::shared_ptr<session::ProxyContext> context,
                               std::function<ReloadResult()> reload)
    : ctx_(std::move(context)), reload_(std::move(reload)) {}

uint64_t DataPlaneAdmin::resetCache() {
  const uint64_t cleared = ctx_->cache->clear();
  if (ctx_->l2 != nullptr) ctx_->l2->reset();  // every replica's, through the generation
  spdlog::info("cache reset through the admin API: {} entries cleared", cleared);
  return cleared;
}

StatsSnapshot DataPlaneAdmin::stats() {
  StatsSnapshot s;
  const auto& c = ctx_->counters;
  const auto cache = ctx_->cache->stats();
  s.cache.enabled = ctx_->cache->enabled();
  s.cache.ttl_seconds = ctx_->cache->ttl().count();
  s.cache.entries = cache.entries;
  s.cache.bytes = cache.bytes;
  s.cache.max_entries = ctx_->cache->limits().max_entries;
  s.cache.max_bytes = ctx_->cache->limits().max_bytes;
  // Each lookup once: a follower of a coalesced miss found no entry (a miss to the result
  // cache) but did not go upstream.
  s.cache.hits = c.cache_hits.load(std::memory_order_relaxed);
  s.cache.coalesced = c.cache_coalesced.load(std::memory_order_relaxed);
  if (ctx_->l2 != nullptr) {
    const auto l2 = ctx_->l2->stats();
    s.cache.l2_enabled = true;
    s.cache.l2_connected = l2.connected;
    s.cache.l2_hits = l2.hits;
    s.cache.l2_misses = l2.misses;
    s.cache.l2_errors = l2.errors;
    s.cache.l2_writes = l2.writes;
    s.cache.l2_too_large = l2.too_large;
    s.cache.l2_lease_waits = l2.lease_waits;
    s.cache.l2_lease_filled = l2.lease_filled;
    s.cache.l2_resets = l2.resets;
  }
  // An L2 hit was a local miss first, but did not go upstream: counted as a hit.
  s.cache.misses = cache.misses - std::min(cache.misses, s.cache.coalesced + s.cache.l2_hits);
  s.cache.evictions = cache.evictions;
  s.cache.stale_served = c.cache_stale_served.load(std::memory_order_relaxed);
  s.cache.refreshes = c.cache_refreshes.load(std::memory_order_relaxed);
  s.cache.admissions_rejected = cache.admissions_rejected;
  s.cache.admissions_below_min_cost = cache.admissions_below_min_cost;
  s.cache.saved_micros = c.cache_saved_micros.load(std::memory_order_relaxed);
  const uint64_t lookups = s.cache.hits + s.cache.misses + s.cache.coalesced;
  s.cache.hit_ratio =
      lookups == 0 ? 0.0 : static_cast<double>(s.cache.hits + s.cache.coalesced) / lookups;

  s.queries.forwarded = c.queries_forwarded.load(std::memory_order_relaxed);
  s.queries.cache_hits = s.cache.hits + s.cache.coalesced;
  s.queries.refused = c.queries_refused.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(c.refusals_mu);
    s.queries.refused_by_reason = c.refused_by_reason;
  }
  s.queries.protocol_errors = c.protocol_errors.load(std::memory_order_relaxed);
  s.governor = ctx_->governor.snapshot();

  const auto pool = ctx_->pool->stats();
  s.pool.size = pool.size;
  s.pool.open = pool.open;
  s.pool.idle = pool.idle;
  s.pool.busy = std::max(0, pool.open - pool.idle);
  s.pool.waiting = pool.waiting;
  s.pool.connects = pool.connects;
  s.pool.connect_errors = pool.connect_errors;
  s.pool.timeouts = pool.timeouts;
  s.pool.tripwire_trips = c.tripwire_trips.load(std::memory_order_relaxed);

  s.clients_current = c.clients_current.load(std::memory_order_relaxed);
  s.clients_total = c.connections_total.load(std::memory_order_relaxed);
  s.clients_refused = c.connections_refused.load(std::memory_order_relaxed);
  s.auth_failures = c.auth_failures.load(std::memory_order_relaxed);
  s.unauthenticated_refused = c.unauthenticated_refused.load(std::memory_order_relaxed);
  s.auth_timeouts = c.auth_timeouts.load(std::memory_order_relaxed);
  s.auth_throttled = c.auth_throttled.load(std::memory_order_relaxed);
  s.buffer_budget_refused = c.buffer_budget_refused.load(std::memory_order_relaxed);
  if (ctx_->catalog_refresher) {
    s.catalog_lookups = ctx_->catalog_refresher->lookups();
    s.catalog_refreshes = ctx_->catalog_refresher->refreshes();
  }
  if (ctx_->query_stats) {
    std::tie(s.query_shapes, s.query_shape_evictions) = ctx_->query_stats->totals();
  }
  if (ctx_->audit) {
    s.audit_lines = ctx_->audit->written();
    s.audit_dropped = ctx_->audit->dropped();
    s.audit_failed = ctx_->audit->failed();
  }
  s.upstream_up = ctx_->pool->upstreamUp();
  s.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s.version = PGRO_VERSION;
  return s;
}

void DataPlaneAdmin::setCacheTtl(std::chrono::seconds ttl) {
  ctx_->cache->setTtl(ttl);
  spdlog::info("cache TTL set to {} s through the admin API", ttl.count());
}

void DataPlaneAdmin::setCacheEnabled(bool enabled) {
  ctx_->cache->setEnabled(enabled);
  spdlog::info("cache {} through the admin API", enabled ? "enabled" : "disabled");
}

std::vector<SessionView> DataPlaneAdmin::sessions() {
  std::vector<SessionView> out;
  ctx_->registry->forEach([&](const std::shared_ptr<session::ClientSession>& s) {
    auto info = s->info();
    out.push_back({.user = std::move(info.user),
                   .client_address = std::move(info.client_address),
                   .application_name = std::move(info.application_name),
                   .state = std::move(info.state),
                   .since = info.since,
                   .query = std::move(info.query)});
  });
  return out;
}

std::vector<std::pair<std::string, std::string>> DataPlaneAdmin::config() {
  const auto in_force = ctx_->policy().config;
  return config::describe(in_force ? *in_force : *ctx_->config);
}

ReloadResult DataPlaneAdmin::reload() {
  if (!reload_) return {.ok = false, .message = "reload is not available"};
  return reload_();
}

ShapeStatsView DataPlaneAdmin::queryStats(const ShapeStatsRequest& request) {
  ShapeStatsView out;
  if (!ctx_->query_stats) return out;
  audit::ShapeQuery query;
  query.order = request.order == "calls"   ? audit::ShapeOrder::Calls
                : request.order == "saved" ? audit::ShapeOrder::Saved
                : request.order == "bytes" ? audit::ShapeOrder::Bytes
                                           : audit::ShapeOrder::Time;
  query.login = request.user;
  query.limit = static_cast<std::size_t>(request.limit);
  const auto snap = ctx_->query_stats->snapshot(query);
  out.enabled = true;
  out.top_k = snap.top_k;
  out.statements = snap.statements;
  out.unfingerprinted = snap.unfingerprinted;
  out.shapes_tracked = snap.shapes_tracked;
  out.evictions = snap.evictions;
  const auto ms = [](std::uint64_t micros) { return static_cast<double>(micros) / 1000.0; };
  for (const auto& v : snap.shapes) {
    const auto& c = v.counters;
    out.shapes.push_back({.fingerprint = policy::fingerprintHex(v.fingerprint),
                          .text = v.text,
                          .calls = c.calls,
                          .calls_error = c.calls_error,
                          .rows = c.rows,
                          .bytes = c.bytes,
                          .refused = c.refused,
                          .errors = c.errors,
                          .cache_hits = c.cache_hits,
                          .cache_misses = c.cache_misses,
                          .cache_coalesced = c.cache_coalesced,
                          .cache_stale = c.cache_stale,
                          .upstream_calls = c.upstream_calls,
                          .upstream_total_ms = ms(c.upstream_micros),
                          .upstream_mean_ms = ms(v.mean_micros),
                          .upstream_p50_ms = ms(v.p50_micros),
                          .upstream_p99_ms = ms(v.p99_micros),
                          .saved_ms = ms(v.saved_micros),
                          .logins = c.logins,
                          .other_login_calls = c.other_login_calls});
  }
  return out;
}

uint64_t DataPlaneAdmin::resetQueryStats() {
  if (!ctx_->query_stats) return 0;
  const uint64_t dropped = ctx_->query_stats->reset();
  spdlog::info("query statistics reset through the admin API: {} shapes dropped", dropped);
  return dropped;
}

bool DataPlaneAdmin::upstreamReady() {
  if (ctx_->pool->recentlyConnected(std::chrono::seconds(10))) return true;
  // No recent evidence: try a TCP connection to the upstream (bounded by one second).
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  boost::system::error_code result = asio::error::timed_out;
  const auto& settings = ctx_->pool->settings();
  resolver.async_resolve(
      settings.host, std::to_string(settings.port),
      [&](boost::system::error_code ec, asio::ip::tcp::resolver::results_type endpoints) {
        if (ec) {
          result = ec;
          return;
        }
        asio::async_connect(socket, endpoints,
                            [&](boost::system::error_code e, const auto&) { result = e; });
      });
  io.run_for(std::chrono::seconds(1));
  return !result;
}

}  // namespace pgro::server
