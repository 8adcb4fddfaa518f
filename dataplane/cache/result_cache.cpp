#include "cache/result_cache.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "cache/frequency_sketch.hpp"

namespace pgro::cache {
namespace {

// Each shard must hold this many entries of max_entry_bytes, or the cache uses fewer shards.
constexpr std::size_t kLargestEntriesPerShard = 4;

// Release a value's spare capacity when it exceeds this share of its size (1/8) plus a
// little: a reply recorded into a growing buffer can hold twice the memory it uses.
bool hasSlack(const std::string& s) {
  return s.capacity() - s.size() > s.size() / 8 + 64;
}

struct Entry {
  std::string key;
  std::size_t hash;
  std::shared_ptr<const CachedReply> reply;
  std::size_t charge;            // key + value + kEntryOverheadBytes
  bool refresh_claimed = false;  // claimRefresh() returned true for this entry
};

using Lru = std::list<Entry>;  // front: most recently used

// The index stores views into the keys owned by the list nodes (which never move) together
// with the hash computed once per call, so neither lookup nor rehash hashes a key again.
struct KeyRef {
  std::string_view text;
  std::size_t hash;
};
struct KeyRefHash {
  std::size_t operator()(const KeyRef& key) const noexcept { return key.hash; }
};
struct KeyRefEqual {
  bool operator()(const KeyRef& a, const KeyRef& b) const noexcept {
    return a.hash == b.hash && a.text == b.text;
  }
};
using Index = std::unordered_map<KeyRef, Lru::iterator, KeyRefHash, KeyRefEqual>;

std::size_t shardCountFor(const CacheLimits& limits, std::size_t requested) {
  std::size_t n = std::max<std::size_t>(requested, 1);
  n = std::min(n, std::max<std::size_t>(limits.max_entries, 1));
  const std::size_t largest = limits.max_entry_bytes + ResultCache::kEntryOverheadBytes;
  n = std::min(n, std::max<std::size_t>(limits.max_bytes / (kLargestEntriesPerShard * largest), 1));
  return n;
}

// The upstream time an entry saves per request, for Admission::Cost: its fill's time rounded
// down to a power of two of microseconds, so that two fills of one query rank alike.
std::uint64_t costWeight(std::chrono::microseconds cost) {
  return cost.count() <= 0 ? 0 : std::bit_floor(static_cast<std::uint64_t>(cost.count()));
}

// The i-th of n equal parts of total, the remainder going to the first parts.
std::size_t share(std::size_t total, std::size_t n, std::size_t i) {
  return total / n + (i < total % n ? 1 : 0);
}

}  // namespace

// Cache-line aligned so neighbouring shards' mutexes do not share a line.
struct alignas(64) ResultCache::Shard {
  Shard(std::size_t entries, std::size_t bytes)
      : max_entries(entries), max_bytes(bytes), sketch(entries) {}

  // Unlinks the entry from the index and moves its node to `graveyard`, whose destruction
  // (after the lock is released) frees the key and, unless a reader holds it, the reply.
  void retire(Lru::iterator it, Lru& graveyard) {
    index.erase(KeyRef{it->key, it->hash});
    bytes -= it->charge;
    graveyard.splice(graveyard.end(), lru, it);
  }

  // Upstream time the entry saves per unit of time: requests x cost weight (Admission::Cost).
  [[nodiscard]] std::uint64_t value(const Entry& entry) const {
    return sketch.estimate(entry.hash) * costWeight(entry.reply->cost);
  }

