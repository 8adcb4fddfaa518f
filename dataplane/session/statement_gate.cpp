#include "session/statement_gate.hpp"

#include "policy/shape.hpp"
#include "policy/verdict_cache.hpp"
#include "session/proxy_context.hpp"

namespace pgro::session {

namespace {
constexpr std::size_t kVerdictCacheEntries = 10000;
constexpr std::size_t kVerdictCacheBytes = std::size_t{8} << 20;  // without a configuration
constexpr std::size_t kMaxTextBytes = 64 * 1024;

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

LoopCache& loopCache(const ProxyContext& context) {
  thread_local LoopCache loop_cache;
  const uint64_t generation = context.policy_generation.load(std::memory_order_acquire);
  if (loop_cache.cache == nullptr || loop_cache.generation != generation ||
      loop_cache.context != &context) {
    loop_cache.options = context.classifierOptions();
    // VERDICT_CACHE_BYTES, half for texts and half for shapes.
    const std::size_t bytes =
        context.config ? context.config->verdict_cache_bytes / 2 : kVerdictCacheBytes / 2;
    loop_cache.cache =
        std::make_unique<policy::VerdictCache>(kVerdictCacheEntries, kMaxTextBytes, bytes);
    loop_cache.shapes =
        std::make_unique<policy::VerdictCache>(kVerdictCacheEntries, kMaxTextBytes, bytes);
    loop_cache.generation = generation;
    loop_cache.context = &context;
  }
  return loop_cache;
}

}  // namespace

VerdictLookup findVerdict(const ProxyContext& context, std::string_view sql,
                          std::string_view search_path) {
  LoopCache& loop_cache = loopCache(context);
  VerdictLookup lookup;
  lookup.options = loop_cache.options;
  lookup.generation = loop_cache.generation;
  if ((lookup.verdict = loop_cache.cache->find(sql, search_path))) return lookup;
  lookup.shape = policy::numericShape(sql);
  if (lookup.shape) {
    if ((lookup.verdict = loop_cache.shapes->find(*lookup.shape, search_path))) {
      loop_cache.cache->insert(sql, search_path, lookup.verdict);  // a repeat skips the scan
    }
  }
  return lookup;
}

void keepVerdict(const ProxyContext& context, std::string_view sql, std::string_view search_path,
                 const VerdictLookup& lookup,
                 const std::shared_ptr<const policy::Verdict>& verdict) {
  if (!verdict->unknown_functions.empty()) return;
  LoopCache& loop_cache = loopCache(context);
  if (loop_cache.generation != lookup.generation) return;
  if (lookup.shape && verdict->shape_safe) {
    loop_cache.shapes->insert(*lookup.shape, search_path, verdict);
  }
  loop_cache.cache->insert(sql, search_path, verdict);
}

std::shared_ptr<const policy::Verdict> classifyStatement(const ProxyContext& context,
                                                         std::string_view sql,
                                                         std::string_view search_path) {
  VerdictLookup lookup = findVerdict(context, sql, search_path);
  if (lookup.verdict) return lookup.verdict;
  auto verdict = std::make_shared<const policy::Verdict>(policy::classify(sql, *lookup.options));
  keepVerdict(context, sql, search_path, lookup, verdict);
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
