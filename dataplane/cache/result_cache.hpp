// The result cache (DESIGN.md section 4): a bounded, thread-safe map from an opaque key to an
// opaque reply. It knows nothing of the wire: the session builds the key (database, session
// settings that change results, query text, parameters and formats) and records the raw
// backend messages it will replay; here they are only bytes with a size, a cost and an expiry.
//
// Concurrency: the key space is split over shards by std::hash<std::string_view>; each shard
// has its own mutex, LRU list, hash index and frequency sketch, and nothing is global but two
// atomics (enabled, TTL). A hit takes one shard lock for a hash lookup, an O(1) move to the
// LRU head and a shared_ptr copy. Replies are immutable and shared: a reader keeps its
// shared_ptr after the entry is evicted, expired or cleared. Memory of removed entries is
// released after the shard lock is dropped.
//
// Bounds, per shard: the limits are split over the shards (max_entries / shards and
// max_bytes / shards, the remainders spread over the first shards), so the sums never exceed
// the configured limits and no operation needs a global budget or a second lock. An entry is
// charged key size + value size + kEntryOverheadBytes. Since a shard must hold several of
// the largest entries to be useful, the shard count is lowered (down to 1) until each shard
// can hold 4 entries of max_entry_bytes, and until no shard is left without an entry.
// Hashing spreads keys evenly, so per-shard budgets cost little capacity in practice.
//
// Eviction and admission (TinyLFU over LRU; Einziger et al., 2017), weighed by cost: every
// get() records the key's hash in the shard's count-min sketch (frequency_sketch.hpp), so
// the estimate counts client requests, hit or miss. put() does not record: the session
// stores only after a get() missed, and counting that request twice would rank a one-off
// miss above a key served once from the cache. A shard with room admits everything, and
// replacing a resident key is never refused. When a shard must evict to make room:
//
// - Admission::Cost (CACHE_ADMISSION=cost, the default). An entry's value is the upstream
//   time it saves: its frequency estimate x the upstream time of its fill (the `cost` given
//   to put(), from send to ReadyForQuery), the time rounded down to a power of two of
//   microseconds so that run-to-run jitter of one query does not reorder entries. Each
//   victim is taken from the kVictimWindow entries at the LRU tail: an expired one if there
//   is one, else the one of least value (per entry while the entry count is over its limit,
//   per charged byte while only the bytes are; ties: the one nearer the tail). The candidate
//   is admitted only if its value is higher than the sum of the values of the live victims
//   it would displace; on a tie (e.g. every cost 0) frequency decides as below. So a costly
//   aggregate asked now and then outranks a point lookup asked more often but saving 100
//   times less, and a large result must save more than all the small ones it pushes out.
//   Looking at a few tail entries instead of keeping a priority queue (GreedyDual-Size-
//   Frequency's heap) keeps every hit an O(1) LRU move; only put() does the O(window) scan.
// - Admission::Frequency (CACHE_ADMISSION=frequency, the behaviour before costs counted).
//   Victims are taken from the LRU tail in order, and the candidate is admitted only if its
//   estimate is strictly higher than that of every live victim.
//
// In both, expired victims never block a candidate, and ties go to the resident entries.
// With a minimum cost (CACHE_MIN_COST_MS), put() refuses replies whose fill took less, so
// cheap point lookups never enter, whatever the room. There is no admission window
// (W-TinyLFU) and no doorkeeper: the sketch is accurate enough without one (32 bytes per
// entry of max_entries, allocated up front and not charged to max_bytes), and for repeated
// analytics queries a query seen once is the one not worth keeping; a refused query gets in
// on a later run, once it outscores the victims. Aging (halving the sketch every 10 x
// capacity requests) makes old popularity fade, so entries that stopped being asked for are
// displaced in the end.
//
// Expiry: an entry expires at stored + TTL, with the TTL in force when it was stored
// (setTtl() affects later puts only). get() drops an expired entry when it finds one; the
// eviction walk from the LRU tail drops expired victims for free and counts them as
// expirations, not evictions.
//
// Stale-if-error: with a stale window (CACHE_STALE_IF_ERROR_SECONDS), an expired entry is
// kept until expires + window, in force when it was stored. get() misses on it (and leaves
// it where it is, so a fill replaces it), but getStale() still returns it, for the session
// to answer from when upstream cannot. A stale entry is charged like any other, so the
// memory bounds hold with it; it is the first thing eviction takes (it never blocks
// admission, and it is counted as an expiration when dropped). clear() drops stale entries
// with the others: nothing is served stale after a reset.
//
// Stale-while-revalidate: with a refresh fraction (CACHE_SWR), an entry is due for refresh
// at stored + fraction x TTL. get() still serves it until it expires; it reports the entry
// as due (refreshDue()), and claimRefresh() lets one caller per entry start the refresh.
//
// Per entry (cache rules, TTL hints): put() takes an EntryPolicy whose set fields replace the
// cache-wide TTL, stale window and refresh fraction for that entry; get() takes a max_age
// beyond which an entry counts as expired for that lookup (left in place for a fill to
// replace), so a lowered TTL applies to entries stored before it at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/clock.hpp"

