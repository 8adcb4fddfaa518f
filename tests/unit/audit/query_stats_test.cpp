#include "audit/query_stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "audit/statement_trail.hpp"
#include "policy/fingerprint.hpp"

namespace pgro::audit {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const Identity> login(const std::string& name) {
  auto who = std::make_shared<Identity>();
  who->login = name;
  return who;
}

// A finished record of `fingerprint`; `upstream_us` > 0: it went upstream for that long.
Record record(std::uint64_t fingerprint, const std::string& user = "alice",
              std::uint64_t upstream_us = 0) {
  Record r;
  r.fingerprint = fingerprint;
  r.who = login(user);
  r.started = std::chrono::steady_clock::now();
  r.finished = r.started + std::chrono::microseconds(upstream_us + 5);
  if (upstream_us > 0) {
    r.forwarded = r.started + 5us;
    r.cache = CacheOutcome::Miss;
  }
  return r;
}

const ShapeTable::Entry* find(const ShapeTable& table, std::uint64_t fingerprint) {
  for (const auto& e : table.entries()) {
    if (e.fingerprint == fingerprint) return &e;
  }
  return nullptr;
}

TEST(LatencyHistogramTest, BucketsGrowAndQuantilesFallInTheirBucket) {
  for (std::size_t i = 1; i < LatencyHistogram::kBuckets; ++i) {
    EXPECT_GT(LatencyHistogram::upperBound(i), LatencyHistogram::upperBound(i - 1));
  }
  EXPECT_EQ(LatencyHistogram::bucketOf(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucketOf(10), 0u);
  EXPECT_EQ(LatencyHistogram::bucketOf(11), 1u);
  EXPECT_EQ(LatencyHistogram::bucketOf(~std::uint64_t{0}), LatencyHistogram::kBuckets - 1);

  LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.5), 0u);
  for (int i = 0; i < 98; ++i) h.add(1000);
  h.add(100000);
  h.add(100000);
  EXPECT_EQ(h.count(), 100u);
  // 1 ms lies in the bucket (800, 1000] or the next: the estimate is within 25% above.
  EXPECT_GE(h.quantile(0.5), 1000u);
  EXPECT_LE(h.quantile(0.5), 1250u);
  EXPECT_GE(h.quantile(0.98), 1000u);
  EXPECT_LE(h.quantile(0.98), 1250u);
  // Rank 99 of 100 is one of the two slow ones: capped at the largest value seen.
  EXPECT_EQ(h.quantile(0.99), 100000u);
  EXPECT_EQ(h.max(), 100000u);

  LatencyHistogram other;
  other.add(5);
  h.merge(other);
  EXPECT_EQ(h.count(), 101u);
  EXPECT_EQ(h.quantile(0.001), 10u);  // the first bucket's bound
}

TEST(ShapeTableTest, StaysWithinItsCapacityAndCountsEvictions) {
  ShapeTable table(10);
  for (std::uint64_t fp = 1; fp <= 1000; ++fp) table.add(fp, record(fp));
  EXPECT_EQ(table.size(), 10u);
  EXPECT_EQ(table.evictions(), 990u);
  // Every newcomer inherits the smallest estimate as its possible undercount.
  for (const auto& e : table.entries()) {
    EXPECT_EQ(e.counters.calls, 1u);
    EXPECT_GE(e.counters.calls_error, 1u);
  }
  table.clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.evictions(), 0u);
}

TEST(ShapeTableTest, HeavyHittersSurviveAFloodOfSingletons) {
  // Space-saving keeps every shape more frequent than N/K: three shapes of 400 calls each
  // among 2,000 shapes seen once (N = 3,200, K = 10: threshold 320).
  ShapeTable table(10);
  std::mt19937 rng(12);
  std::vector<std::uint64_t> stream;
  for (int i = 0; i < 400; ++i) stream.insert(stream.end(), {1, 2, 3});
  for (std::uint64_t fp = 1000; fp < 3000; ++fp) stream.push_back(fp);
  std::shuffle(stream.begin(), stream.end(), rng);
  for (std::uint64_t fp : stream) table.add(fp, record(fp));

  for (std::uint64_t heavy : {1, 2, 3}) {
    const auto* e = find(table, heavy);
    ASSERT_NE(e, nullptr) << heavy;
    // calls counts only what it saw since it (last) entered; calls_error bounds the rest.
    EXPECT_LE(e->counters.calls, 400u);
    EXPECT_GE(e->counters.calls + e->counters.calls_error, 400u);
  }
}

