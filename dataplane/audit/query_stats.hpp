// Query-shape statistics (QUERY_STATS_TOP_K): the second consumer of a finished audit Record,
// next to the audit log. Statements are grouped by libpg_query's fingerprint (constants,
// comments and whitespace ignored); per shape pgro counts calls, rows, bytes, refusals,
// errors, cache outcomes, upstream time (total and a fixed-bucket histogram for p50/p99) and
// the logins that ran it (at most kMaxLogins, the rest counted together).
//
// Bounded memory: each shard keeps at most K shapes (space-saving, Metwally et al. 2005: a
// new shape takes the place of the one with the fewest estimated calls, and inherits that
// estimate as its possible undercount, so a shape that is frequent overall stays). One
// shard per event loop, each with its own mutex that only a reader ever contends for; a
// read merges the shards (at most loops x K shapes) and keeps K.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "audit/record.hpp"

namespace pgro::audit {

// Upstream time in microseconds, counted in fixed buckets growing by 25% from 10 µs (the last
// one open-ended, past about 76 s): a quantile is known within one bucket, i.e. 25%.
class LatencyHistogram {
 public:
  static constexpr std::size_t kBuckets = 72;

  void add(std::uint64_t micros);
  void merge(const LatencyHistogram& other);
  // The upper bound of the bucket that holds quantile `q` (0 < q <= 1), capped at the
  // largest value seen; 0 when empty.
  std::uint64_t quantile(double q) const;
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  // Bucket i holds values up to upperBound(i) (the last one: everything above too).
  static std::uint64_t upperBound(std::size_t bucket);
  static std::size_t bucketOf(std::uint64_t micros);

 private:
  std::array<std::uint32_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

inline constexpr std::size_t kMaxLogins = 8;
inline constexpr std::size_t kSampleTextBytes = 512;

// What one shape has seen, since it (last) entered the table.
struct ShapeCounters {
  std::uint64_t calls = 0;  // statements (refused ones included)
  // Space-saving: calls the shape may have had before it entered (the estimate of the shape
  // it replaced); 0 for a shape tracked since the start or the last reset.
  std::uint64_t calls_error = 0;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t refused = 0;  // by pgro's policy
  std::uint64_t errors = 0;   // ended with an error (SQLSTATE not 00000), refusals included
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t cache_coalesced = 0;
  std::uint64_t cache_stale = 0;
  std::uint64_t upstream_calls = 0;  // statements that went upstream (timed)
  std::uint64_t upstream_micros = 0;
  LatencyHistogram upstream;
  std::vector<std::pair<std::string, std::uint64_t>> logins;  // login, calls; <= kMaxLogins
  std::uint64_t other_login_calls = 0;  // calls by logins beyond the first kMaxLogins

  void merge(const ShapeCounters& other);
};

// One shape as a read reports it.
struct ShapeView {
  std::uint64_t fingerprint = 0;
  std::string text;  // the first statement a shard saw of the shape, <= kSampleTextBytes
  ShapeCounters counters;
  std::uint64_t p50_micros = 0;
  std::uint64_t p99_micros = 0;
  std::uint64_t mean_micros = 0;  // upstream_micros / upstream_calls
  // Upstream time the cache saved: answers from the cache (hits, coalesced, stale) times the
  // shape's mean upstream time. An estimate: it assumes a cached answer would have cost what
  // the shape's misses cost.
  std::uint64_t saved_micros = 0;
};

enum class ShapeOrder : std::uint8_t { Time, Calls, Saved, Bytes };

struct ShapeQuery {
  ShapeOrder order = ShapeOrder::Time;
  std::string login;       // only shapes this login ran (among the kMaxLogins kept); "" = all
  std::size_t limit = 20;  // 0 = all (at most K)
};

struct QueryStatsSnapshot {
  std::size_t top_k = 0;              // 0: statistics are off
  std::uint64_t statements = 0;       // records counted since the last reset
  std::uint64_t unfingerprinted = 0;  // records without a fingerprint (do not parse, ...)
  std::uint64_t evictions = 0;        // shapes dropped for a newcomer since the last reset
  std::uint64_t shapes_tracked = 0;   // distinct shapes held now (all shards)
  std::vector<ShapeView> shapes;      // ordered and filtered as asked
};

// One shard's table; not thread-safe.
class ShapeTable {
 public:
  explicit ShapeTable(std::size_t capacity) : capacity_(capacity) {}

  bool contains(std::uint64_t fingerprint) const { return index_.count(fingerprint) != 0; }
  // Counts `record` under `fingerprint`; `text` is kept as the sample of a new shape.
  void add(std::uint64_t fingerprint, const Record& record);
  std::size_t size() const { return entries_.size(); }
  std::uint64_t evictions() const { return evictions_; }
  void clear();

  struct Entry {
    std::uint64_t fingerprint = 0;
    std::string text;
    ShapeCounters counters;
    std::uint64_t estimate() const { return counters.calls + counters.calls_error; }
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::size_t capacity_;
  std::vector<Entry> entries_;
  std::unordered_map<std::uint64_t, std::size_t> index_;  // fingerprint -> entries_ index
  std::uint64_t evictions_ = 0;
};

class QueryStats {
 public:
  // `top_k` shapes per shard and per read (> 0); `shards`: one per event loop.
  QueryStats(std::size_t top_k, std::size_t shards);
  QueryStats(const QueryStats&) = delete;
  QueryStats& operator=(const QueryStats&) = delete;

  std::size_t topK() const { return top_k_; }
  std::size_t shards() const { return shards_.size(); }

  // Thread-safe; `shard` is the caller's loop (any value works, another shard's costs a
  // contended lock at worst).
  void add(std::size_t shard, const Record& record);
  // Whether the shard tracks the shape already (a caller then need not copy a sample text).
  bool known(std::size_t shard, std::uint64_t fingerprint);

  QueryStatsSnapshot snapshot(const ShapeQuery& query) const;
  // Shapes tracked (all shards) and evictions since the last reset, without a merge.
  std::pair<std::uint64_t, std::uint64_t> totals() const;
  // Forgets every shape and count; returns the shapes dropped.
  std::uint64_t reset();

 private:
  struct alignas(64) Shard {
    explicit Shard(std::size_t capacity) : table(capacity) {}
    mutable std::mutex mu;
    ShapeTable table;
    std::uint64_t statements = 0;
    std::uint64_t unfingerprinted = 0;
  };
  Shard& shardFor(std::size_t shard) { return *shards_[shard % shards_.size()]; }

  const std::size_t top_k_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// The fingerprint of `text` from a per-thread cache of texts (extended-protocol statements
// repeat their text exactly), else libpg_query's. Call on an event loop.
std::optional<std::uint64_t> cachedFingerprint(std::string_view text);

}  // namespace pgro::audit
