// The per-thread verdict cache: hits, context in the key, CLOCK eviction, size bounds.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "policy/verdict_cache.hpp"

namespace pgro::policy {
namespace {

std::shared_ptr<const Verdict> verdictWithCount(int n) {
  auto v = std::make_shared<Verdict>();
  v->statement_count = n;
  return v;
}

TEST(VerdictCache, FindsWhatWasInsertedByTextAndContext) {
  VerdictCache cache(4);
  EXPECT_EQ(cache.find("SELECT 1", "public"), nullptr);
  cache.insert("SELECT 1", "public", verdictWithCount(1));
  ASSERT_NE(cache.find("SELECT 1", "public"), nullptr);
  EXPECT_EQ(cache.find("SELECT 1", "public")->statement_count, 1);
  EXPECT_EQ(cache.find("SELECT 1", "other"), nullptr);
  EXPECT_EQ(cache.find("SELECT 1 ", "public"), nullptr);
  EXPECT_EQ(cache.hits(), 2U);
  EXPECT_EQ(cache.misses(), 3U);
  cache.insert("SELECT 1", "public", verdictWithCount(7));
  EXPECT_EQ(cache.find("SELECT 1", "public")->statement_count, 7);
  EXPECT_EQ(cache.size(), 1U);
}

TEST(VerdictCache, ClassifyGoesThroughTheCache) {
  VerdictCache cache(8);
  auto first = cache.classify("INSERT INTO t VALUES (1)", "");
  auto second = cache.classify("INSERT INTO t VALUES (1)", "");
  EXPECT_EQ(first.get(), second.get());
  EXPECT_FALSE(first->allowed);
  EXPECT_EQ(first->sqlstate, "25006");
  EXPECT_EQ(cache.hits(), 1U);
}

TEST(VerdictCache, ClockEvictsEntriesNotUsedSinceTheLastPass) {
  VerdictCache cache(3);
  cache.insert("a", "", verdictWithCount(1));
  cache.insert("b", "", verdictWithCount(2));
  cache.insert("c", "", verdictWithCount(3));
  ASSERT_NE(cache.find("a", ""), nullptr);  // a gets its second chance
  cache.insert("d", "", verdictWithCount(4));
  EXPECT_EQ(cache.size(), 3U);
  EXPECT_EQ(cache.evictions(), 1U);
  EXPECT_NE(cache.find("a", ""), nullptr);
  EXPECT_EQ(cache.find("b", ""), nullptr);
  EXPECT_NE(cache.find("c", ""), nullptr);
  EXPECT_NE(cache.find("d", ""), nullptr);
}

TEST(VerdictCache, StaysBoundedUnderChurnAndHandsOutLiveVerdicts) {
  VerdictCache cache(100);
  auto kept = cache.classify("SELECT 0", "");
  for (int i = 1; i < 5000; ++i) {
    cache.insert("SELECT " + std::to_string(i), "sp", verdictWithCount(i));
    ASSERT_LE(cache.size(), 100U);
  }
  EXPECT_EQ(cache.size(), 100U);
  EXPECT_TRUE(kept->allowed) << "a verdict outlives its eviction";
  for (int i = 4900; i < 5000; ++i) {
    auto v = cache.find("SELECT " + std::to_string(i), "sp");
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(v->statement_count, i);
  }
}

TEST(VerdictCache, LongTextsAreNotKept) {
  VerdictCache cache(4, /*max_text_bytes=*/16);
  auto v = cache.classify("SELECT 1 + 1 + 1 + 1 + 1", "");
  EXPECT_TRUE(v->allowed);
  EXPECT_EQ(cache.size(), 0U);
  cache.insert("SELECT 1", "", verdictWithCount(1));
  EXPECT_EQ(cache.size(), 1U);
  cache.clear();
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find("SELECT 1", ""), nullptr);
}

TEST(VerdictCache, ZeroCapacityMeansOne) {
  VerdictCache cache(0);
  EXPECT_EQ(cache.capacity(), 1U);
  cache.insert("a", "", verdictWithCount(1));
  cache.insert("b", "", verdictWithCount(2));
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_NE(cache.find("b", ""), nullptr);
}

}  // namespace
}  // namespace pgro::policy
