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
// bits until it finds an entry not used since its last pass. The cache holds at most
// `capacity` entries and `max_bytes` bytes (the texts, the contexts and an estimate of each
// Verdict with its strings and lists, see approximateBytes()): ten thousand refused 60 KB
// texts once kept 577 MB per loop. Texts longer than max_text_bytes, and entries larger than
// max_bytes, are classified but not kept.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/classifier.hpp"

namespace pgro::policy {

// The heap memory a Verdict holds, estimated from the sizes of its parts (allocator overhead
// aside): the struct and every string and list in it.
inline std::size_t approximateBytes(const Verdict& verdict) {
  std::size_t bytes = sizeof(Verdict) + verdict.message.capacity();
  for (const SetAction& set : verdict.sets) {
    bytes += sizeof(SetAction) + set.name.capacity() + set.value.capacity();
  }
  for (const TextEdit& edit : verdict.edits) bytes += sizeof(TextEdit) + edit.text.capacity();
  const StatementKinds& kinds = verdict.kinds;
  bytes += kinds.isolation.capacity();
  for (const auto* names : {&kinds.holds, &kinds.closes, &kinds.executes, &kinds.deallocates,
                            &verdict.unknown_functions}) {
    for (const std::string& name : *names) bytes += sizeof(std::string) + name.capacity();
  }
  for (const PreparedSql& prepared : kinds.prepares) {
    bytes += sizeof(PreparedSql) + prepared.name.capacity() + prepared.sql.capacity();
  }
  for (const SessionStatement& statement : kinds.session_statements) {
    bytes += sizeof(SessionStatement) + statement.name.capacity();
  }
  bytes += verdict.statements.capacity() * sizeof(StatementSpan);
  return bytes;
}

class VerdictCache {
 public:
  explicit VerdictCache(std::size_t capacity, std::size_t max_text_bytes = 64 * 1024,
                        std::size_t max_bytes = std::numeric_limits<std::size_t>::max())
      : capacity_(capacity == 0 ? 1 : capacity),
        max_text_bytes_(max_text_bytes),
        max_bytes_(max_bytes) {
    index_.reserve(std::min<std::size_t>(capacity_, 1024));
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
      Slot& slot = *slots_[it->second];
      bytes_ -= slot.bytes;
      slot.verdict = std::move(verdict);
      slot.bytes = entryBytes(sql, context, *slot.verdict);
      bytes_ += slot.bytes;
      while (bytes_ > max_bytes_ && !index_.empty()) evict(victim());
      return;
    }
    const std::size_t bytes = entryBytes(sql, context, *verdict);
    if (bytes > max_bytes_) {
      return;
    }
    while (!index_.empty() && (index_.size() >= capacity_ || bytes_ + bytes > max_bytes_)) {
      evict(victim());
    }
    std::size_t at = slots_.size();
    if (!free_.empty()) {
      at = free_.back();
      free_.pop_back();
    } else {
      slots_.push_back(std::make_unique<Slot>());
    }
    Slot& slot = *slots_[at];
    slot.sql.assign(sql);
    slot.context.assign(context);
    slot.verdict = std::move(verdict);
    slot.referenced = false;
    slot.bytes = bytes;
    bytes_ += bytes;
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
    free_.clear();
    hand_ = 0;
    bytes_ = 0;
  }

  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  // What the entries are estimated to hold, and the bound on it.
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  [[nodiscard]] std::size_t maxBytes() const { return max_bytes_; }
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
  // Heap-allocated so the keys' string_views stay valid while slots_ grows. A free slot
  // (in free_) has no verdict.
  struct Slot {
    std::string sql;
    std::string context;
    std::shared_ptr<const Verdict> verdict;
    bool referenced = false;
    std::size_t bytes = 0;
  };

  // The slot, the index entry and the verdict, each with its strings. A verdict shared by two
  // caches (texts and shapes) is counted in both: the bound errs on the safe side.
  static std::size_t entryBytes(std::string_view sql, std::string_view context,
                                const Verdict& verdict) {
    constexpr std::size_t kOverhead = sizeof(Slot) + sizeof(std::unique_ptr<Slot>) + 64;
    return kOverhead + sql.size() + context.size() + approximateBytes(verdict);
  }

  // An occupied slot not referenced since the hand last passed it (index_ is not empty).
  std::size_t victim() {
    for (;;) {
      Slot& slot = *slots_[hand_];
      const std::size_t at = hand_;
      hand_ = (hand_ + 1) % slots_.size();
      if (slot.verdict == nullptr) {
        continue;
      }
      if (!slot.referenced) {
        return at;
      }
      slot.referenced = false;
    }
  }

  void evict(std::size_t at) {
    Slot& slot = *slots_[at];
    index_.erase(Key{slot.sql, slot.context});
    bytes_ -= slot.bytes;
    // Give the memory back: a slot may be reused for a short text.
    std::string().swap(slot.sql);
    std::string().swap(slot.context);
    slot.verdict.reset();
    slot.bytes = 0;
    free_.push_back(at);
    ++evictions_;
  }

  std::size_t capacity_;
  std::size_t max_text_bytes_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::vector<std::size_t> free_;  // slots emptied by eviction
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unordered_map<Key, std::size_t, KeyHash> index_;
  std::size_t hand_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace pgro::policy
