// ResultCache basics: hits, misses, expiry at the TTL boundary, TTL changes, clear, disable,
// size limits, LRU order and the counters.
#include "cache/result_cache.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace pgro::cache {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

class ResultCacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();

  ResultCache make(CacheLimits limits = {}, std::size_t shards = 16) {
    return ResultCache(limits, clock_, shards);
  }
};

TEST_F(ResultCacheTest, MissThenHitReturnsStoredReply) {
  ResultCache cache = make();
  EXPECT_EQ(cache.get("k"), nullptr);
  ASSERT_TRUE(cache.put("k", "reply bytes", microseconds(1500)));
  const auto reply = cache.get("k");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->bytes, "reply bytes");
  EXPECT_EQ(reply->cost, microseconds(1500));
  EXPECT_EQ(reply->stored, clock_->now());
  EXPECT_EQ(reply->expires, clock_->now() + seconds(900));
  EXPECT_EQ(cache.get("other"), nullptr);
}

TEST_F(ResultCacheTest, KeysAreOpaqueBytes) {
  ResultCache cache = make();
  const std::string with_nul("db\0SELECT 1", 11);
  ASSERT_TRUE(cache.put(with_nul, "a", {}));
  EXPECT_EQ(cache.get(std::string("db")), nullptr);
  ASSERT_NE(cache.get(with_nul), nullptr);
  EXPECT_TRUE(cache.put("", "empty key", {}));
  EXPECT_EQ(cache.get("")->bytes, "empty key");
}

