// The frequency estimator behind the cache's TinyLFU admission (Einziger, Friedman, Manes,
// "TinyLFU: A Highly Efficient Cache Admission Policy", 2017; the layout follows Caffeine's
// FrequencySketch).
//
// A count-min sketch of 4-bit counters, sixteen to a 64-bit word, four counters per key. An
// estimate is the smallest of the key's four counters, so collisions can only overestimate.
// Updates are conservative (only the counters equal to the current minimum grow), which
// keeps that overestimate small. Counters saturate at 15: admission only needs to tell
// "seen a few times" from "seen once".
//
// Aging: after `sample_size` (10 x capacity) increments every counter is halved, so a key
// that was popular an hour ago does not outrank today's working set forever.
//
// Not thread-safe: each cache shard owns one and uses it under the shard's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pgro::cache {

class FrequencySketch {
 public:
  // Sized for `capacity` resident entries: four words (64 counters, 32 bytes) per entry,
  // rounded up to a power of two, at least 8 words and at most 2^20 words (8 MiB).
  explicit FrequencySketch(std::size_t capacity);

  // Records one occurrence of the key with this hash.
  void increment(std::uint64_t hash);

  // Estimated occurrences, halved at each aging; 0..15.
  [[nodiscard]] unsigned estimate(std::uint64_t hash) const;

  [[nodiscard]] std::size_t counters() const { return table_.size() * kCountersPerWord; }
  [[nodiscard]] std::size_t sampleSize() const { return sample_size_; }
  [[nodiscard]] std::uint64_t agings() const { return agings_; }

 private:
  static constexpr std::size_t kCountersPerWord = 16;
  static constexpr unsigned kMaxCount = 15;
  static constexpr int kDepth = 4;

  [[nodiscard]] std::size_t indexOf(std::uint64_t mixed, int row) const;
  [[nodiscard]] unsigned counterAt(std::size_t index) const;
  void age();

  std::vector<std::uint64_t> table_;
  std::size_t mask_;  // counters() - 1
  std::size_t sample_size_;
  std::size_t additions_ = 0;
  std::uint64_t agings_ = 0;
};

}  // namespace pgro::cache
