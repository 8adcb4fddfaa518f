// Cost-aware admission and eviction (Admission::Cost): entries rank by the upstream time they
// save (frequency x cost of the fill), compared with Admission::Frequency on the same request
// sequences; the minimum cost; ties falling back to frequency.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "cache/result_cache.hpp"

namespace pgro::cache {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// What the session does for one query: look up, and on a miss store the reply with the
// upstream time its fill took.
bool request(ResultCache& cache, const std::string& key, microseconds cost,
             std::size_t value_size = 16) {
  if (cache.get(key)) {
    return true;
  }
  cache.put(key, std::string(value_size, 'v'), cost);
  return false;
}

// A dashboard aggregate (50 ms upstream) asked once a round, between rounds of point lookups
// (200 us) each asked three times in a row: the lookups are asked more often than the
// aggregate, so frequency alone lets them push it out; by upstream time saved it stays.
int aggregateHits(Admission admission) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 20, .ttl = seconds(3600), .admission = admission}, clock, 1);
  int hits = 0;
  int point = 0;
  for (int round = 0; round < 50; ++round) {
    hits += request(cache, "aggregate", milliseconds(50)) && round >= 5;
    for (int p = 0; p < 30; ++p, ++point) {
      for (int repeat = 0; repeat < 3; ++repeat) {
        request(cache, "point " + std::to_string(point), microseconds(200));
      }
    }
  }
  return hits;
}

TEST(CostAdmissionTest, CostlyEntrySurvivesAFloodOfCheapOnes) {
  EXPECT_EQ(aggregateHits(Admission::Cost), 45);
  const int frequency_only = aggregateHits(Admission::Frequency);
  EXPECT_LT(frequency_only, 30) << "frequency alone keeps it about half the time";
}

// The victim is the least valuable of the entries at the LRU tail, not the tail itself.
TEST(CostAdmissionTest, EvictsTheCheapestNearTheTail) {
  for (const Admission admission : {Admission::Cost, Admission::Frequency}) {
    auto clock = std::make_shared<ManualClock>();
    ResultCache cache({.max_entries = 3, .ttl = seconds(3600), .admission = admission}, clock, 1);
    request(cache, "costly", milliseconds(50));  // the LRU tail from here on
    request(cache, "cheap 1", microseconds(100));
    request(cache, "cheap 2", microseconds(100));
    (void)cache.get("cheap 3");
    EXPECT_FALSE(request(cache, "cheap 3", microseconds(100)));  // asked twice: outscores one
    EXPECT_NE(cache.get("cheap 3"), nullptr);
    if (admission == Admission::Cost) {
      EXPECT_NE(cache.get("costly"), nullptr);
      EXPECT_EQ(cache.get("cheap 1"), nullptr);  // of the two cheapest, the older
      EXPECT_NE(cache.get("cheap 2"), nullptr);
    } else {
      EXPECT_EQ(cache.get("costly"), nullptr);
      EXPECT_NE(cache.get("cheap 1"), nullptr);
    }
    EXPECT_EQ(cache.stats().evictions, 1u);
  }
}

// A candidate that needs several entries' room must save more than all of them together.
TEST(CostAdmissionTest, LargeCandidateMustOutweighAllItsVictims) {
  auto clock = std::make_shared<ManualClock>();
  const std::size_t entry = 100 + ResultCache::kEntryOverheadBytes + 1;  // keys "a".."d"
  ResultCache cache({.max_bytes = 3 * entry, .max_entry_bytes = 1000}, clock, 1);
  const microseconds cost(300);  // all alike: the value is the frequency x 256 us
  for (const char* key : {"a", "b", "c"}) {
    for (int i = 0; i < 3; ++i) {
      request(cache, key, cost, 100);
    }
  }
  // "d" needs two entries' room: "a" and "b", 3 requests each.
  const std::string big(200 + ResultCache::kEntryOverheadBytes, 'x');
  for (int i = 0; i < 5; ++i) {
    (void)cache.get("d");
  }
  EXPECT_FALSE(cache.put("d", big, cost));  // 5 > 3 of each, but 5 < 3 + 3
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().admissions_rejected, 1u);
  // The refused candidate put its victims back where they were: "a" is still the tail.
  for (int i = 0; i < 2; ++i) {
    (void)cache.get("d");
  }
  EXPECT_TRUE(cache.put("d", big, cost));  // 7 > 3 + 3
  EXPECT_EQ(cache.stats().evictions, 2u);
  EXPECT_EQ(cache.get("a"), nullptr);
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_NE(cache.get("c"), nullptr);
  EXPECT_NE(cache.get("d"), nullptr);
}

