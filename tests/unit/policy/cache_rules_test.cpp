// Cache rules (policy/cache_rules.hpp): the rules file, the TTL hint and how they combine.
#include "policy/cache_rules.hpp"
#include "policy/fingerprint.hpp"

#include <gtest/gtest.h>

#include <string>

#include "policy/classifier.hpp"

namespace pgro::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(CacheRuleDuration, UnitsAndBounds) {
  EXPECT_EQ(parseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(parseDuration("45"), milliseconds(45000));  // seconds by default
  EXPECT_EQ(parseDuration("0s"), milliseconds(0));
  for (const char* bad :
       {"", "s", "-1s", "+1s", "1.5s", "1 s", "10d", "30sec", "ms", "99999999h"}) {
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(milliseconds(120000)), "2m");
  EXPECT_EQ(formatDuration(milliseconds(7200000)), "2h");
  EXPECT_EQ(formatDuration(milliseconds(30000)), "30s");
}

TEST(CacheRuleHint, ParsedFromTheComment) {
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=30s */"), milliseconds(30000));
  EXPECT_EQ(hintTtl("/* pgro:ttl=500ms */ SELECT 1"), milliseconds(500));
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl= 2m */"), milliseconds(120000));
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=5s */ /* pgro:ttl=1s */"), milliseconds(1000))
      << "several hints: the lowest";
  EXPECT_EQ(hintTtl("SELECT 1"), std::nullopt);
  // Invalid values are ignored (as if there were no hint), a valid one beside them counts.
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=soon */"), std::nullopt);
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=-5s */"), std::nullopt);
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=5 days */ /* pgro:ttl=3s */"), milliseconds(3000));
  EXPECT_EQ(hintTtl("SELECT 1 /* pgro:ttl=5s"), std::nullopt) << "unterminated";
  EXPECT_EQ(hintTtl("SELECT 1 /*pgro:ttl=5s*/"), std::nullopt) << "only the exact marker";
}

TEST(CacheRuleTreatment, HintLowersButNeverRaises) {
  const milliseconds global(900000);
  auto none = cacheTreatment(global, nullptr, std::nullopt);
  EXPECT_TRUE(none.cache);
  EXPECT_EQ(none.ttl, global);
  EXPECT_EQ(cacheTreatment(global, nullptr, milliseconds(30000)).ttl, milliseconds(30000));
  EXPECT_EQ(cacheTreatment(global, nullptr, milliseconds(3600000)).ttl, global) << "clamped";

  CacheRule rule;
  rule.ttl = milliseconds(10000);
  rule.swr_percent = 50;
  rule.stale_if_error = seconds(300);
  auto ruled = cacheTreatment(global, &rule, std::nullopt);
  EXPECT_EQ(ruled.ttl, milliseconds(10000));
  EXPECT_EQ(ruled.refresh_fraction, 0.5);
  EXPECT_EQ(ruled.stale_if_error, seconds(300));
  EXPECT_EQ(cacheTreatment(global, &rule, milliseconds(60000)).ttl, milliseconds(10000))
      << "a hint above the rule's TTL is clamped to it";
  EXPECT_EQ(cacheTreatment(global, &rule, milliseconds(2000)).ttl, milliseconds(2000));

  // A rule may raise the TTL above CACHE_TTL_SECONDS: it is the admin's bound.
  CacheRule longer;
  longer.ttl = milliseconds(3600000);
  EXPECT_EQ(cacheTreatment(global, &longer, std::nullopt).ttl, milliseconds(3600000));

  CacheRule stale_only;
  stale_only.stale_if_error = seconds(60);
  auto partial = cacheTreatment(global, &stale_only, std::nullopt);
  EXPECT_EQ(partial.ttl, global);
  EXPECT_EQ(partial.refresh_fraction, std::nullopt) << "unset: the cache-wide setting";

  CacheRule off;
  off.nocache = true;
  EXPECT_FALSE(cacheTreatment(global, &off, std::nullopt).cache);
  EXPECT_FALSE(cacheTreatment(global, nullptr, milliseconds(0)).cache) << "ttl=0s: not cached";
}

TEST(CacheRuleFile, RoundTrip) {
  const std::string text =
      "# comment\n"
      "\n"
      "00000000000000ab ttl=30s swr=50 stale=5m sample=\"SELECT \\\"x\\\" FROM t\\nWHERE id = 1\"\n"
      "  00000000000000CD   nocache  \n"
      "ef ttl=500ms\n";
  const auto parsed = parseCacheRules(text);
  ASSERT_TRUE(parsed.rules) << parsed.error;
  ASSERT_EQ(parsed.rules->size(), 3U);
  const CacheRule* ab = parsed.rules->find(0xab);
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->ttl, milliseconds(30000));
  EXPECT_EQ(ab->swr_percent, 50);
  EXPECT_EQ(ab->stale_if_error, seconds(300));
  EXPECT_FALSE(ab->nocache);
  EXPECT_EQ(ab->sample, "SELECT \"x\" FROM t\nWHERE id = 1");
  ASSERT_NE(parsed.rules->find(0xcd), nullptr);
  EXPECT_TRUE(parsed.rules->find(0xcd)->nocache);
  EXPECT_EQ(parsed.rules->find(0xef)->ttl, milliseconds(500));

