// An AdminTarget with fixed answers that counts calls: the control plane under test sees
// exactly what these tests put here, no data plane involved.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

#include "server/admin_target.hpp"

namespace pgro::test {

class FakeAdminTarget : public server::AdminTarget {
 public:
  FakeAdminTarget() {
    auto& s = stats_;
    s.cache = {.enabled = true,
               .ttl_seconds = 900,
               .entries = 12,
               .bytes = 3 * 1024 * 1024,
               .max_entries = 10000,
               .max_bytes = 256 * 1024 * 1024,
               .hits = 300,
               .misses = 100,
               .evictions = 7,
               .coalesced = 5,
               .stale_served = 2,
               .refreshes = 3,
               .admissions_rejected = 11,
               .admissions_below_min_cost = 13,
               .saved_micros = 2500000,
               .hit_ratio = 0.75};
    s.queries = {.forwarded = 100,
                 .cache_hits = 300,
                 .refused = 4,
                 .refused_by_reason = {{"write", 3}, {"forbidden_function", 1}},
                 .protocol_errors = 2};
    s.pool = {.size = 5,
              .open = 4,
              .idle = 3,
              .busy = 1,
              .waiting = 0,
              .connects = 9,
              .connect_errors = 1,
              .timeouts = 0,
              .tripwire_trips = 0};
    s.clients_current = 3;
    s.clients_total = 42;
    s.clients_refused = 1;
    s.auth_failures = 2;
    s.unauthenticated_refused = 6;
    s.auth_timeouts = 7;
    s.auth_throttled = 8;
    s.buffer_budget_refused = 9;
    s.upstream_up = true;
    s.uptime_seconds = 3723.5;
    s.version = "0.1.0-test";
  }

  uint64_t resetCache() override {
    ++reset_calls;
    return 12;
  }
  server::StatsSnapshot stats() override {
    ++stats_calls;
    std::lock_guard lock(mutex_);
    server::StatsSnapshot s = stats_;
    s.cache.ttl_seconds = ttl_seconds.load();
    s.cache.enabled = cache_enabled.load();
    return s;
  }
  void setCacheTtl(std::chrono::seconds ttl) override { ttl_seconds = ttl.count(); }
  void setCacheEnabled(bool enabled) override { cache_enabled = enabled; }
  std::vector<server::SessionView> sessions() override {
    ++sessions_calls;
    const auto since = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)) +
                       std::chrono::milliseconds(250);
    return {
        {.user = "reader",
         .client_address = "127.0.0.1:40000",
         .application_name = "psql",
         .state = "active",
         .since = since,
         .query = "SELECT 1"},
        // Not UTF-8 (a LATIN1 client) and longer than 200 characters.
        {.user = "bi",
         .client_address = "[::1]:40001",
         .application_name = "caf\xe9",
         .state = "idle",
         .since = since,
         .query = std::string(300, 'x')},
    };
  }
  std::vector<std::pair<std::string, std::string>> config() override {
    return {{"LISTEN_PORT", "5433"},
            {"UPSTREAM_PASSWORD", "***"},
            {"ADMIN_TOKEN", "leaked-if-not-redacted"},  // the control plane must redact it
            {"CACHE_TTL_SECONDS", "900"}};
  }
  server::ReloadResult reload() override {
    ++reload_calls;
    return {.ok = reload_ok.load(), .message = reload_ok ? "reloaded 2 users" : "USERS_FILE: bad"};
  }
  bool upstreamReady() override { return ready.load(); }

  std::atomic<int> reset_calls{0};
  std::atomic<int> stats_calls{0};
  std::atomic<int> sessions_calls{0};
  std::atomic<int> reload_calls{0};
  std::atomic<int64_t> ttl_seconds{900};
  std::atomic<bool> cache_enabled{true};
  std::atomic<bool> reload_ok{true};
  std::atomic<bool> ready{true};

 private:
  std::mutex mutex_;
  server::StatsSnapshot stats_;
};

}  // namespace pgro::test