TEST(CostAdmissionTest, MinCostKeepsCheapResultsOutEvenWithRoom) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.ttl = seconds(3600), .min_cost = milliseconds(5)}, clock, 1);
  (void)cache.get("point");
  EXPECT_FALSE(cache.put("point", "v", microseconds(4999)));
  EXPECT_EQ(cache.get("point"), nullptr);
  EXPECT_TRUE(cache.put("aggregate", "v", milliseconds(5)));
  EXPECT_NE(cache.get("aggregate"), nullptr);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.admissions_below_min_cost, 1u);
  EXPECT_EQ(stats.admissions_rejected, 0u);
  EXPECT_EQ(stats.entries, 1u);

  cache.setMinCost(microseconds(0));  // as a reload does
  EXPECT_TRUE(cache.put("point", "v", microseconds(100)));
  EXPECT_NE(cache.get("point"), nullptr);
}

TEST(CostAdmissionTest, EqualValuesFallBackToFrequency) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 1, .ttl = seconds(3600)}, clock, 1);
  ASSERT_EQ(cache.admission(), Admission::Cost);
  for (int i = 0; i < 2; ++i) {
    request(cache, "a", microseconds(1000));
  }
  // 1010 us and 1000 us weigh alike (512 us: costs count in powers of two), and both keys
  // were asked twice: a tie, which goes to the resident entry, as under frequency alone.
  (void)cache.get("b");
  (void)cache.get("b");
  EXPECT_FALSE(cache.put("b", "v", microseconds(1010)));
  EXPECT_EQ(cache.stats().admissions_rejected, 1u);
  (void)cache.get("b");
  EXPECT_TRUE(cache.put("b", "v", microseconds(1010)));  // asked once more: it saves more

  // Unknown costs (0) are all alike: frequency decides.
  ResultCache unknown({.max_entries = 1, .ttl = seconds(3600)}, clock, 1);
  for (int i = 0; i < 2; ++i) {
    request(unknown, "x", microseconds(0));
    (void)unknown.get("y");
  }
  EXPECT_FALSE(unknown.put("y", "v", microseconds(0)));
  (void)unknown.get("y");
  EXPECT_TRUE(unknown.put("y", "v", microseconds(0)));
}

// Fewer requests can outweigh more when each saves more upstream time, and the mode can be
// switched back (CACHE_ADMISSION=frequency) for puts from then on.
TEST(CostAdmissionTest, CostOutweighsFrequencyUntilSwitchedBack) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache({.max_entries = 1, .ttl = seconds(3600)}, clock, 1);
  for (int i = 0; i < 5; ++i) {
    request(cache, "point", microseconds(200));
  }
  (void)cache.get("aggregate");
  EXPECT_TRUE(cache.put("aggregate", "v", milliseconds(40)));  // 1 x 32768 us > 5 x 128 us
  for (int i = 0; i < 5; ++i) {
    (void)cache.get("point");
  }
  EXPECT_FALSE(cache.put("point", "v", microseconds(200)));  // 10 x 128 us < 32768 us
  cache.setAdmission(Admission::Frequency);
  EXPECT_TRUE(cache.put("point", "v", microseconds(200)));  // 10 requests > 1
  EXPECT_EQ(cache.get("aggregate"), nullptr);
}

}  // namespace
}  // namespace pgro::cache
