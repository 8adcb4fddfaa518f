#include "cache/frequency_sketch.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace pgro::cache {
namespace {

// Four words (64 counters) per entry of capacity: between two agings the sketch sees up to
// ten times as many distinct keys as the shard holds, and with one word per entry (Caffeine's
// size) a quarter of the keys seen once would then look like repeats; with four, under 1%.
constexpr std::size_t kWordsPerEntry = 4;
constexpr std::size_t kMinWords = 8;
constexpr std::size_t kMaxWords = std::size_t{1} << 20;

// Odd 64-bit constants (from CityHash and FNV), one per row of the sketch.
constexpr std::array<std::uint64_t, 4> kSeeds = {0xc3a5c85c97cb3127ULL, 0xb492b66fbe98f273ULL,
                                                 0x9ae16a3b2f90404fULL, 0xcbf29ce484222325ULL};

// splitmix64's finalizer. The cache picks a shard from some bits of the key's hash, so keys
// in one shard share those bits; mixing spreads the remaining entropy over all 64.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t capacity) {
  const std::size_t entries = std::min(std::max<std::size_t>(capacity, 1), kMaxWords);
  const std::size_t words =
      std::clamp(std::bit_ceil(entries * kWordsPerEntry), kMinWords, kMaxWords);
  table_.assign(words, 0);
  mask_ = words * kCountersPerWord - 1;
  sample_size_ = 10 * std::max<std::size_t>(capacity, 8);
}

std::size_t FrequencySketch::indexOf(std::uint64_t mixed, int row) const {
  std::uint64_t x = (mixed + kSeeds[row]) * kSeeds[row];
  x ^= x >> 32;
  return static_cast<std::size_t>(x) & mask_;
}

unsigned FrequencySketch::counterAt(std::size_t index) const {
  const std::uint64_t word = table_[index / kCountersPerWord];
  return static_cast<unsigned>((word >> ((index % kCountersPerWord) * 4)) & 0xF);
}

void FrequencySketch::increment(std::uint64_t hash) {
  const std::uint64_t mixed = mix(hash);
  std::array<std::size_t, kDepth> index{};
  unsigned minimum = kMaxCount;
  for (int row = 0; row < kDepth; ++row) {
    index[row] = indexOf(mixed, row);
    minimum = std::min(minimum, counterAt(index[row]));
  }
  if (minimum == kMaxCount) {
    return;
  }
  // Conservative update: a counter above the minimum already counts other keys as well.
  for (const std::size_t i : index) {
    if (counterAt(i) == minimum) {
      table_[i / kCountersPerWord] += std::uint64_t{1} << ((i % kCountersPerWord) * 4);
    }
  }
  if (++additions_ >= sample_size_) {
    age();
  }
}

unsigned FrequencySketch::estimate(std::uint64_t hash) const {
  const std::uint64_t mixed = mix(hash);
  unsigned minimum = kMaxCount;
  for (int row = 0; row < kDepth; ++row) {
    minimum = std::min(minimum, counterAt(indexOf(mixed, row)));
  }
  return minimum;
}

void FrequencySketch::age() {
  // Halve all sixteen counters of a word at once: shift, then drop the bit each counter
  // received from its upper neighbour.
  for (std::uint64_t& word : table_) {
    word = (word >> 1) & 0x7777777777777777ULL;
  }
  additions_ /= 2;
  ++agings_;
}

}  // namespace pgro::cache