TEST_F(ResultCacheTest, ExpiresExactlyAtTtl) {
  ResultCache cache = make({.ttl = seconds(10)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(10) - nanoseconds(1));
  EXPECT_NE(cache.get("k"), nullptr);
  clock_->advance(nanoseconds(1));
  EXPECT_EQ(cache.get("k"), nullptr);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(stats.expirations, 1u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
}

TEST_F(ResultCacheTest, ReaderKeepsReplyAfterExpiryAndClear) {
  ResultCache cache = make({.ttl = seconds(1)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  const auto held = cache.get("k");
  clock_->advance(seconds(2));
  EXPECT_EQ(cache.get("k"), nullptr);
  EXPECT_EQ(cache.clear(), 0u);
  EXPECT_EQ(held->bytes, "v");
}

TEST_F(ResultCacheTest, SetTtlAppliesToNewEntriesOnly) {
  ResultCache cache = make({.ttl = seconds(100)});
  ASSERT_TRUE(cache.put("old", "v", {}));
  cache.setTtl(seconds(5));
  EXPECT_EQ(cache.ttl(), seconds(5));
  ASSERT_TRUE(cache.put("new", "v", {}));
  clock_->advance(seconds(5));
  EXPECT_EQ(cache.get("new"), nullptr);
  EXPECT_NE(cache.get("old"), nullptr);
  clock_->advance(seconds(95));
  EXPECT_EQ(cache.get("old"), nullptr);
}

TEST_F(ResultCacheTest, ZeroTtlRefusesPuts) {
  ResultCache cache = make();
  cache.setTtl(seconds(0));
  EXPECT_FALSE(cache.put("k", "v", {}));
  cache.setTtl(seconds(-3));
  EXPECT_FALSE(cache.put("k", "v", {}));
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(ResultCacheTest, PutReplacesAndRestartsTtl) {
  ResultCache cache = make({.ttl = seconds(10)});
  ASSERT_TRUE(cache.put("k", "first", {}));
  clock_->advance(seconds(8));
  ASSERT_TRUE(cache.put("k", "second, longer", {}));
  clock_->advance(seconds(8));
  const auto reply = cache.get("k");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->bytes, "second, longer");
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, 1 + reply->bytes.size() + ResultCache::kEntryOverheadBytes);
  EXPECT_EQ(stats.inserts, 2u);
}

TEST_F(ResultCacheTest, ClearReturnsCountAndEmpties) {
  ResultCache cache = make();
  for (int i = 0; i < 37; ++i) {
    ASSERT_TRUE(cache.put("key" + std::to_string(i), "v", {}));
  }
  EXPECT_EQ(cache.clear(), 37u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.get("key1"), nullptr);
  EXPECT_EQ(cache.clear(), 0u);
  EXPECT_TRUE(cache.put("key1", "v", {}));
}

TEST_F(ResultCacheTest, DisabledCacheMissesRefusesAndDropsEntries) {
  ResultCache cache = make();
  ASSERT_TRUE(cache.put("k", "v", {}));
  cache.setEnabled(false);
  EXPECT_FALSE(cache.enabled());
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.get("k"), nullptr);
  EXPECT_FALSE(cache.put("k", "v", {}));
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 0u);
  cache.setEnabled(true);
  EXPECT_EQ(cache.get("k"), nullptr);
  EXPECT_TRUE(cache.put("k", "v", {}));
  EXPECT_NE(cache.get("k"), nullptr);
}

TEST_F(ResultCacheTest, RefusesValueOverMaxEntryBytes) {
  ResultCache cache = make({.max_entry_bytes = 100});
  EXPECT_FALSE(cache.put("k", std::string(101, 'x'), {}));
  EXPECT_TRUE(cache.put("k", std::string(100, 'x'), {}));
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST_F(ResultCacheTest, RefusesEntryLargerThanItsShard) {
  // One shard of 1000 bytes: the value is under max_entry_bytes, but the charged entry is not.
  ResultCache cache = make({.max_bytes = 1000, .max_entry_bytes = 1000});
  EXPECT_EQ(cache.shardCount(), 1u);
  EXPECT_FALSE(cache.put("k", std::string(1000 - ResultCache::kEntryOverheadBytes, 'x'), {}));
  EXPECT_TRUE(cache.put("k", std::string(999 - ResultCache::kEntryOverheadBytes, 'x'), {}));
  EXPECT_EQ(cache.stats().bytes, 1000u);
}

TEST_F(ResultCacheTest, ShardCountKeepsRoomForLargestEntries) {
  EXPECT_EQ(make().shardCount(), 16u);  // defaults: 16 MiB a shard, 15 entries of 1 MiB
  EXPECT_EQ(make({.max_entries = 3}).shardCount(), 3u);
  EXPECT_EQ(make({.max_entries = 0}).shardCount(), 1u);
  const std::size_t largest = (1 << 20) + ResultCache::kEntryOverheadBytes;
  EXPECT_EQ(make({.max_bytes = 8 * largest}).shardCount(), 2u);
  EXPECT_EQ(make({.max_bytes = 1 << 20}).shardCount(), 1u);
  EXPECT_EQ(make({}, 0).shardCount(), 1u);
}

TEST_F(ResultCacheTest, ZeroEntriesStoresNothing) {
  ResultCache cache = make({.max_entries = 0});
  EXPECT_FALSE(cache.put("k", "v", {}));
  EXPECT_EQ(cache.get("k"), nullptr);
}

TEST_F(ResultCacheTest, EvictsLeastRecentlyUsed) {
  ResultCache cache = make({.max_entries = 3}, 1);
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_EQ(cache.get(key), nullptr);
    ASSERT_TRUE(cache.put(key, "v", {}));
  }
  ASSERT_NE(cache.get("a"), nullptr);  // "b" is now the least recently used
  // "d" needs more requests than "b" (one) to be admitted into the full shard.
  EXPECT_EQ(cache.get("d"), nullptr);
  EXPECT_EQ(cache.get("d"), nullptr);
  ASSERT_TRUE(cache.put("d", "v", {}));
  EXPECT_NE(cache.get("a"), nullptr);
  EXPECT_NE(cache.get("c"), nullptr);
  EXPECT_NE(cache.get("d"), nullptr);
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST_F(ResultCacheTest, StatsCountEverything) {
  ResultCache cache = make({.max_entries = 2, .ttl = seconds(10)}, 1);
  EXPECT_EQ(cache.get("a"), nullptr);       // miss
  EXPECT_TRUE(cache.put("a", "1", {}));     // insert
  EXPECT_EQ(cache.get("b"), nullptr);       // miss
  EXPECT_TRUE(cache.put("b", "22", {}));    // insert
  EXPECT_NE(cache.get("a"), nullptr);       // hit
  EXPECT_NE(cache.get("a"), nullptr);       // hit
  EXPECT_EQ(cache.get("c"), nullptr);       // miss
  EXPECT_FALSE(cache.put("c", "333", {}));  // rejected: "b" was requested as often
  EXPECT_EQ(cache.get("c"), nullptr);       // miss
  EXPECT_TRUE(cache.put("c", "333", {}));   // insert, evicts "b"
  clock_->advance(seconds(10));
  EXPECT_EQ(cache.get("d"), nullptr);       // miss
  EXPECT_TRUE(cache.put("d", "4444", {}));  // insert, drops expired "a" (tail)
  EXPECT_EQ(cache.get("c"), nullptr);       // miss, expired
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 6u);
  EXPECT_EQ(stats.inserts, 4u);
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_EQ(stats.expirations, 2u);
  EXPECT_EQ(stats.admissions_rejected, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, 1 + 4 + ResultCache::kEntryOverheadBytes);
}

TEST_F(ResultCacheTest, ReleasesSpareCapacityOfStoredValue) {
  ResultCache cache = make();
  std::string bytes;
  bytes.reserve(64 << 10);
  bytes.assign(1000, 'x');
  ASSERT_TRUE(cache.put("k", std::move(bytes), {}));
  EXPECT_LT(cache.get("k")->bytes.capacity(), 2000u);
}

TEST_F(ResultCacheTest, NullClockUsesSteadyClock) {
  ResultCache cache({}, nullptr);
  ASSERT_TRUE(cache.put("k", "v", {}));
  const auto reply = cache.get("k");
  ASSERT_NE(reply, nullptr);
  EXPECT_LE(reply->stored, std::chrono::steady_clock::now());
}

}  // namespace
}  // namespace pgro::cache