TEST(ShapeTableTest, CountsEveryFactOfARecord) {
  ShapeTable table(4);
  Record hit = record(7, "alice");
  hit.cache = CacheOutcome::Hit;
  hit.rows = 3;
  hit.bytes = 60;
  table.add(7, hit);
  Record miss = record(7, "bob", 2000);
  miss.rows = 3;
  miss.bytes = 60;
  table.add(7, miss);
  Record coalesced = record(7, "alice");
  coalesced.cache = CacheOutcome::Coalesced;
  table.add(7, coalesced);
  Record stale = record(7, "alice");
  stale.cache = CacheOutcome::Stale;
  table.add(7, stale);
  Record refused = record(7, "carol");
  refused.refused = true;
  refused.sqlstate = "25006";
  table.add(7, refused);
  Record ok = record(7, "alice", 1000);
  ok.sqlstate = "00000";
  table.add(7, ok);

  const auto* e = find(table, 7);
  ASSERT_NE(e, nullptr);
  const ShapeCounters& c = e->counters;
  EXPECT_EQ(c.calls, 6u);
  EXPECT_EQ(c.calls_error, 0u);
  EXPECT_EQ(c.rows, 6u);
  EXPECT_EQ(c.bytes, 120u);
  EXPECT_EQ(c.refused, 1u);
  EXPECT_EQ(c.errors, 1u);
  EXPECT_EQ(c.cache_hits, 1u);
  EXPECT_EQ(c.cache_misses, 2u);
  EXPECT_EQ(c.cache_coalesced, 1u);
  EXPECT_EQ(c.cache_stale, 1u);
  EXPECT_EQ(c.upstream_calls, 2u);
  EXPECT_EQ(c.upstream_micros, 3000u);
  const std::map<std::string, std::uint64_t> logins(c.logins.begin(), c.logins.end());
  EXPECT_EQ(logins, (std::map<std::string, std::uint64_t>{{"alice", 4}, {"bob", 1}, {"carol", 1}}));
}

TEST(ShapeTableTest, KeepsEightLoginsAndCountsTheRest) {
  ShapeTable table(1);
  for (int i = 0; i < 10; ++i) table.add(1, record(1, "user" + std::to_string(i)));
  table.add(1, record(1, "user0"));
  table.add(1, record(1, "user9"));
  const ShapeCounters& c = table.entries().at(0).counters;
  ASSERT_EQ(c.logins.size(), kMaxLogins);
  EXPECT_EQ(c.logins[0], (std::pair<std::string, std::uint64_t>{"user0", 2}));
  EXPECT_EQ(c.other_login_calls, 3u);  // user8, user9 twice
}

