// DataPlaneAdmin's cache rule methods: AdminTarget views to policy::CacheRule and back,
// stored through the CacheRuleStore (which writes CACHE_RULES_FILE).
#include <spdlog/spdlog.h>

#include "policy/cache_rules.hpp"
#include "policy/fingerprint.hpp"
#include "server/data_plane_admin.hpp"

namespace pgro::server {
namespace {

using Status = CacheRuleResult::Status;

CacheRuleView viewOf(const policy::CacheRule& rule) {
  CacheRuleView view;
  view.fingerprint = policy::fingerprintHex(rule.fingerprint);
  view.sample = rule.sample;
  if (rule.ttl) view.ttl_ms = rule.ttl->count();
  view.swr_percent = rule.swr_percent;
  if (rule.stale_if_error) view.stale_if_error_seconds = rule.stale_if_error->count();
  view.nocache = rule.nocache;
  view.matched = rule.counters->matched.load(std::memory_order_relaxed);
  view.hits = rule.counters->hits.load(std::memory_order_relaxed);
  return view;
}

// A sample longer than this is cut (at a UTF-8 character boundary): it is there for people.
constexpr std::size_t kMaxSampleBytes = 1000;

std::string shortened(std::string text) {
  if (text.size() <= kMaxSampleBytes) return text;
  std::size_t end = kMaxSampleBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

}  // namespace

CacheRuleResult DataPlaneAdmin::addCacheRule(const std::string& query, CacheRuleView view) {
  policy::CacheRule rule;
  if (!query.empty()) {
    std::string error;
    const auto fingerprint = policy::fingerprint(query, &error);
    if (!fingerprint) {
      return {.status = Status::Invalid, .message = "the query does not parse: " + error};
    }
    rule.fingerprint = *fingerprint;
    rule.sample = view.sample.empty() ? query : view.sample;
  } else {
    const auto fingerprint = policy::parseFingerprint(view.fingerprint);
    if (!fingerprint) {
      return {.status = Status::Invalid,
              .message = "expected a query, or a fingerprint of 1 to 16 hex digits, got '" +
                         view.fingerprint + "'"};
    }
    rule.fingerprint = *fingerprint;
    rule.sample = view.sample;
  }
  rule.sample = shortened(std::move(rule.sample));
  if (view.ttl_ms) rule.ttl = std::chrono::milliseconds(*view.ttl_ms);
  rule.swr_percent = view.swr_percent;
  if (view.stale_if_error_seconds) {
    rule.stale_if_error = std::chrono::seconds(*view.stale_if_error_seconds);
  }
  rule.nocache = view.nocache;
  if (std::string problem = rule.check(); !problem.empty()) {
    return {.status = Status::Invalid, .message = std::move(problem)};
  }
  const std::string line = policy::formatCacheRule(rule);
  std::string error;
  if (!ctx_->cache_rules->add(rule, error)) {
    spdlog::error("cache rule not added: {}", error);
    return {.status = Status::Failed, .message = "could not write the rules file: " + error};
  }
  spdlog::info("cache rule added through the admin API: {}", line);
  const auto stored = ctx_->cache_rules->current()->find(rule.fingerprint);
  return {.status = Status::Ok, .message = {}, .rule = viewOf(stored != nullptr ? *stored : rule)};
}

std::vector<CacheRuleView> DataPlaneAdmin::cacheRules() {
  const auto rules = ctx_->cache_rules->current();
  std::vector<CacheRuleView> out;
  for (const policy::CacheRule* rule : rules->sorted()) out.push_back(viewOf(*rule));
  return out;
}

CacheRuleResult DataPlaneAdmin::removeCacheRule(const std::string& text) {
  const auto fingerprint = policy::parseFingerprint(text);
  if (!fingerprint) {
    return {.status = Status::Invalid,
            .message = "expected a fingerprint of 1 to 16 hex digits, got '" + text + "'"};
  }
  std::string error;
  if (!ctx_->cache_rules->remove(*fingerprint, error)) {
    if (error.empty()) {
      return {.status = Status::NotFound,
              .message = "no cache rule for fingerprint " + policy::fingerprintHex(*fingerprint)};
    }
    spdlog::error("cache rule not removed: {}", error);
    return {.status = Status::Failed, .message = "could not write the rules file: " + error};
  }
  spdlog::info("cache rule {} removed through the admin API", policy::fingerprintHex(*fingerprint));
  return {};
}

}  // namespace pgro::server
