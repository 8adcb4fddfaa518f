// Result cache rules by statement shape (DESIGN.md section 4, issue 14 part 3), and the
// `/* pgro:ttl=30s */` hint. Pure logic: the rules file is read and written by the session's
// CacheRuleStore; here is only what its text means.
//
// A rule matches every statement with the same libpg_query fingerprint (the hash of the parse
// tree without constants, comments and spacing: `SELECT * FROM t WHERE id = 1` and
// `select * from t where id=2 -- x` match one rule) and sets any of TTL, SWR percent,
// stale-if-error seconds or no-cache for it. The classifier fingerprints cacheable statements
// (Verdict::fingerprint), so a lookup is one hash probe in an immutable CacheRuleSet.
//
// Rules file (CACHE_RULES_FILE), one rule a line, `#` comments and blank lines ignored:
//   <fingerprint, 16 hex digits> [ttl=DURATION] [swr=PERCENT] [stale=DURATION] [nocache]
//                                [sample="SQL text, \" \\ \n escaped"]
// DURATION is a whole number with an optional unit: ms, s (default), m or h.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgro::policy {

// Counted on the data path (relaxed), shown by `pgro-admin cache rule list`. Shared by the
// snapshots a rule is in, so replacing the rule set keeps them.
struct CacheRuleCounters {
  std::atomic<std::uint64_t> matched{0};  // cacheable statements of the rule's shape
  std::atomic<std::uint64_t> hits{0};     // of those, answered from the cache
};

struct CacheRule {
  std::uint64_t fingerprint = 0;
  std::string sample;  // a statement of the shape, for people (not used to match)
  std::optional<std::chrono::milliseconds> ttl;        // > 0
  std::optional<int> swr_percent;                      // 0..99; 0 = no background refresh
  std::optional<std::chrono::seconds> stale_if_error;  // >= 0
  bool nocache = false;
  std::shared_ptr<CacheRuleCounters> counters = std::make_shared<CacheRuleCounters>();

  // "" when the rule is usable, else what is wrong with it.
  [[nodiscard]] std::string check() const;
};

// An immutable set of rules, shared by the sessions through a shared_ptr<const ...>.
class CacheRuleSet {
 public:
  CacheRuleSet() = default;
  explicit CacheRuleSet(std::vector<CacheRule> rules);

  [[nodiscard]] const CacheRule* find(std::uint64_t fingerprint) const {
    if (by_fingerprint_.empty()) return nullptr;
    auto it = by_fingerprint_.find(fingerprint);
    return it == by_fingerprint_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] bool empty() const { return by_fingerprint_.empty(); }
  [[nodiscard]] std::size_t size() const { return by_fingerprint_.size(); }
  // Ordered by fingerprint (stable file and list output).
  [[nodiscard]] std::vector<const CacheRule*> sorted() const;

  // A copy with `rule` added, replacing one of the same fingerprint (its counters are kept),
  // or without the rule of `fingerprint`.
  [[nodiscard]] CacheRuleSet with(CacheRule rule) const;
  [[nodiscard]] CacheRuleSet without(std::uint64_t fingerprint) const;
  // Counters of rules `previous` has too (same fingerprint) are carried over (a reload).
  void keepCounters(const CacheRuleSet& previous);

 private:
  std::unordered_map<std::uint64_t, CacheRule> by_fingerprint_;
};

struct CacheRulesParse {
  std::optional<CacheRuleSet> rules;  // nullopt on error
  std::string error;                  // "line 3: ..." (1-based)
};
[[nodiscard]] CacheRulesParse parseCacheRules(std::string_view text);
[[nodiscard]] std::string formatCacheRules(const CacheRuleSet& rules);
// One rule as a rules file line (without the newline).
[[nodiscard]] std::string formatCacheRule(const CacheRule& rule);

// "30s", "500ms", "2m", "1h", "30" (seconds): nullopt when not a duration or over ten years.
[[nodiscard]] std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// The shortest exact spelling: 1500 ms -> "1500ms", 120000 ms -> "2m".
[[nodiscard]] std::string formatDuration(std::chrono::milliseconds duration);

// The TTL a `/* pgro:ttl=VALUE */` comment asks for, the smallest of several; nullopt when
// there is none. A hint whose VALUE is not a duration is ignored (silently: the statement is
// cached as if it had none). Looked up in the raw text like `/* pgro:nocache */`, so a string
// constant holding the marker counts too; it can only lower a TTL, never raise it.
[[nodiscard]] std::optional<std::chrono::milliseconds> hintTtl(std::string_view sql);

// How a cacheable statement is cached, from the defaults in force, its rule (or none) and its
// hint (or none).
struct CacheTreatment {
  bool cache = true;  // false: a nocache rule, or a hint of 0
  std::chrono::milliseconds ttl{0};
  std::optional<std::chrono::seconds> stale_if_error;  // nullopt: the cache's default
  std::optional<double> refresh_fraction;              // nullopt: the cache's default
};
// The bound is the rule's TTL if it has one, else `default_ttl` (CACHE_TTL_SECONDS in force);
// a hint lowers it and is clamped to it, never raising it.
[[nodiscard]] CacheTreatment cacheTreatment(std::chrono::milliseconds default_ttl,
                                            const CacheRule* rule,
                                            std::optional<std::chrono::milliseconds> hint);

}  // namespace pgro::policy
