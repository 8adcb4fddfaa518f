#include "session/statement_gate.hpp"

#include "policy/shape.hpp"
#include "policy/verdict_cache.hpp"
#include "session/proxy_context.hpp"

namespace pgro::session {

namespace {
constexpr std::size_t kVerdictCacheEntries = 10000;
}  // namespace

std::shared_ptr<const policy::Verdict> classifyStatement(const ProxyContext& context,
                                                         std::string_view sql,
                                                         std::string_view search_path) {
  // One cache per event loop thread: no lock. A reload (new catalog, new generation) gets a
  // new cache; until then the statement path reads one atomic per statement.
  struct LoopCache {
    const ProxyContext* context = nullptr;
    uint64_t generation = 0;
    std::shared_ptr<const policy::ClassifierOptions> options;
    std::unique_ptr<policy::VerdictCache> cache;
    // Keyed by numeric shape: texts that differ only in numbers share a shape_safe verdict
    // (a new literal each time then costs a scan, not a parse).
    std::unique_ptr<policy::VerdictCache> shapes;
  };
  thread_local LoopCache loop_cache;
  const uint64_t generation = context.policy_generation.load(std::memory_order_acquire);
  if (loop_cache.cache == nullptr || loop_cache.generation != generation ||
      loop_cache.context != &context) {
    loop_cache.options = context.classifierOptions();
    loop_cache.cache = std::make_unique<policy::VerdictCache>(kVerdictCacheEntries);
    loop_cache.shapes = std::make_unique<policy::VerdictCache>(kVerdictCacheEntries);
    loop_cache.generation = generation;
    loop_cache.context = &context;
  }
  if (auto hit = loop_cache.cache->find(sql, search_path)) return hit;
  const auto shape = policy::numericShape(sql);
  if (shape) {
    if (auto hit = loop_cache.shapes->find(*shape, search_path)) {
      loop_cache.cache->insert(sql, search_path, hit);  // a text that repeats skips the scan
      return hit;
    }
  }
  auto verdict =
      std::make_shared<const policy::Verdict>(policy::classify(sql, *loop_cache.options));
  if (shape && verdict->shape_safe) loop_cache.shapes->insert(*shape, search_path, verdict);
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