  const std::string written = formatCacheRules(*parsed.rules);
  EXPECT_NE(written.find("00000000000000ab ttl=30s swr=50 stale=5m sample=\"SELECT \\\"x\\\" FROM "
                         "t\\nWHERE id = 1\"\n"),
            std::string::npos)
      << written;
  const auto again = parseCacheRules(written);
  ASSERT_TRUE(again.rules) << again.error;
  EXPECT_EQ(formatCacheRules(*again.rules), written);
}

TEST(CacheRuleFile, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"00ab ttl=30s\nxyz ttl=1s\n", "line 2: expected a fingerprint"},
      {"# c\n\n00ab ttl=soon\n", "line 3: ttl: expected a duration"},
      {"00ab ttl=0s\n", "line 1: ttl must be more than 0"},
      {"00ab swr=100\n", "line 1: swr must be 0..99"},
      {"00ab swr=x\n", "line 1: swr: expected a percent"},
      {"00ab stale=1500ms\n", "line 1: stale: expected whole seconds"},
      {"00ab ttl=1s colour=blue\n", "line 1: unknown field 'colour'"},
      {"00ab ttl=1s bogus\n", "line 1: unknown field 'bogus'"},
      {"00ab\n", "line 1: a rule sets at least one of"},
      {"00ab nocache ttl=1s\n", "line 1: nocache cannot be combined"},
      {"00ab ttl=1s sample=\"open\n", "line 1: sample: unterminated"},
      {"00ab ttl=1s\n00AB ttl=2s\n",
       "line 2: fingerprint 00000000000000ab already has a rule on line 1"},
      {"10000000000000000 ttl=1s\n", "line 1: expected a fingerprint"},
  };
  for (const auto& [text, error] : cases) {
    const auto parsed = parseCacheRules(text);
    EXPECT_FALSE(parsed.rules) << text;
    EXPECT_EQ(parsed.error.rfind(error, 0), 0U) << text << " -> " << parsed.error;
  }
  EXPECT_TRUE(parseCacheRules("").rules);
  EXPECT_TRUE(parseCacheRules("# only comments\n").rules);
}

TEST(CacheRuleSet, ReplacingARuleKeepsItsCounters) {
  CacheRule rule;
  rule.fingerprint = 7;
  rule.ttl = milliseconds(1000);
  CacheRuleSet set = CacheRuleSet().with(rule);
  set.find(7)->counters->hits.fetch_add(3);
  CacheRule replacement;
  replacement.fingerprint = 7;
  replacement.nocache = true;
  const CacheRuleSet next = set.with(replacement);
  EXPECT_TRUE(next.find(7)->nocache);
  EXPECT_EQ(next.find(7)->counters->hits.load(), 3U);
  EXPECT_EQ(next.without(7).find(7), nullptr);
  EXPECT_NE(set.find(7), nullptr) << "the old snapshot is unchanged";

  auto reloaded = parseCacheRules("0000000000000007 ttl=2s\n");
  ASSERT_TRUE(reloaded.rules);
  reloaded.rules->keepCounters(next);
  EXPECT_EQ(reloaded.rules->find(7)->counters->hits.load(), 3U);
}

TEST(CacheRuleFingerprint, ConstantsCommentsAndSpacingDoNotMatter) {
  std::string error;
  const auto a = fingerprint("SELECT * FROM t WHERE id = 1", &error);
  const auto b = fingerprint("select *  from t where id=42 /* pgro:ttl=1s */ -- x", &error);
  const auto c = fingerprint("SELECT * FROM t WHERE name = 'x'", &error);
  ASSERT_TRUE(a && b && c) << error;
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_FALSE(fingerprint("SELEC 1", &error));
  EXPECT_NE(error.find("syntax error"), std::string::npos) << error;
  EXPECT_EQ(parseFingerprint(fingerprintHex(*a)), *a);
  EXPECT_EQ(fingerprintHex(0xab), "00000000000000ab");
  EXPECT_EQ(parseFingerprint("0x12"), std::nullopt);
  EXPECT_EQ(parseFingerprint(""), std::nullopt);
}

TEST(CacheRuleFingerprint, TheClassifierComputesItForCacheableStatements) {
  std::string error;
  const Verdict verdict = classify("SELECT * FROM t WHERE id = 5 /* pgro:ttl=2s */");
  ASSERT_TRUE(verdict.cacheable);
  EXPECT_EQ(verdict.fingerprint, fingerprint("SELECT * FROM t WHERE id = 1", &error));
  EXPECT_EQ(verdict.hint_ttl, milliseconds(2000));
  const Verdict uncached = classify("SELECT random()");
  EXPECT_FALSE(uncached.cacheable);
  EXPECT_EQ(uncached.fingerprint, std::nullopt);
}

}  // namespace
}  // namespace pgro::policy
