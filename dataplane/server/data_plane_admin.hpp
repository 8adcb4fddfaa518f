// The data plane's implementation of AdminTarget: reads the counters, the cache and the
// pool; changes the cache live. Thread-safe (called from control-plane threads).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "server/admin_target.hpp"
#include "session/proxy_context.hpp"

namespace pgro::server {

class DataPlaneAdmin : public AdminTarget {
 public:
  // `reload` reloads the configuration, logins and the function catalog (also for SIGHUP).
  DataPlaneAdmin(std::shared_ptr<session::ProxyContext> context,
                 std::function<ReloadResult()> reload);

  uint64_t resetCache() override;
  StatsSnapshot stats() override;
  void setCacheTtl(std::chrono::seconds ttl) override;
  void setCacheEnabled(bool enabled) override;
  std::vector<SessionView> sessions() override;
  std::vector<std::pair<std::string, std::string>> config() override;
  ReloadResult reload() override;
  bool upstreamReady() override;
  // Cache rules (data_plane_cache_rules.cpp).
  CacheRuleResult addCacheRule(const std::string& query, CacheRuleView rule) override;
  std::vector<CacheRuleView> cacheRules() override;
  CacheRuleResult removeCacheRule(const std::string& fingerprint) override;
  ShapeStatsView queryStats(const ShapeStatsRequest& request) override;
  uint64_t resetQueryStats() override;

 private:
  std::shared_ptr<session::ProxyContext> ctx_;
  std::function<ReloadResult()> reload_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace pgro::server