TEST(QueryStatsTest, MergesShardsOrdersFiltersAndResets) {
  QueryStats stats(3, 2);
  // Shape 1: 5 calls, fast; shape 2: 2 calls, slow; shape 3: 3 calls, big, two cache hits.
  for (int i = 0; i < 3; ++i) stats.add(0, record(1, "alice", 100));
  for (int i = 0; i < 2; ++i) stats.add(1, record(1, "bob", 100));
  stats.add(0, record(2, "bob", 50000));
  stats.add(1, record(2, "bob", 70000));
  Record big = record(3, "alice", 1000);
  big.bytes = 1 << 20;
  stats.add(1, big);
  for (int i = 0; i < 2; ++i) {
    Record hit = record(3, "alice");
    hit.cache = CacheOutcome::Hit;
    hit.bytes = 1 << 20;
    stats.add(0, hit);
  }
  Record none;  // no fingerprint: counted, not tracked
  stats.add(0, none);
  EXPECT_TRUE(stats.known(0, 1));
  EXPECT_FALSE(stats.known(0, 4));

  auto order = [&](ShapeOrder by, std::string user = {}, std::size_t limit = 0) {
    std::vector<std::uint64_t> fps;
    for (const auto& v : stats.snapshot({by, std::move(user), limit}).shapes) {
      fps.push_back(v.fingerprint);
    }
    return fps;
  };
  EXPECT_EQ(order(ShapeOrder::Calls), (std::vector<std::uint64_t>{1, 3, 2}));
  EXPECT_EQ(order(ShapeOrder::Time), (std::vector<std::uint64_t>{2, 3, 1}));
  EXPECT_EQ(order(ShapeOrder::Bytes), (std::vector<std::uint64_t>{3, 1, 2}));
  EXPECT_EQ(order(ShapeOrder::Saved), (std::vector<std::uint64_t>{3, 1, 2}));
  EXPECT_EQ(order(ShapeOrder::Calls, "bob"), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(order(ShapeOrder::Calls, "nobody"), (std::vector<std::uint64_t>{}));
  EXPECT_EQ(order(ShapeOrder::Calls, {}, 1), (std::vector<std::uint64_t>{1}));

  const auto snap = stats.snapshot({ShapeOrder::Calls, {}, 0});
  EXPECT_EQ(snap.top_k, 3u);
  EXPECT_EQ(snap.statements, 11u);
  EXPECT_EQ(snap.unfingerprinted, 1u);
  EXPECT_EQ(snap.shapes_tracked, 3u);
  const ShapeView& one = snap.shapes[0];
  EXPECT_EQ(one.counters.calls, 5u);
  ASSERT_EQ(one.counters.logins.size(), 2u);
  EXPECT_EQ(one.counters.logins[0], (std::pair<std::string, std::uint64_t>{"alice", 3}));
  EXPECT_EQ(one.counters.logins[1], (std::pair<std::string, std::uint64_t>{"bob", 2}));
  const ShapeView& two = snap.shapes[2];
  EXPECT_EQ(two.mean_micros, 60000u);
  EXPECT_GE(two.p50_micros, 50000u);
  EXPECT_LE(two.p50_micros, 62500u);
  EXPECT_EQ(two.p99_micros, 70000u);
  const ShapeView& three = snap.shapes[1];
  EXPECT_EQ(three.counters.cache_hits, 2u);
  EXPECT_EQ(three.saved_micros, 2u * 1000u);  // two hits x the mean of its one upstream call
  // Each shard holds the three shapes.
  EXPECT_EQ(stats.totals(), (std::pair<std::uint64_t, std::uint64_t>{6, 0}));

  EXPECT_EQ(stats.reset(), 6u);
  const auto empty = stats.snapshot({});
  EXPECT_EQ(empty.statements, 0u);
  EXPECT_TRUE(empty.shapes.empty());
}

TEST(QueryStatsTest, AReadKeepsTopKOfTheMergedShards) {
  QueryStats stats(2, 2);
  stats.add(0, record(1));
  stats.add(0, record(2));
  stats.add(1, record(3));
  stats.add(1, record(3));
  stats.add(1, record(4));
  const auto snap = stats.snapshot({ShapeOrder::Calls, {}, 0});
  EXPECT_EQ(snap.shapes_tracked, 4u);
  ASSERT_EQ(snap.shapes.size(), 2u);
  EXPECT_EQ(snap.shapes[0].fingerprint, 3u);
}

TEST(FingerprintTest, ConstantsDoNotChangeTheShape) {
  const auto a = cachedFingerprint("SELECT * FROM t WHERE id = 1 AND name = 'x'");
  const auto b = cachedFingerprint("select *  from t where id = 42 and name = 'yy' -- hi");
  const auto c = cachedFingerprint("SELECT * FROM t WHERE id = $1 AND other = 'x'");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(a, policy::fingerprint("SELECT * FROM t WHERE id = 7 AND name = 'z'"));
  EXPECT_EQ(cachedFingerprint("SELEC nonsense"), std::nullopt);
  EXPECT_EQ(policy::fingerprintHex(0x1234abcdULL), "000000001234abcd");
}

// The trail feeds the statistics without an audit log: the simple protocol takes the
// verdict's fingerprint, the extended one fingerprints the statement text at Bind.
TEST(StatementTrailStatsTest, CountsBothProtocolsWithoutAnAuditLog) {
  auto stats = std::make_shared<QueryStats>(10, 1);
  auto who = std::make_shared<Identity>();
  who->login = "alice";
  {
    StatementTrail trail;
    trail.attach(nullptr, stats, 0, who, nullptr);
    ASSERT_TRUE(trail.on());
    const std::string sql = "SELECT 1 FROM simple_shape";
    trail.begin(sql);
    trail.shape(policy::fingerprint(sql), sql);
    auto forwarded = trail.forwarded(CacheOutcome::Miss);
    ASSERT_NE(forwarded, nullptr);
    StatementTrail::countReply(forwarded.get(), 'D', 12);
    trail.finish(std::move(forwarded));

    trail.bind("", "", "SELECT $1::int FROM extended_shape", {});
    auto executed = trail.execute("", CacheOutcome::Bypass);
    trail.finish(std::move(executed));
    trail.bind("", "", "SELECT $1::int FROM extended_shape", {});
    trail.finish(trail.execute("", CacheOutcome::Bypass), "57014");

    trail.begin("SELECT 2 FROM simple_shape");
    trail.shape(policy::fingerprint("SELECT 2 FROM simple_shape"), "SELECT 2 FROM simple_shape");
    trail.cached(CacheOutcome::Hit, {});
  }  // the trail's destructor ends the cached statement
  const auto snap = stats->snapshot({ShapeOrder::Calls, {}, 0});
  EXPECT_EQ(snap.statements, 4u);
  EXPECT_EQ(snap.unfingerprinted, 0u);
  ASSERT_EQ(snap.shapes.size(), 2u);
  for (const auto& v : snap.shapes) {
    EXPECT_EQ(v.counters.calls, 2u);
    ASSERT_EQ(v.counters.logins.size(), 1u);
    EXPECT_EQ(v.counters.logins[0].first, "alice");
    if (v.text.find("simple_shape") != std::string::npos) {
      EXPECT_EQ(v.text, "SELECT 1 FROM simple_shape");  // the first one seen
      EXPECT_EQ(v.counters.rows, 1u);
      EXPECT_EQ(v.counters.cache_hits, 1u);
      EXPECT_EQ(v.counters.cache_misses, 1u);
      EXPECT_EQ(v.counters.upstream_calls, 1u);
    } else {
      EXPECT_EQ(v.text, "SELECT $1::int FROM extended_shape");
      EXPECT_EQ(v.counters.upstream_calls, 2u);
      EXPECT_EQ(v.counters.errors, 1u);
    }
  }
}

// Backend messages: type byte, Int32 length, body.
std::string message(char type, std::string_view body = {}) {
  std::string out(1, type);
  const auto length = static_cast<std::uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xff);
  out += body;
  return out;
}