  // Admission::Cost's next victim among the kVictimWindow entries at the LRU tail: the first
  // expired one, else the one of least value, per entry (`per_entry`) or per charged byte;
  // on a tie the one nearer the tail. The list must not be empty.
  [[nodiscard]] Lru::iterator cheapestNearTail(std::chrono::steady_clock::time_point now,
                                               bool per_entry) {
    auto it = std::prev(lru.end());
    Lru::iterator best = it;
    std::uint64_t best_value = 0;
    std::size_t best_charge = 1;
    for (std::size_t seen = 0; seen < ResultCache::kVictimWindow; ++seen, --it) {
      if (now >= it->reply->expires) {
        return it;
      }
      const std::uint64_t v = value(*it);
      const std::size_t charge = per_entry ? 1 : it->charge;
      // v / charge < best_value / best_charge, without dividing.
      if (seen == 0 || static_cast<unsigned __int128>(v) * best_charge <
                           static_cast<unsigned __int128>(best_value) * charge) {
        best = it;
        best_value = v;
        best_charge = charge;
      }
      if (it == lru.begin()) {
        break;
      }
    }
    return best;
  }

  const std::size_t max_entries;
  const std::size_t max_bytes;

  std::mutex mutex;  // guards everything below
  Lru lru;
  Index index;
  FrequencySketch sketch;
  std::size_t bytes = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t admissions_rejected = 0;
  std::uint64_t admissions_below_min_cost = 0;
  std::uint64_t inserts = 0;
  std::uint64_t stale_served = 0;
  std::uint64_t refreshes_claimed = 0;
};

ResultCache::ResultCache(CacheLimits limits, std::shared_ptr<const Clock> clock, std::size_t shards)
    : limits_(limits),
      clock_(clock ? std::move(clock) : std::make_shared<const SteadyClock>()),
      ttl_seconds_(limits.ttl.count()),
      stale_seconds_(limits.stale_if_error.count()),
      refresh_fraction_(limits.refresh_fraction),
      admission_(limits.admission),
      min_cost_micros_(limits.min_cost.count()) {
  const std::size_t n = shardCountFor(limits_, shards);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(
        std::make_unique<Shard>(share(limits_.max_entries, n, i), share(limits_.max_bytes, n, i)));
  }
}

ResultCache::~ResultCache() = default;

ResultCache::Shard& ResultCache::shardFor(std::size_t hash) const {
  // Multiply-shift on the upper half: even over any shard count, and independent of the low
  // bits the index's buckets use.
  const std::uint64_t high = static_cast<std::uint64_t>(hash) >> 32;
  return *shards_[static_cast<std::size_t>((high * shards_.size()) >> 32)];
}