namespace pgro::cache {

// How put() ranks a candidate against the entries it would evict; see above.
enum class Admission { Frequency, Cost };

struct CacheLimits {
  std::size_t max_entries = 10000;
  std::size_t max_bytes = 256 << 20;
  std::size_t max_entry_bytes = 1 << 20;  // largest value accepted; the key is not counted
  std::chrono::seconds ttl{900};
  std::chrono::seconds stale_if_error{0};  // kept past expiry for getStale(); 0 = off
  double refresh_fraction = 0;             // of the TTL, then refreshDue(); 0 = off
  Admission admission = Admission::Cost;
  std::chrono::microseconds min_cost{0};  // put() refuses cheaper fills; 0 = off
};

// One cached reply. Immutable once stored; shared by all readers.
struct CachedReply {
  std::string bytes;
  std::chrono::steady_clock::time_point stored;
  std::chrono::steady_clock::time_point expires;  // expired when now() >= expires
  std::chrono::microseconds cost{0};              // upstream time of the fill: weighed by admission
  // Served by getStale() while now() < stale_until (== expires when there is no window).
  std::chrono::steady_clock::time_point stale_until{};
  // Due for a background refresh when now() >= refresh_at (time_point::max(): never).
  std::chrono::steady_clock::time_point refresh_at = std::chrono::steady_clock::time_point::max();
};

// What put() uses instead of the cache-wide settings for one entry; unset fields: those.
struct EntryPolicy {
  std::optional<std::chrono::milliseconds> ttl;
  std::optional<std::chrono::seconds> stale_if_error;
  std::optional<double> refresh_fraction;
};

class ResultCache {
 public:
  // Memory charged per entry besides key and value: the LRU list node with its Entry, the
  // index node and bucket, the CachedReply and its shared_ptr control block (libstdc++,
  // x86-64, rounded up).
  static constexpr std::size_t kEntryOverheadBytes = 256;
  // Admission::Cost picks each victim among this many entries at the LRU tail.
  static constexpr std::size_t kVictimWindow = 8;

  struct Stats {
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;  // charged bytes, see kEntryOverheadBytes
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;  // including expired entries found by get()
    std::uint64_t evictions = 0;
    std::uint64_t expirations = 0;
    std::uint64_t admissions_rejected = 0;  // outranked by the entries they would evict
    std::uint64_t admissions_below_min_cost = 0;
    std::uint64_t inserts = 0;
    std::uint64_t stale_served = 0;       // replies returned by getStale()
    std::uint64_t refreshes_claimed = 0;  // claimRefresh() calls that returned true
  };

