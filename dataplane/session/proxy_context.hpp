// What every client session shares: configuration, users, the pool, the registry of live
// sessions and the counters. Created once by the server; sessions hold a shared_ptr.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "audit/audit_log.hpp"
#include "audit/query_stats.hpp"
#include "auth/users.hpp"
#include "cache/inflight.hpp"
#include "cache/result_cache.hpp"
#include "config/config.hpp"
#include "fleet/l2_cache.hpp"
#include "metrics/data_plane_metrics.hpp"
#include "net/tls.hpp"
#include "policy/classifier.hpp"
#include "session/cache_rule_store.hpp"
#include "session/catalog_refresher.hpp"
#include "session/governor.hpp"
#include "session/login_guard.hpp"
#include "session/session_parameters.hpp"
#include "upstream/pool.hpp"

namespace pgro::session {

namespace asio = boost::asio;

class SessionRegistry;

// Data-path counters: relaxed atomics, summed by whoever reads them.
struct SessionCounters {
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> auth_failures{0};
  // Refused before login: MAX_UNAUTHENTICATED_PER_ADDRESS, AUTH_TIMEOUT_SECONDS.
  std::atomic<uint64_t> unauthenticated_refused{0};
  std::atomic<uint64_t> auth_timeouts{0};
  // Authentication answers delayed because the address failed too often (LoginThrottle).
  std::atomic<uint64_t> auth_throttled{0};
  // Clients refused because their message would exceed CLIENT_BUFFER_BUDGET_BYTES.
  std::atomic<uint64_t> buffer_budget_refused{0};
  std::atomic<uint64_t> queries_forwarded{0};
  std::atomic<uint64_t> queries_refused{0};
  std::atomic<uint64_t> cache_hits{0};
  std::atomic<uint64_t> cache_coalesced{0};
  // Upstream time the hits and coalesced answers saved: the sum of their entries' fill times.
  std::atomic<uint64_t> cache_saved_micros{0};
  // Answered from an expired entry because upstream was unavailable (stale-if-error).
  std::atomic<uint64_t> cache_stale_served{0};
  // Background refreshes sent upstream (stale-while-revalidate), and those running now.
  std::atomic<uint64_t> cache_refreshes{0};
  std::atomic<int64_t> cache_refreshes_running{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> tripwire_trips{0};
  std::atomic<int64_t> clients_current{0};
  // Sessions keeping a server connection for their cursors WITH HOLD (transaction pooling).
  std::atomic<int64_t> sessions_holding_cursors{0};
  // Refusals by policy reason (write, forbidden_function, ...): refusals are rare, a lock
  // is fine here.
  mutable std::mutex refusals_mu;
  std::map<std::string, uint64_t> refused_by_reason;
};

struct ProxyContext {
  // The startup configuration, never swapped (sessions read it without a lock): what it says
  // about a reloadable setting may be stale; those are held where they are used (PolicyState,
  // the result cache, the logger).
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<upstream::Pool> pool;
  std::shared_ptr<SessionRegistry> registry;
  // ParameterStatus values learned from upstream at startup (server_version, encodings...).
  std::map<std::string, std::string> upstream_parameters;
  // Startup setting values the upstream accepted (checked once each at login).
  AcceptedSettings accepted_settings;
  ParameterSets login_parameter_sets;  // sessions' DISCARD ALL baselines, shared
  // What a reload (SIGHUP, ReloadPolicy) replaces, as one unit: the logins, the classifier
  // settings with the function catalog loaded from pg_proc, the client TLS context and the
  // configuration in force. Readers take a copy of the pointer; the statement path checks
  // only `policy_generation` (one relaxed load) per statement.
  struct PolicyState {
    std::shared_ptr<const auth::UserStore> users = std::make_shared<auth::UserStore>();
    std::shared_ptr<const policy::FunctionCatalog> catalog;
    std::shared_ptr<const policy::ClassifierOptions> options =
        std::make_shared<policy::ClassifierOptions>();
    // Client-facing TLS (TLS_CERT_FILE); nullptr when not offered.
    std::shared_ptr<const net::TlsContext> client_tls;
    // The startup configuration with the reloadable settings of the last reload (GetConfig).
    std::shared_ptr<const config::Config> config;
    // The catalog's fingerprint as loaded (pg_proc, pg_namespace, pg_operator): equal on
    // every replica of one database, so the fleet cache keys by it.
    std::string catalog_fingerprint;
  };
  std::shared_ptr<const auth::UserStore> users() const {
    std::lock_guard lock(policy_mu_);
    return policy_.users;
  }
  std::shared_ptr<const net::TlsContext> clientTls() const {
    std::lock_guard lock(policy_mu_);
    return policy_.client_tls;
  }
  std::shared_ptr<const policy::ClassifierOptions> classifierOptions() const {
    std::lock_guard lock(policy_mu_);
    return policy_.options;
  }
  void setPolicy(PolicyState state) {
    std::lock_guard lock(policy_mu_);
    policy_ = std::move(state);
    policy_generation.fetch_add(1, std::memory_order_release);
  }
  PolicyState policy() const {
    std::lock_guard lock(policy_mu_);
    return policy_;
  }
  // A catalog looked up again (CatalogRefresher): the logins stay as they are, whatever a
  // reload did in the meantime.
  void setCatalog(std::shared_ptr<const policy::FunctionCatalog> catalog,
                  std::shared_ptr<const policy::ClassifierOptions> options) {
    std::lock_guard lock(policy_mu_);
    policy_.catalog = std::move(catalog);
    policy_.options = std::move(options);
    policy_generation.fetch_add(1, std::memory_order_release);
  }
  std::atomic<uint64_t> policy_generation{1};
  // Looks up functions the catalog does not know (null: such calls are refused at once).
  std::shared_ptr<CatalogRefresher> catalog_refresher;
  // Classifies long statement texts off the event loops (null: on the loop).
  std::optional<asio::any_io_executor> classify_executor;
  std::shared_ptr<cache::ResultCache> cache;
  std::shared_ptr<cache::InFlight> inflight;
  // The fleet cache (CACHE_L2_URL) behind `cache`; null when off.
  std::shared_ptr<fleet::L2Cache> l2;
  // Cache rules by statement shape (CACHE_RULES_FILE); the admin API changes them.
  std::shared_ptr<CacheRuleStore> cache_rules = std::make_shared<CacheRuleStore>();
  // AUDIT_LOG: one JSON line per statement; null when off.
  std::shared_ptr<audit::AuditLog> audit;
  // QUERY_STATS_TOP_K: per-shape statistics of the same records; null when off.
  std::shared_ptr<audit::QueryStats> query_stats;
  SessionCounters counters;
  GovernorCounters governor;
  UserGate user_gate;  // MAX_USER_CONNECTIONS, MAX_USER_ACTIVE_QUERIES
  // Per-address login limits and the client buffer budget (unlimited until the server sets
  // them from the configuration).
  std::shared_ptr<LoginGuard> guard = std::make_shared<LoginGuard>(0, LoginThrottle::Settings{}, 0);
  // Latency histograms the data path observes into (null-safe).
  metrics::DataPlaneMetrics metrics;
  std::atomic<bool> shutting_down{false};

 private:
  mutable std::mutex policy_mu_;
  PolicyState policy_;
};

}  // namespace pgro::session
