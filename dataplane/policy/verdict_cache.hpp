// A bounded map from (SQL text, context) to the classifier's verdict, so a repeated query
// costs a hash lookup instead of a parse (DESIGN.md section 3, last paragraph).
//
// One instance per worker thread (event loop): it takes no lock and must not be shared
// between threads. Verdicts are handed out as shared_ptr<const Verdict>, so a session may
// keep one after the cache evicted it. `context` is whatever else the caller keys on
// (search_path); the classifier itself only reads the text. Build a new cache (or clear()
// it) when the ClassifierOptions change, e.g. after the function catalog was reloaded.
//
// Eviction is CLOCK (second chance): a hit sets the entry's reference bit; the hand clears
// bits until it finds an entry not used since its last pass. Texts longer than
// max_text_bytes are classified but not kept, so memory stays near
// capacity * (max_text_bytes + a Verdict).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/classifier.hpp"

namespace pgro::policy {

class VerdictCache {
 public:
  explicit VerdictCache(std::size_t capacity, std::size_t max_text_bytes = 64 * 1024)
      : capacity_(capacity == 0 ? 1 : capacity), max_text_bytes_(max_text_bytes) {
    index_.reserve(capacity_);
  }

  VerdictCache(const VerdictCache&) = delete;
  VerdictCache& operator=(const VerdictCache&) = delete;

  // The cached verdict, or nullptr.
  [[nodiscard]] std::shared_ptr<const Verdict> find(std::string_view sql,
                                                    std::string_view context) {
    auto it = index_.find(Key{sql, context});
    if (it == index_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    Slot& slot = *slots_[it->second];
    slot.referenced = true;
    return slot.verdict;
  }

  void insert(std::string_view sql, std::string_view context,
              std::shared_ptr<const Verdict> verdict) {
    if (sql.size() + context.size() > max_text_bytes_) {
      return;
    }
    if (auto it = index_.find(Key{sql, context}); it != index_.end()) {
      slots_[it->second]->verdict = std::move(verdict);
      return;
    }
    std::size_t at = slots_.size();
    if (at < capacity_) {
      slots_.push_back(std::make_unique<Slot>());
    } else {
      at = victim();
      Slot& old = *slots_[at];
      index_.erase(Key{old.sql, old.context});
      ++evictions_;
    }
    Slot& slot = *slots_[at];
    slot.sql.assign(sql);
    slot.context.assign(context);
    slot.verdict = std::move(verdict);
    slot.referenced = false;
    index_.emplace(Key{slot.sql, slot.context}, at);  // views into the slot's own strings
  }

  // find(), or classify() and insert().
  std::shared_ptr<const Verdict> classify(std::string_view sql, std::string_view context,
                                          const ClassifierOptions& options = {}) {
    if (auto cached = find(sql, context)) {
      return cached;
    }
    auto verdict = std::make_shared<const Verdict>(policy::classify(sql, options));
    insert(sql, context, verdict);
    return verdict;
  }

  void clear() {
    index_.clear();
    slots_.clear();
    hand_ = 0;
  }

  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] std::uint64_t hits() const { return hits_; }
  [[nodiscard]] std::uint64_t misses() const { return misses_; }
  [[nodiscard]] std::uint64_t evictions() const { return evictions_; }

 private:
  struct Key {
    std::string_view sql;
    std::string_view context;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const {
      const std::size_t a = std::hash<std::string_view>{}(key.sql);
      const std::size_t b = std::hash<std::string_view>{}(key.context);
      return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    }
  };
  // Heap-allocated so the keys' string_views stay valid while slots_ grows.
  struct Slot {
    std::string sql;
    std::string context;
    std::shared_ptr<const Verdict> verdict;
    bool referenced = false;
  };

  std::size_t victim() {
    for (;;) {
      Slot& slot = *slots_[hand_];
      const std::size_t at = hand_;
      hand_ = (hand_ + 1) % slots_.size();
      if (!slot.referenced) {
        return at;
      }
      slot.referenced = false;
    }
  }

  std::size_t capacity_;
  std::size_t max_text_bytes_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unordered_map<Key, std::size_t, KeyHash> index_;
  std::size_t hand_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace pgro::policy
