// Stale-if-error and stale-while-revalidate bookkeeping of the ResultCache: how long an
// expired entry stays for getStale(), that it never blocks admission, that it counts against
// the memory bounds and that clear() drops it; when an entry becomes due for refresh and that
// exactly one caller may claim its refresh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cache/result_cache.hpp"

namespace pgro::cache {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

class StaleCacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();

  ResultCache make(CacheLimits limits, std::size_t shards = 1) {
    return ResultCache(limits, clock_, shards);
  }
};

TEST_F(StaleCacheTest, WithoutWindowExpiredEntryIsGone) {
  ResultCache cache = make({.ttl = seconds(10)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  EXPECT_NE(cache.getStale("k"), nullptr);  // live entries are returned too
  clock_->advance(seconds(10));
  EXPECT_EQ(cache.getStale("k"), nullptr);
  EXPECT_EQ(cache.get("k"), nullptr);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(StaleCacheTest, ExpiredEntryIsServedStaleUntilWindowEnds) {
  ResultCache cache = make({.ttl = seconds(10), .stale_if_error = seconds(30)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(10));
  // get() misses (the session goes upstream) but keeps the entry for getStale().
  EXPECT_EQ(cache.get("k"), nullptr);
  EXPECT_EQ(cache.stats().entries, 1u);
  const auto stale = cache.getStale("k");
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(stale->bytes, "v");
  EXPECT_EQ(clock_->now() - stale->stored, seconds(10));
  EXPECT_EQ(cache.getStale("other"), nullptr);
  clock_->advance(seconds(30) - nanoseconds(1));
  EXPECT_NE(cache.getStale("k"), nullptr);
  clock_->advance(nanoseconds(1));
  EXPECT_EQ(cache.getStale("k"), nullptr);
  EXPECT_EQ(cache.get("k"), nullptr);  // drops it now
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(stats.expirations, 1u);
  EXPECT_EQ(stats.stale_served, 2u);
  EXPECT_EQ(stats.hits, 0u);
}

TEST_F(StaleCacheTest, FillReplacesStaleEntry) {
  ResultCache cache = make({.ttl = seconds(10), .stale_if_error = seconds(30)});
  ASSERT_TRUE(cache.put("k", "old", {}));
  clock_->advance(seconds(11));
  EXPECT_EQ(cache.get("k"), nullptr);
  ASSERT_TRUE(cache.put("k", "new", {}));
  EXPECT_EQ(cache.get("k")->bytes, "new");
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST_F(StaleCacheTest, ClearDropsStaleEntries) {
  ResultCache cache = make({.ttl = seconds(10), .stale_if_error = seconds(30)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(11));
  EXPECT_EQ(cache.clear(), 1u);
  EXPECT_EQ(cache.getStale("k"), nullptr);
}

TEST_F(StaleCacheTest, DisablingDropsStaleEntries) {
  ResultCache cache = make({.ttl = seconds(10), .stale_if_error = seconds(30)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(11));
  cache.setEnabled(false);
  cache.setEnabled(true);
  EXPECT_EQ(cache.getStale("k"), nullptr);
}

TEST_F(StaleCacheTest, WindowAppliesToEntriesStoredAfterChange) {
  ResultCache cache = make({.ttl = seconds(10)});
  ASSERT_TRUE(cache.put("before", "v", {}));
  cache.setStaleIfError(seconds(60));
  EXPECT_EQ(cache.staleIfError(), seconds(60));
  ASSERT_TRUE(cache.put("after", "v", {}));
  clock_->advance(seconds(20));
  EXPECT_EQ(cache.getStale("before"), nullptr);
  EXPECT_NE(cache.getStale("after"), nullptr);
}

TEST_F(StaleCacheTest, StaleEntriesCountAgainstBoundsAndNeverBlockAdmission) {
  // Room for exactly two entries of this size in bytes.
  const std::string value(1000, 'x');
  const std::size_t charge = 1 + value.size() + ResultCache::kEntryOverheadBytes;
  ResultCache cache = make({.max_entries = 100,
                            .max_bytes = 2 * charge,
                            .max_entry_bytes = 1000,
                            .ttl = seconds(10),
                            .stale_if_error = seconds(3600)});
  ASSERT_TRUE(cache.put("a", value, {}));
  ASSERT_TRUE(cache.put("b", value, {}));
  EXPECT_EQ(cache.stats().bytes, 2 * charge);
  // Popular stale entries: a newcomer seen once still displaces them, they are not live.
  for (int i = 0; i < 10; ++i) {
    (void)cache.get("a");
    (void)cache.get("b");
  }
  clock_->advance(seconds(11));
  (void)cache.get("c");
  ASSERT_TRUE(cache.put("c", value, {}));
  const auto stats = cache.stats();
  EXPECT_LE(stats.bytes, 2 * charge);
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.admissions_rejected, 0u);
  EXPECT_EQ(stats.evictions, 0u);  // the stale victim counts as an expiration
  EXPECT_EQ(stats.expirations, 1u);
}

TEST_F(StaleCacheTest, RefreshIsDueAfterFractionOfTtl) {
  ResultCache cache = make({.ttl = seconds(10), .refresh_fraction = 0.8});
  ASSERT_TRUE(cache.put("k", "v", {}));
  auto reply = cache.get("k");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->refresh_at, reply->stored + seconds(8));
  EXPECT_FALSE(cache.refreshDue(*reply));
  clock_->advance(seconds(8) - nanoseconds(1));
  EXPECT_FALSE(cache.refreshDue(*reply));
  clock_->advance(nanoseconds(1));
  reply = cache.get("k");  // still served until it expires
  ASSERT_NE(reply, nullptr);
  EXPECT_TRUE(cache.refreshDue(*reply));
}

TEST_F(StaleCacheTest, NoRefreshWhenFractionIsOff) {
  for (double fraction : {0.0, 1.0, -1.0}) {
    ResultCache cache = make({.ttl = seconds(10), .refresh_fraction = fraction});
    ASSERT_TRUE(cache.put("k", "v", {}));
    clock_->advance(seconds(9));
    const auto reply = cache.get("k");
    ASSERT_NE(reply, nullptr);
    EXPECT_FALSE(cache.refreshDue(*reply)) << fraction;
  }
}

TEST_F(StaleCacheTest, RefreshIsClaimedOncePerEntry) {
  ResultCache cache = make({.ttl = seconds(10), .refresh_fraction = 0.5});
  ASSERT_TRUE(cache.put("k", "v1", {}));
  clock_->advance(seconds(6));
  const auto first = cache.get("k");
  ASSERT_TRUE(cache.refreshDue(*first));
  EXPECT_FALSE(cache.claimRefresh("other", *first));
  EXPECT_TRUE(cache.claimRefresh("k", *first));
  EXPECT_FALSE(cache.claimRefresh("k", *first));
  // The refreshed entry replaces it; the old reply can no longer be claimed, the new one
  // only once it is due in its turn.
  ASSERT_TRUE(cache.put("k", "v2", {}));
  EXPECT_FALSE(cache.claimRefresh("k", *first));
  const auto second = cache.get("k");
  EXPECT_EQ(second->bytes, "v2");
  EXPECT_FALSE(cache.refreshDue(*second));
  clock_->advance(seconds(5));
  EXPECT_TRUE(cache.refreshDue(*cache.get("k")));
  EXPECT_TRUE(cache.claimRefresh("k", *second));
  EXPECT_EQ(cache.stats().refreshes_claimed, 2u);
}

TEST_F(StaleCacheTest, ConcurrentClaimsHaveOneWinner) {
  ResultCache cache = make({.ttl = seconds(10), .refresh_fraction = 0.5}, 4);
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(6));
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        const auto reply = cache.get("k");
        if (reply && cache.refreshDue(*reply) && cache.claimRefresh("k", *reply)) ++winners;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
}

// Cache rules and TTL hints: an entry's own TTL, stale window and refresh fraction.
TEST_F(StaleCacheTest, EntryPolicyReplacesTheCacheWideSettings) {
  ResultCache cache = make({.ttl = seconds(100), .stale_if_error = seconds(0)});
  ASSERT_TRUE(cache.put("short", "v", {},
                        {.ttl = std::chrono::milliseconds(1500),
                         .stale_if_error = seconds(20),
                         .refresh_fraction = 0.5}));
  ASSERT_TRUE(cache.put("default", "v", {}));
  const auto entry = cache.get("short");
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(cache.refreshDue(*entry));
  clock_->advance(std::chrono::milliseconds(750));
  EXPECT_TRUE(cache.refreshDue(*entry)) << "half of 1.5 s";
  clock_->advance(std::chrono::milliseconds(750));
  EXPECT_EQ(cache.get("short"), nullptr) << "expired at 1.5 s";
  EXPECT_NE(cache.getStale("short"), nullptr) << "its own stale window";
  EXPECT_NE(cache.get("default"), nullptr) << "the cache-wide TTL";
  clock_->advance(seconds(20));
  EXPECT_EQ(cache.getStale("short"), nullptr);
  EXPECT_EQ(cache.getStale("default"), cache.get("default")) << "no window cache-wide";
  EXPECT_FALSE(cache.put("zero", "v", {}, {.ttl = std::chrono::milliseconds(0)}));
}

TEST_F(StaleCacheTest, MaxAgeMissesWithoutDroppingTheEntry) {
  ResultCache cache = make({.ttl = seconds(100)});
  ASSERT_TRUE(cache.put("k", "v", {}));
  clock_->advance(seconds(10));
  EXPECT_EQ(cache.get("k", seconds(10)), nullptr) << "stored 10 s ago: too old for 10 s";
  EXPECT_NE(cache.get("k", seconds(11)), nullptr);
  EXPECT_NE(cache.get("k"), nullptr) << "still there for a lookup with a longer bound";
  const auto stats = cache.stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 2u);
}

}  // namespace
}  // namespace pgro::cache