  // `clock` may be null: the steady clock is used. `shards` is an upper bound, see above.
  ResultCache(CacheLimits limits, std::shared_ptr<const Clock> clock, std::size_t shards = 16);
  ~ResultCache();
  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  // The reply stored under `key`, or nullptr on a miss, an expired entry (dropped now) or a
  // disabled cache. Counts a hit or a miss and records the request for admission (neither
  // when disabled). An entry stored `max_age` ago or more is a miss too, but stays.
  [[nodiscard]] std::shared_ptr<const CachedReply> get(
      std::string_view key,
      std::chrono::steady_clock::duration max_age = std::chrono::steady_clock::duration::max());

  // The reply under `key` if it is live or within its stale window, else nullptr. For when
  // upstream cannot answer: counts neither a hit nor a miss, records nothing for admission
  // and does not move the entry in the LRU (a stale entry should go first).
  [[nodiscard]] std::shared_ptr<const CachedReply> getStale(std::string_view key);

  // Whether `reply` (from get()) is due for a background refresh.
  [[nodiscard]] bool refreshDue(const CachedReply& reply) const {
    return clock_->now() >= reply.refresh_at;
  }

  // true for exactly one caller per stored entry: that caller refreshes `key` (and put()s
  // the result, which replaces `reply`). false when the entry under `key` is no longer
  // `reply` (replaced, dropped) or another caller claimed it already.
  bool claimRefresh(std::string_view key, const CachedReply& reply);

  // Stores `bytes` under `key`, replacing any entry there, expiring TTL from now. false when
  // the value is over max_entry_bytes, the entry cannot fit a shard, the TTL is 0, the cache
  // is disabled, `cost` (the upstream time of the fill) is below the minimum cost, or
  // admission refused it (call get() first: admission ranks by requests seen). Spare
  // capacity of `bytes` is released first, so the memory held matches the bytes charged.
  bool put(std::string_view key, std::string bytes, std::chrono::microseconds cost,
           const EntryPolicy& policy = {});

  // Removes every entry; returns how many there were. The frequency sketch is kept: how
  // popular a query is does not change when its results are dropped.
  std::uint64_t clear();

  // Applies to entries stored from now on. 0 (or less) makes put() refuse everything.
  void setTtl(std::chrono::seconds ttl);
  [[nodiscard]] std::chrono::seconds ttl() const;

  // Like setTtl(): for entries stored from now on.
  void setStaleIfError(std::chrono::seconds window);
  [[nodiscard]] std::chrono::seconds staleIfError() const;
  void setRefreshFraction(double fraction);  // 0 (or less, or 1 and more): no refresh
  [[nodiscard]] double refreshFraction() const;

  // Like setTtl(): for puts from now on (entries already stored keep their costs).
  void setAdmission(Admission admission);
  [[nodiscard]] Admission admission() const;
  void setMinCost(std::chrono::microseconds cost);  // 0 (or less): off
  [[nodiscard]] std::chrono::microseconds minCost() const;

  // Disabled: get() misses, put() refuses, and the entries are dropped at once (a disabled
  // cache holds no memory but its sketches). Enabled again, it starts empty.
  void setEnabled(bool enabled);
  [[nodiscard]] bool enabled() const;

  [[nodiscard]] Stats stats() const;
  [[nodiscard]] const CacheLimits& limits() const { return limits_; }  // as constructed
  [[nodiscard]] std::size_t shardCount() const { return shards_.size(); }

 private:
  struct Shard;

  [[nodiscard]] Shard& shardFor(std::size_t hash) const;

  const CacheLimits limits_;
  const std::shared_ptr<const Clock> clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> enabled_{true};
  std::atomic<std::int64_t> ttl_seconds_;
  std::atomic<std::int64_t> stale_seconds_;
  std::atomic<double> refresh_fraction_;
  std::atomic<Admission> admission_;
  std::atomic<std::int64_t> min_cost_micros_;
};

}  // namespace pgro::cache
