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

// Issue 13 section 5: ten thousand refused 60 KB texts from one client kept 577 MB. The bound
// in bytes holds whatever the texts and verdicts weigh.
TEST(VerdictCache, StaysWithinItsBytesUnderLargeTexts) {
  constexpr std::size_t kMaxBytes = std::size_t{2} << 20;
  VerdictCache cache(10000, 64 * 1024, kMaxBytes);
  const std::string filler(60 * 1024, 'x');
  for (int i = 0; i < 1000; ++i) {
    const std::string sql = "INSERT INTO t VALUES ('" + std::to_string(i) + filler + "')";
    auto verdict = cache.classify(sql, "public");
    ASSERT_FALSE(verdict->allowed);
    ASSERT_LE(cache.bytes(), kMaxBytes);
  }
  EXPECT_GT(cache.size(), 10U);  // the budget is used, not wasted
  EXPECT_LT(cache.size(), 40U);  // 2 MB holds about 33 texts of 60 KB
  EXPECT_GE(cache.bytes(), cache.size() * 60 * 1024);
  EXPECT_GT(cache.evictions(), 900U);
  // The latest texts are the ones kept; short texts still fit by the thousand.
  EXPECT_NE(cache.find("INSERT INTO t VALUES ('999" + filler + "')", "public"), nullptr);
  for (int i = 0; i < 1000; ++i) cache.classify("SELECT " + std::to_string(i), "");
  EXPECT_LE(cache.bytes(), kMaxBytes);
  EXPECT_GT(cache.size(), 500U);
}

TEST(VerdictCache, CountsTheVerdictsOwnStrings) {
  // A PREPARE's verdict holds a copy of the whole statement: it weighs as much as the text.
  const std::string sql = "PREPARE p AS SELECT '" + std::string(30 * 1024, 'x') + "'";
  const Verdict verdict = classify(sql);
  ASSERT_TRUE(verdict.allowed) << verdict.message;
  EXPECT_GE(approximateBytes(verdict), sql.size());
  VerdictCache cache(100, 64 * 1024, std::size_t{1} << 20);
  cache.classify(sql, "");
  EXPECT_GE(cache.bytes(), 2 * sql.size());
  // An entry larger than the whole budget is classified, not kept.
  VerdictCache tiny(100, 64 * 1024, 1024);
  EXPECT_TRUE(tiny.classify(sql, "")->allowed);
  EXPECT_EQ(tiny.size(), 0U);
  EXPECT_EQ(tiny.bytes(), 0U);
  tiny.insert("SELECT 1", "", verdictWithCount(1));
  EXPECT_EQ(tiny.size(), 1U);
  EXPECT_GT(tiny.bytes(), 0U);
  tiny.clear();
  EXPECT_EQ(tiny.bytes(), 0U);
}

TEST(VerdictCache, ReplacingAnEntryKeepsTheCountRight) {
  VerdictCache cache(10, 64 * 1024, 4096);
  cache.insert("a", "", verdictWithCount(1));
  const std::size_t one = cache.bytes();
  auto big = std::make_shared<Verdict>();
  big->message.assign(3000, 'm');
  cache.insert("a", "", big);
  EXPECT_GE(cache.bytes(), one + 2900);  // the message, less its small-string buffer
  cache.insert("a", "", verdictWithCount(2));
  EXPECT_EQ(cache.bytes(), one);
  // Zero bytes: nothing is kept.
  VerdictCache none(10, 64 * 1024, 0);
  none.insert("a", "", verdictWithCount(1));
  EXPECT_EQ(none.size(), 0U);
}

}  // namespace
}  // namespace pgro::policy
