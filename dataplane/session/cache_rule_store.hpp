// The cache rules in force (policy/cache_rules.hpp) and their file (CACHE_RULES_FILE).
//
// The rules are an immutable CacheRuleSet swapped as a whole: add(), remove() and load() build
// a new set and publish it under a mutex with a new generation. Sessions keep their own
// shared_ptr to the set and compare generations (one relaxed load per cacheable statement),
// taking the mutex only when the set changed.
//
// Every change through the admin API writes the whole file first, atomically (a temporary
// file in the same directory, fsync, rename): the file never holds half a rule set, and a
// change that cannot be written is refused and changes nothing. load() (startup, SIGHUP)
// reads the file; a malformed file is an error naming the line, and the rules stay as they
// were. Without a file (CACHE_RULES_FILE unset) the rules live in memory only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "policy/cache_rules.hpp"

namespace pgro::session {

class CacheRuleStore {
 public:
  explicit CacheRuleStore(std::string path = {}) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty rule set. false with `error` (the path and
  // "line N: ...") keeps the rules in force.
  bool load(std::string& error);
  // Adds `rule`, replacing the rule of its fingerprint, and writes the file. false with
  // `error` (the rule is invalid, or the file cannot be written): nothing changed.
  bool add(policy::CacheRule rule, std::string& error);
  // false with an empty `error` when no rule has `fingerprint`.
  bool remove(std::uint64_t fingerprint, std::string& error);

  [[nodiscard]] std::shared_ptr<const policy::CacheRuleSet> current() const {
    std::lock_guard lock(mu_);
    return rules_;
  }
  // Changes whenever current() does.
  [[nodiscard]] std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  // Writes `rules` to the file (nothing without one); false with `error`.
  bool write(const policy::CacheRuleSet& rules, std::string& error) const;
  void publish(std::shared_ptr<const policy::CacheRuleSet> rules);

  const std::string path_;
  mutable std::mutex mu_;  // guards rules_; held across a write so changes are serialized
  std::shared_ptr<const policy::CacheRuleSet> rules_ =
      std::make_shared<const policy::CacheRuleSet>();
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace pgro::session