std::shared_ptr<const CachedReply> ResultCache::get(std::string_view key,
                                                    std::chrono::steady_clock::duration max_age) {
  if (!enabled_.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  const std::size_t hash = std::hash<std::string_view>{}(key);
  Shard& shard = shardFor(hash);
  const auto now = clock_->now();
  Lru graveyard;  // declared before the lock: freed after it is released

  std::lock_guard lock(shard.mutex);
  shard.sketch.increment(hash);
  const auto found = shard.index.find(KeyRef{key, hash});
  if (found == shard.index.end()) {
    ++shard.misses;
    return nullptr;
  }
  const Lru::iterator it = found->second;
  if (now >= it->reply->expires) {
    // Within its stale window it stays (for getStale(), until a fill replaces it).
    if (now >= it->reply->stale_until) {
      shard.retire(it, graveyard);
      ++shard.expirations;
    }
    ++shard.misses;
    return nullptr;
  }
  if (now - it->reply->stored >= max_age) {
    ++shard.misses;  // too old for this lookup: a fill replaces it
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it);
  ++shard.hits;
  return it->reply;
}

std::shared_ptr<const CachedReply> ResultCache::getStale(std::string_view key) {
  if (!enabled_.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  const std::size_t hash = std::hash<std::string_view>{}(key);
  Shard& shard = shardFor(hash);
  const auto now = clock_->now();

  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(KeyRef{key, hash});
  if (found == shard.index.end() || now >= found->second->reply->stale_until) {
    return nullptr;
  }
  ++shard.stale_served;
  return found->second->reply;
}

bool ResultCache::claimRefresh(std::string_view key, const CachedReply& reply) {
  const std::size_t hash = std::hash<std::string_view>{}(key);
  Shard& shard = shardFor(hash);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(KeyRef{key, hash});
  if (found == shard.index.end() || found->second->reply.get() != &reply ||
      found->second->refresh_claimed) {
    return false;
  }
  found->second->refresh_claimed = true;
  ++shard.refreshes_claimed;
  return true;
}

bool ResultCache::put(std::string_view key, std::string bytes, std::chrono::microseconds cost,
                      const EntryPolicy& policy) {
  const std::chrono::milliseconds ttl =
      policy.ttl ? *policy.ttl
                 : std::chrono::milliseconds(
                       std::chrono::seconds{ttl_seconds_.load(std::memory_order_relaxed)});
  if (!enabled_.load(std::memory_order_relaxed) || ttl <= std::chrono::milliseconds::zero() ||
      bytes.size() > limits_.max_entry_bytes) {
    return false;
  }
  const std::size_t hash = std::hash<std::string_view>{}(key);
  Shard& shard = shardFor(hash);
  const std::size_t charge = key.size() + bytes.size() + kEntryOverheadBytes;
  if (charge > shard.max_bytes || shard.max_entries == 0) {
    return false;
  }

  // Allocate and copy outside the lock.
  if (hasSlack(bytes)) {
    bytes.shrink_to_fit();
  }
  const auto now = clock_->now();
  const std::chrono::seconds stale{
      std::max<std::int64_t>(policy.stale_if_error ? policy.stale_if_error->count()
                                                   : stale_seconds_.load(std::memory_order_relaxed),
                             0)};
  const double fraction = policy.refresh_fraction
                              ? *policy.refresh_fraction
                              : refresh_fraction_.load(std::memory_order_relaxed);
  auto refresh_at = std::chrono::steady_clock::time_point::max();
  if (fraction > 0 && fraction < 1) {
    refresh_at =
        now +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double, std::milli>(static_cast<double>(ttl.count()) * fraction));
  }
  auto reply = std::make_shared<const CachedReply>(CachedReply{.bytes = std::move(bytes),
                                                               .stored = now,
                                                               .expires = now + ttl,
                                                               .cost = cost,
                                                               .stale_until = now + ttl + stale,
                                                               .refresh_at = refresh_at});
  Lru node;
  node.push_back(
      Entry{.key = std::string(key), .hash = hash, .reply = std::move(reply), .charge = charge});
  Lru graveyard;  // declared before the lock: freed after it is released

  std::lock_guard lock(shard.mutex);
  // Checked again under the lock: setEnabled(false) clears each shard under its lock after
  // storing the flag, so no put can slip an entry in behind it.
  if (!enabled_.load(std::memory_order_acquire)) {
    return false;
  }
  if (cost.count() < min_cost_micros_.load(std::memory_order_relaxed)) {
    ++shard.admissions_below_min_cost;
    return false;
  }
  bool resident = false;
  if (const auto found = shard.index.find(KeyRef{key, hash}); found != shard.index.end()) {
    shard.retire(found->second, graveyard);
    resident = true;
  }

  // Victims until the entry fits, moved out of the LRU list into `victims`; each with the
  // node that followed it, so that a refusal can put them back where they were (undone
  // newest first, each finds its successor in place). This ends before the list does: with
  // every entry gone, 1 <= max_entries and charge <= max_bytes.
  const bool by_cost = admission_.load(std::memory_order_relaxed) == Admission::Cost;
  Lru victims;
  std::vector<std::pair<Lru::iterator, Lru::iterator>> taken;
  std::size_t entries_after = shard.lru.size() + 1;
  std::size_t bytes_after = shard.bytes + charge;
  bool live_victim = false;
  unsigned strongest_victim = 0;
  std::uint64_t victims_value = 0;
  while (entries_after > shard.max_entries || bytes_after > shard.max_bytes) {
    const Lru::iterator victim =
        by_cost ? shard.cheapestNearTail(now, entries_after > shard.max_entries)
                : std::prev(shard.lru.end());
    taken.emplace_back(victim, std::next(victim));
    victims.splice(victims.end(), shard.lru, victim);
    --entries_after;
    bytes_after -= victim->charge;
    if (now < victim->reply->expires) {
      live_victim = true;
      strongest_victim = std::max(strongest_victim, shard.sketch.estimate(victim->hash));
      victims_value += shard.value(*victim);
    }
  }
  if (live_victim && !resident) {
    const unsigned estimate = shard.sketch.estimate(hash);
    const std::uint64_t value = estimate * costWeight(cost);
    const bool admit =
        by_cost && value != victims_value ? value > victims_value : estimate > strongest_victim;
    if (!admit) {
      for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
        shard.lru.splice(it->second, victims, it->first);
      }
      ++shard.admissions_rejected;
      return false;
    }
  }
  for (const Entry& victim : victims) {
    ++(now < victim.reply->expires ? shard.evictions : shard.expirations);
    shard.index.erase(KeyRef{victim.key, victim.hash});
    shard.bytes -= victim.charge;
  }
  graveyard.splice(graveyard.end(), victims);

  shard.lru.splice(shard.lru.begin(), node);
  Entry& entry = shard.lru.front();
  shard.index.emplace(KeyRef{entry.key, hash}, shard.lru.begin());
  shard.bytes += charge;
  ++shard.inserts;
  return true;
}

