// Bounds under a flood of distinct keys, and TinyLFU admission: the frequency sketch on its
// own, then scan resistance of the whole cache.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>

#include "cache/frequency_sketch.hpp"
#include "cache/result_cache.hpp"

namespace pgro::cache {
namespace {

using std::chrono::seconds;

// What the session does for one query: look up, and on a miss store the reply.
bool request(ResultCache& cache, const std::string& key, std::size_t value_size = 16) {
  if (cache.get(key)) {
    return true;
  }
  cache.put(key, std::string(value_size, 'v'), std::chrono::microseconds(100));
  return false;
}

TEST(FrequencySketchTest, CountsAndSaturates) {
  FrequencySketch sketch(100);
  const std::uint64_t key = std::hash<std::string>{}("SELECT 1");
  EXPECT_EQ(sketch.estimate(key), 0u);
  for (unsigned i = 1; i <= 5; ++i) {
    sketch.increment(key);
    EXPECT_EQ(sketch.estimate(key), i);
  }
  for (int i = 0; i < 30; ++i) {
    sketch.increment(key);
  }
  EXPECT_EQ(sketch.estimate(key), 15u);
}

TEST(FrequencySketchTest, SizedFromCapacity) {
  EXPECT_EQ(FrequencySketch(0).counters(), 8u * 16);
  EXPECT_EQ(FrequencySketch(1000).counters(), 4096u * 16);
  EXPECT_EQ(FrequencySketch(1000).sampleSize(), 10000u);
  EXPECT_EQ(FrequencySketch(std::size_t{1} << 30).counters(), (std::size_t{1} << 20) * 16);
}

TEST(FrequencySketchTest, AgingHalvesCounts) {
  FrequencySketch sketch(8);  // sample size 80
  const std::uint64_t hot = std::hash<std::string>{}("hot");
  for (int i = 0; i < 12; ++i) {
    sketch.increment(hot);
  }
  ASSERT_EQ(sketch.estimate(hot), 12u);
  std::uint64_t n = 0;
  while (sketch.agings() == 0) {
    sketch.increment(std::hash<std::string>{}("other" + std::to_string(n++)));
  }
  EXPECT_EQ(sketch.estimate(hot), 6u);
}

// Between two agings the sketch may see ten times its capacity in distinct keys; few of those
// seen once may pass for repeats, or one-off queries would win admission.
TEST(FrequencySketchTest, FewOverestimatesJustBeforeAging) {
  constexpr std::size_t kCapacity = 1000;
  constexpr std::size_t kKeys = 9 * kCapacity;
  FrequencySketch sketch(kCapacity);
  for (std::size_t i = 0; i < kKeys; ++i) {
    sketch.increment(std::hash<std::string>{}("key" + std::to_string(i)));
  }
  ASSERT_EQ(sketch.agings(), 0u);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kKeys; ++i) {
    wrong += sketch.estimate(std::hash<std::string>{}("key" + std::to_string(i))) != 1;
  }
  EXPECT_LT(wrong, kKeys / 100);
}

// Every put is checked against the limits, with values from empty to max_entry_bytes, TTLs
// running out along the way, and the charged bytes recomputed from what is still there.
TEST(ResultCacheBoundsTest, FloodOfDistinctKeysNeverExceedsLimits) {
  auto clock = std::make_shared<ManualClock>();
  const CacheLimits limits{
      .max_entries = 200, .max_bytes = 96 << 10, .max_entry_bytes = 2048, .ttl = seconds(30)};
  ResultCache cache(limits, clock);
  ASSERT_GT(cache.shardCount(), 1u);
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::size_t> size(0, limits.max_entry_bytes + 16);
  std::unordered_map<std::string, std::size_t> stored;  // key -> value size
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "db|search_path|SELECT " + std::to_string(i);
    const std::size_t value_size = size(rng);
    for (int repeat = 0; repeat < 1 + i % 3; ++repeat) {
      (void)cache.get(key);
    }
    const bool stored_now = cache.put(key, std::string(value_size, 'x'), {});
    if (value_size > limits.max_entry_bytes) {
      EXPECT_FALSE(stored_now);
    }
    if (stored_now) {
      stored[key] = value_size;
    }
    const auto stats = cache.stats();
    ASSERT_LE(stats.entries, limits.max_entries) << "after put " << i;
    ASSERT_LE(stats.bytes, limits.max_bytes) << "after put " << i;
    if (i % 100 == 99) {
      clock->advance(seconds(7));
    }
  }
  const auto before = cache.stats();
  EXPECT_GT(before.evictions, 0u);
  EXPECT_GT(before.expirations, 0u);
  EXPECT_GT(before.admissions_rejected, 0u);
  EXPECT_EQ(before.inserts, stored.size());
  EXPECT_EQ(before.inserts - before.evictions - before.expirations, before.entries);

