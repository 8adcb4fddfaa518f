#include "session/statement_gate.hpp"

#include "policy/verdict_cache.hpp"
#include "session/proxy_context.hpp"

namespace pgro::session {

namespace {
constexpr std::size_t kVerdictCacheEntries = 10000;
}  // namespace

std::shared_ptr<const policy::Verdict> classifyStatement(const ProxyContext& context,
                                                         std::string_view sql,
                                                         std::string_view search_path) {
  // One cache per event loop thread: no lock. A new catalog (reload) gets a new cache.
  struct LoopCache {
    const void* catalog = nullptr;
    std::unique_ptr<policy::VerdictCache> cache;
  };
  thread_local LoopCache loop_cache;
  const void* catalog = context.classifier_options.get();
  if (loop_cache.cache == nullptr || loop_cache.catalog != catalog) {
    loop_cache.cache = std::make_unique<policy::VerdictCache>(kVerdictCacheEntries);
    loop_cache.catalog = catalog;
  }
  if (auto hit = loop_cache.cache->find(sql, search_path)) return hit;
  auto verdict = std::make_shared<const policy::Verdict>(
      policy::classify(sql, *context.classifier_options));
  loop_cache.cache->insert(sql, search_path, verdict);
  return verdict;
}

protocol::PgError refusalError(const policy::Verdict& verdict) {
  protocol::PgError e;
  e.severity = "ERROR";
  e.sqlstate = std::string(verdict.sqlstate);
  e.message = verdict.message;
  e.position = verdict.position;
  return e;
}

}  // namespace pgro::session