std::uint64_t ResultCache::clear() {
  std::uint64_t removed = 0;
  for (const auto& shard : shards_) {
    Lru graveyard;  // both declared before the lock: freed after it is released
    Index index;
    std::lock_guard lock(shard->mutex);
    removed += shard->lru.size();
    graveyard.splice(graveyard.end(), shard->lru);
    index.swap(shard->index);
    shard->bytes = 0;
  }
  return removed;
}

void ResultCache::setTtl(std::chrono::seconds ttl) {
  ttl_seconds_.store(ttl.count(), std::memory_order_relaxed);
}

std::chrono::seconds ResultCache::ttl() const {
  return std::chrono::seconds{ttl_seconds_.load(std::memory_order_relaxed)};
}

void ResultCache::setStaleIfError(std::chrono::seconds window) {
  stale_seconds_.store(window.count(), std::memory_order_relaxed);
}

std::chrono::seconds ResultCache::staleIfError() const {
  return std::chrono::seconds{stale_seconds_.load(std::memory_order_relaxed)};
}

void ResultCache::setRefreshFraction(double fraction) {
  refresh_fraction_.store(fraction, std::memory_order_relaxed);
}

double ResultCache::refreshFraction() const {
  return refresh_fraction_.load(std::memory_order_relaxed);
}

void ResultCache::setAdmission(Admission admission) {
  admission_.store(admission, std::memory_order_relaxed);
}

Admission ResultCache::admission() const {
  return admission_.load(std::memory_order_relaxed);
}

void ResultCache::setMinCost(std::chrono::microseconds cost) {
  min_cost_micros_.store(cost.count(), std::memory_order_relaxed);
}

std::chrono::microseconds ResultCache::minCost() const {
  return std::chrono::microseconds{min_cost_micros_.load(std::memory_order_relaxed)};
}

void ResultCache::setEnabled(bool enabled) {
  enabled_.store(enabled, std::memory_order_release);
  if (!enabled) {
    clear();
  }
}

bool ResultCache::enabled() const {
  return enabled_.load(std::memory_order_relaxed);
}

ResultCache::Stats ResultCache::stats() const {
  Stats total;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total.entries += shard->lru.size();
    total.bytes += shard->bytes;
    total.hits += shard->hits;
    total.misses += shard->misses;
    total.evictions += shard->evictions;
    total.expirations += shard->expirations;
    total.admissions_rejected += shard->admissions_rejected;
    total.admissions_below_min_cost += shard->admissions_below_min_cost;
    total.inserts += shard->inserts;
    total.stale_served += shard->stale_served;
    total.refreshes_claimed += shard->refreshes_claimed;
  }
  return total;
}

}  // namespace pgro::cache