const ShapeView* shapeWith(const QueryStatsSnapshot& snap, std::string_view marker) {
  for (const auto& v : snap.shapes) {
    if (v.text.find(marker) != std::string::npos) return &v;
  }
  return nullptr;
}

// A simple Query of several statements: one record each, in the statistics under each
// statement's own shape, rows from each one's CommandComplete; after an error or a refusal
// the statements that never ran are not counted.
TEST(StatementTrailStatsTest, SplitStringCountsEachStatement) {
  auto stats = std::make_shared<QueryStats>(10, 1);
  auto who = std::make_shared<Identity>();
  who->login = "alice";
  const std::vector<std::string_view> two = {"SELECT 1 FROM a_shape", "SELECT 2 FROM b_shape"};
  const std::vector<std::string_view> three = {"SELECT 3 FROM a_shape", "SELECT 4 FROM b_shape",
                                               "SELECT 5 FROM c_shape"};
  {
    StatementTrail trail;
    trail.attach(nullptr, stats, 0, who, nullptr);
    // Forwarded: the first CommandComplete hands over to the second statement.
    trail.begin("SELECT 1 FROM a_shape; SELECT 2 FROM b_shape");
    trail.shape(std::nullopt, "SELECT 1 FROM a_shape; SELECT 2 FROM b_shape");
    trail.split(two, -1);
    auto record = trail.forwarded(CacheOutcome::Bypass);
    ASSERT_NE(record, nullptr);
    StatementTrail::countReply(record.get(), 'D', 10);
    trail.advance(record);
    ASSERT_NE(record, nullptr);
    EXPECT_EQ(record->text, "SELECT 2 FROM b_shape");  // a new shape's sample
    StatementTrail::countReply(record.get(), 'D', 10);
    StatementTrail::countReply(record.get(), 'D', 10);
    trail.advance(record);  // the last statement: ends with ReadyForQuery
    ASSERT_NE(record, nullptr);
    trail.finish(std::move(record));

    // The second of three fails: the third never runs.
    trail.begin("x");
    trail.split(three, -1);
    record = trail.forwarded(CacheOutcome::Bypass);
    trail.advance(record);
    record->sqlstate = "22012";
    trail.finish(std::move(record));

    // The third of three is refused: nothing runs.
    trail.begin("y");
    trail.split(three, 2);
    trail.refused("y", "no");
    trail.error("42501", "no");
    trail.flush();

    // From the cache: the stored reply's CommandCompletes share out its rows.
    trail.begin("z");
    trail.split(two, -1);
    trail.cached(CacheOutcome::Hit, message('D') + message('C', "SELECT 1") + message('D') +
                                        message('D') + message('D') + message('C', "SELECT 3") +
                                        message('Z', "I"));
  }
  const auto snap = stats->snapshot({ShapeOrder::Calls, {}, 0});
  // 2 + 2 (the third skipped) + 1 (the refused one) + 2.
  EXPECT_EQ(snap.statements, 7u);
  const ShapeView* a = shapeWith(snap, "a_shape");
  const ShapeView* b = shapeWith(snap, "b_shape");
  const ShapeView* c = shapeWith(snap, "c_shape");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(a->text, "SELECT 1 FROM a_shape");
  EXPECT_EQ(a->counters.calls, 3u);
  EXPECT_EQ(a->counters.rows, 1u + 1u);
  EXPECT_EQ(b->counters.calls, 3u);
  EXPECT_EQ(b->counters.rows, 2u + 3u);
  EXPECT_EQ(b->counters.errors, 1u);
  EXPECT_EQ(b->counters.cache_hits, 1u);
  EXPECT_EQ(c->counters.calls, 1u);
  EXPECT_EQ(c->counters.refused, 1u);
}

}  // namespace
}  // namespace pgro::audit