  std::uint64_t charged = 0;
  std::uint64_t live = 0;
  for (const auto& [key, value_size] : stored) {
    if (const auto reply = cache.get(key)) {
      EXPECT_EQ(reply->bytes.size(), value_size);
      charged += key.size() + value_size + ResultCache::kEntryOverheadBytes;
      ++live;
    }
  }
  const auto after = cache.stats();
  EXPECT_EQ(after.entries, live);
  EXPECT_EQ(after.bytes, charged);
}

// The classic scan: a working set of hot queries, each asked once a round, between rounds of
// one-off queries that alone would fill the cache twice over. Under plain LRU the hot set's
// reuse distance (220 requests) exceeds the capacity (100) and it would never hit; TinyLFU
// keeps the one-offs out.
TEST(ResultCacheAdmissionTest, FrequentKeysSurviveScanOfOneOffKeys) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 100, .ttl = seconds(3600)}, clock, 1);
  constexpr int kHot = 20;
  constexpr int kRounds = 50;
  int scan = 0;
  int hot_hits_after_warmup = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int h = 0; h < kHot; ++h) {
      const bool hit = request(cache, "hot " + std::to_string(h));
      if (round >= 5) {
        hot_hits_after_warmup += hit;
      }
    }
    for (int s = 0; s < 200; ++s) {
      request(cache, "one-off " + std::to_string(scan++));
    }
  }
  const int hot_requests = kHot * (kRounds - 5);
  EXPECT_GE(hot_hits_after_warmup, hot_requests * 95 / 100);
  for (int h = 0; h < kHot; ++h) {
    EXPECT_NE(cache.get("hot " + std::to_string(h)), nullptr) << h;
  }
  const auto stats = cache.stats();
  EXPECT_GT(stats.admissions_rejected, 0u);
  EXPECT_EQ(stats.entries, 100u);
}

// Admission follows demand: once the old working set stops being asked for, aging lets a new
// one in.
TEST(ResultCacheAdmissionTest, NewWorkingSetReplacesOldOne) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 50, .ttl = seconds(3600)}, clock, 1);
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 50; ++k) {
      request(cache, "old " + std::to_string(k));
    }
  }
  int new_hits = 0;
  for (int round = 0; round < 40; ++round) {
    for (int k = 0; k < 50; ++k) {
      new_hits += request(cache, "new " + std::to_string(k)) && round >= 30;
    }
  }
  EXPECT_EQ(new_hits, 10 * 50);
}

TEST(ResultCacheAdmissionTest, ExpiredVictimNeverBlocksAdmission) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 1, .ttl = seconds(10)}, clock, 1);
  for (int i = 0; i < 10; ++i) {
    request(cache, "popular");
  }
  clock->advance(seconds(10));
  EXPECT_FALSE(request(cache, "rare"));
  EXPECT_NE(cache.get("rare"), nullptr);
  EXPECT_EQ(cache.stats().admissions_rejected, 0u);
}

TEST(ResultCacheAdmissionTest, LargeCandidateMustOutscoreEveryVictim) {
  auto clock = std::make_shared<ManualClock>();
  const std::size_t entry = 100 + ResultCache::kEntryOverheadBytes + 1;  // key "a".."d"
  // Frequency alone: the costs do not count (CostAdmissionTest has the cost-weighed case).
  ResultCache cache(
      {.max_bytes = 3 * entry, .max_entry_bytes = 1000, .admission = Admission::Frequency}, clock,
      1);
  for (const char* key : {"a", "b", "c"}) {
    request(cache, key, 100);
  }
  for (int i = 0; i < 5; ++i) {
    request(cache, "b", 100);  // "b" becomes popular, then "a" and "c" are read again
  }
  request(cache, "a", 100);
  request(cache, "c", 100);
  // "d" needs two entries' room: the LRU tail is "b" (6 requests), then "a" (2).
  const std::string big(200 + ResultCache::kEntryOverheadBytes, 'x');
  for (int i = 0; i < 3; ++i) {
    (void)cache.get("d");
  }
  EXPECT_FALSE(cache.put("d", big, {}));
  EXPECT_EQ(cache.stats().entries, 3u);
  for (int i = 0; i < 4; ++i) {
    (void)cache.get("d");
  }
  EXPECT_TRUE(cache.put("d", big, {}));
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_EQ(cache.get("a"), nullptr);
  EXPECT_NE(cache.get("c"), nullptr);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

}  // namespace
}  // namespace pgro::cache
