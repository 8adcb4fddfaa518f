// Query-shape statistics (QUERY_STATS_TOP_K) against the real pgro and PostgreSQL, read with
// the real pgro-admin: a known mix of statements from two logins (literals that differ, cache
// hits, refused writes, the extended protocol through pgbench) comes back from `pgro-admin top
// --json` with exactly its counts per shape, the --user filter, the orderings and reset; with
// one pooled server connection shared by two clients, each call is counted for its login. The
// audit log stays off: the statistics do not need it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

using nlohmann::json;

struct TwoLogins {
  std::string dir = makeTempDir("pgro-top");
  std::unique_ptr<PgroProcess> pgro;

  explicit TwoLogins(Env overrides = {}) {
    const std::string path = dir + "/users";
    std::ofstream(path) << usersLine("alice", "alice-pass") << usersLine("bob", "bob-pass");
    overrides.emplace("USERS_FILE", path);
    overrides.emplace("PROXY_USER", "");
    overrides.emplace("PROXY_PASSWORD", "");
    overrides.emplace("AUDIT_LOG", "off");
    pgro = startPgro(overrides);
  }

  RawPgClient as(const std::string& user) const {
    return RawPgClient::connect(pgro->host(), pgro->port(), user, user + "-pass", pgro->database());
  }

  // pgro-admin [args] against this pgro; the exit code is checked.
  CommandResult admin(std::vector<std::string> args) const {
    args.insert(args.begin(), {PGRO_ADMIN_BINARY, "--addr", pgro->env().at("ADMIN_LISTEN")});
    CommandResult r = runCommand(args, Env{{"PGRO_ADMIN_TOKEN", ""}, {"PGRO_ADMIN_ADDR", ""}}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    return r;
  }

  json top(std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {"--json", "top"});
    const CommandResult r = admin(args);
    return json::parse(r.out);
  }
};

// The shape whose sample text contains `marker`; null json when none.
json shapeWith(const json& top, std::string_view marker) {
  for (const json& s : top["shapes"]) {
    if (s["text"].get<std::string>().find(marker) != std::string::npos) return s;
  }
  return json();
}

// Positions of the shapes with these markers in the listing (-1: absent).
std::vector<int> positions(const json& top, const std::vector<std::string>& markers) {
  std::vector<int> out;
  for (const auto& marker : markers) {
    int at = -1;
    for (std::size_t i = 0; i < top["shapes"].size(); ++i) {
      if (top["shapes"][i]["text"].get<std::string>().find(marker) != std::string::npos) {
        at = static_cast<int>(i);
      }
    }
    out.push_back(at);
  }
  return out;
}

void simple(RawPgClient& client, const std::string& sql, bool expect_ok = true) {
  client.send(wire::query(sql));
  const auto answer = client.readReply();
  ASSERT_TRUE(answer.ready) << sql << ": " << describe(answer);
  EXPECT_EQ(succeeded(answer), expect_ok) << sql << ": " << describe(answer);
}

TEST(QueryStatsTest, TopReportsAKnownMixPerShapeAndLogin) {
  TwoLogins t;
  RawPgClient alice = t.as("alice");
  RawPgClient bob = t.as("bob");

  // Shape A: 30 calls, a new literal each time (each a cache miss), 20 by alice, 10 by bob.
  for (int i = 0; i < 30; ++i) {
    simple(i < 20 ? alice : bob, "SELECT " + std::to_string(i) + " AS n, 'v" + std::to_string(i) +
                                     "' AS label /* top-shape-a */");
  }
  // Shape B: the same text 5 times by bob: one miss (4 rows), then 4 cache hits.
  for (int i = 0; i < 5; ++i)
    simple(bob, "SELECT g FROM generate_series(1, 4) g /* top-shape-b */");
  // Shape W: three writes by alice, refused by the policy.
  for (int i = 0; i < 3; ++i) {
    simple(alice, "INSERT INTO top_nowhere VALUES (" + std::to_string(i) + ") /* top-shape-w */",
           false);
  }
  // Shape T: two slow reads by alice (distinct literals: both go upstream).
  for (int i = 0; i < 2; ++i) {
    simple(alice, "SELECT count(*) FROM generate_series(1, " + std::to_string(1500000 + i) +
                      ") /* top-shape-t */");
  }
  // Shape C: the extended protocol, prepared once, executed 7 times by bob (pgbench). (A
  // fingerprint ignores constants and column aliases: `SELECT $1::int AS c` would be shape A.)
  const std::string script = t.dir + "/bench.sql";
  std::ofstream(script) << "\\set v random(1, 1000000)\n"
                        << "SELECT count(*) FROM pg_namespace WHERE oid > :v /* top-shape-c */;\n";
  Env env = t.pgro->libpqEnv();
  env["PGUSER"] = "bob";
  env["PGPASSWORD"] = "bob-pass";
  const auto bench =
      runCommand({"pgbench", "-n", "-M", "prepared", "-c", "1", "-t", "7", "-f", script}, env, 60s);
  ASSERT_EQ(bench.exit_code, 0) << bench.describe();

  const json all = t.top({"--by", "calls", "--limit", "100"});
  ASSERT_TRUE(all["enabled"].get<bool>()) << all.dump(2);
  EXPECT_EQ(all["top_k"], 500);
  EXPECT_EQ(all["evictions"], 0);

  const json a = shapeWith(all, "top-shape-a");
  ASSERT_TRUE(a.is_object()) << all.dump(2);
  EXPECT_EQ(a["calls"], 30) << a;
  EXPECT_EQ(a["calls_error"], 0) << a;
  EXPECT_EQ(a["rows"], 30) << a;
  EXPECT_GT(a["bytes"].get<uint64_t>(), 0u) << a;
  EXPECT_EQ(a["refused"], 0) << a;
  EXPECT_EQ(a["errors"], 0) << a;
  EXPECT_EQ(a["cache"]["misses"], 30) << a;
  EXPECT_EQ(a["cache"]["hits"], 0) << a;
  EXPECT_EQ(a["upstream"]["calls"], 30) << a;
  EXPECT_EQ(a["logins"], (json{{"alice", 20}, {"bob", 10}})) << a;
  EXPECT_EQ(a["fingerprint"].get<std::string>().size(), 16u) << a;
  // One of the statements, as sent: the first a worker thread saw.
  EXPECT_EQ(a["text"].get<std::string>().rfind("SELECT ", 0), 0u) << a;
  EXPECT_NE(a["text"].get<std::string>().find(" AS n, 'v"), std::string::npos) << a;
  EXPECT_LE(a["upstream"]["p50_ms"].get<double>(), a["upstream"]["p99_ms"].get<double>()) << a;
  EXPECT_GT(a["upstream"]["p50_ms"].get<double>(), 0.0) << a;

  const json b = shapeWith(all, "top-shape-b");
  ASSERT_TRUE(b.is_object()) << all.dump(2);
  EXPECT_EQ(b["calls"], 5) << b;
  EXPECT_EQ(b["rows"], 20) << b;
  EXPECT_EQ(b["cache"]["hits"], 4) << b;
  EXPECT_EQ(b["cache"]["misses"], 1) << b;
  EXPECT_EQ(b["upstream"]["calls"], 1) << b;
  EXPECT_EQ(b["logins"], (json{{"bob", 5}})) << b;
  // Saved: the hits times the shape's mean upstream time.
  EXPECT_GT(b["saved_ms"].get<double>(), 0.0) << b;
  EXPECT_NEAR(b["saved_ms"].get<double>(), 4 * b["upstream"]["mean_ms"].get<double>(), 0.01) << b;

  const json w = shapeWith(all, "top-shape-w");
  ASSERT_TRUE(w.is_object()) << all.dump(2);
  EXPECT_EQ(w["calls"], 3) << w;
  EXPECT_EQ(w["refused"], 3) << w;
  EXPECT_EQ(w["errors"], 3) << w;
  EXPECT_EQ(w["rows"], 0) << w;
  EXPECT_EQ(w["upstream"]["calls"], 0) << w;
  EXPECT_EQ(w["logins"], (json{{"alice", 3}})) << w;

  const json slow = shapeWith(all, "top-shape-t");
  ASSERT_TRUE(slow.is_object()) << all.dump(2);
  EXPECT_EQ(slow["calls"], 2) << slow;
  EXPECT_EQ(slow["upstream"]["calls"], 2) << slow;

  const json c = shapeWith(all, "top-shape-c");
  ASSERT_TRUE(c.is_object()) << all.dump(2);
  EXPECT_EQ(c["calls"], 7) << c;
  EXPECT_EQ(c["rows"], 7) << c;
  EXPECT_EQ(c["logins"], (json{{"bob", 7}})) << c;
  EXPECT_EQ(c["cache"]["hits"].get<int>() + c["cache"]["coalesced"].get<int>() +
                c["cache"]["misses"].get<int>(),
            7)
      << c;

  // Ordered by calls: A (30), C (7), B (5), W (3), T (2).
  const auto by_calls =
      positions(all, {"top-shape-a", "top-shape-c", "top-shape-b", "top-shape-w", "top-shape-t"});
  EXPECT_TRUE(std::is_sorted(by_calls.begin(), by_calls.end())) << all.dump(2);
  // By upstream time: the two slow reads come before the thirty quick ones.
  const json by_time = t.top({"--limit", "100"});
  const auto time_order = positions(by_time, {"top-shape-t", "top-shape-a"});
  EXPECT_LT(time_order[0], time_order[1]) << by_time.dump(2);
  EXPECT_EQ(time_order[0], 0) << by_time.dump(2);
  // By bytes, and --limit.
  const json limited = t.top({"--by", "bytes", "--limit", "2"});
  EXPECT_EQ(limited["shapes"].size(), 2u) << limited.dump(2);
  // By saved: B saved time (its hits), the refused writes none.
  const auto saved =
      positions(t.top({"--by", "saved", "--limit", "100"}), {"top-shape-b", "top-shape-w"});
  EXPECT_LT(saved[0], saved[1]);

  // --user: only the shapes the login ran.
  const json bobs = t.top({"--user", "bob", "--limit", "100"});
  EXPECT_TRUE(shapeWith(bobs, "top-shape-a").is_object());
  EXPECT_TRUE(shapeWith(bobs, "top-shape-b").is_object());
  EXPECT_TRUE(shapeWith(bobs, "top-shape-c").is_object());
  EXPECT_TRUE(shapeWith(bobs, "top-shape-w").is_null()) << bobs.dump(2);
  EXPECT_TRUE(shapeWith(bobs, "top-shape-t").is_null()) << bobs.dump(2);
  const json alices = t.top({"--user", "alice", "--limit", "100"});
  EXPECT_TRUE(shapeWith(alices, "top-shape-w").is_object());
  EXPECT_TRUE(shapeWith(alices, "top-shape-b").is_null()) << alices.dump(2);

  // The human table names the shapes too.
  const CommandResult table = t.admin({"top", "--by", "calls"});
  EXPECT_NE(table.out.find("CALLS"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("top-shape-a"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("alice,bob"), std::string::npos) << table.out;

  // The exposition has totals only, no per-shape labels.
  const std::string metrics = scrapeMetrics(*t.pgro);
  EXPECT_NE(metrics.find("pgro_query_shapes "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("top-shape"), std::string::npos);

  // Reset: everything forgotten; counting starts again.
  const CommandResult reset = t.admin({"--json", "top", "reset"});
  EXPECT_GE(json::parse(reset.out)["shapes_dropped"].get<int>(), 5) << reset.out;
  const json empty = t.top();
  EXPECT_EQ(empty["statements"], 0) << empty.dump(2);
  EXPECT_TRUE(empty["shapes"].empty()) << empty.dump(2);
  simple(alice, "SELECT 99 AS n, 'again' AS label /* top-shape-a */");
  const json again = shapeWith(t.top(), "top-shape-a");
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["calls"], 1) << again;
  EXPECT_EQ(again["logins"], (json{{"alice", 1}})) << again;
}

// One pooled server connection, two clients pipelining the same shape: the pool hands the
// connection from one to the other between statements, and every call is counted for the
// login that sent it.
// A simple Query of several statements: each statement under its own shape, with its own
// rows; a statement refused in a string counts as refused, the others in it not at all.
TEST(QueryStatsTest, StatementsOfAStringAreCountedEachUnderItsShape) {
  TwoLogins t(Env{{"CACHE_ENABLED", "false"}});
  RawPgClient alice = t.as("alice");
  for (int i = 0; i < 2; ++i) {
    simple(alice,
           "SELECT 1 /* top-multi-a */; SELECT g FROM generate_series(1, 3) g "
           "/* top-multi-b */");
  }
  simple(alice, "SELECT 1 /* top-multi-a */; DELETE FROM pg_class /* top-multi-w */", false);
  const json top = t.top();
  const json a = shapeWith(top, "top-multi-a");
  const json b = shapeWith(top, "top-multi-b");
  const json w = shapeWith(top, "top-multi-w");
  ASSERT_TRUE(a.is_object()) << top;
  ASSERT_TRUE(b.is_object()) << top;
  ASSERT_TRUE(w.is_object()) << top;
  EXPECT_NE(a["fingerprint"], b["fingerprint"]);
  EXPECT_EQ(a["text"], "SELECT 1 /* top-multi-a */") << a;
  EXPECT_EQ(a["calls"], 2) << a;  // not the refused string's: it never ran
  EXPECT_EQ(a["rows"], 2) << a;
  EXPECT_EQ(b["calls"], 2) << b;
  EXPECT_EQ(b["rows"], 6) << b;
  EXPECT_EQ(w["calls"], 1) << w;
  EXPECT_EQ(w["refused"], 1) << w;
}

TEST(QueryStatsTest, OneServerConnectionTwoLoginsEachCountedForItsOwn) {
  TwoLogins t(Env{{"POOL_SIZE", "1"}, {"CACHE_ENABLED", "false"}});
  RawPgClient alice = t.as("alice");
  RawPgClient bob = t.as("bob");
  int sent_alice = 0;
  int sent_bob = 0;
  for (int i = 0; i < 10; ++i) {
    const bool to_alice = i % 5 != 1 && i % 5 != 3;  // 6 for alice, 4 for bob
    RawPgClient& client = to_alice ? alice : bob;
    client.send(
        wire::query("SELECT pg_backend_pid(), " + std::to_string(i) + " /* top-shape-pool */"));
    (to_alice ? sent_alice : sent_bob)++;
  }
  for (int i = 0; i < sent_alice; ++i) ASSERT_TRUE(succeeded(alice.readReply(30s)));
  for (int i = 0; i < sent_bob; ++i) ASSERT_TRUE(succeeded(bob.readReply(30s)));

  const json shape = shapeWith(t.top({"--user", "alice"}), "top-shape-pool");
  ASSERT_TRUE(shape.is_object());
  EXPECT_EQ(shape["calls"], 10) << shape;
  EXPECT_EQ(shape["logins"], (json{{"alice", 6}, {"bob", 4}})) << shape;
  EXPECT_EQ(shape["upstream"]["calls"], 10) << shape;
}

// Stale-if-error answers count as `stale`, for the simple and the extended protocol (a
// PostgreSQL of the test's own, which it stops).
TEST(QueryStatsTest, StaleAnswersAreCountedAsStale) {
  TempPostgres pg;
  PgroProcess pgro(pgroBinary(), pg,
                   {{"CACHE_TTL_SECONDS", "1"},
                    {"CACHE_STALE_IF_ERROR_SECONDS", "60"},
                    {"POOL_TIMEOUT_SECONDS", "2"}});
  RawPgClient client = connectProxy(pgro);
  const std::string simple_sql = "SELECT 'kept' AS v FROM pg_namespace LIMIT 1 /* top-stale-q */";
  const std::string extended_sql = "SELECT 'batch' AS w FROM pg_class LIMIT 1 /* top-stale-x */";
  auto batch = [&] {
    client.send(wire::parse("", extended_sql) + wire::bind("", "") + wire::describePortal("") +
                wire::execute("") + wire::sync());
    return client.readUntilReadyForQuery();
  };
  ASSERT_TRUE(succeeded({client.query(simple_sql), true}));
  batch();
  pg.stop();
  std::this_thread::sleep_for(1500ms);  // past the TTL
  const auto stale = client.query(simple_sql);
  ASSERT_TRUE(succeeded({stale, true})) << typeSequence(stale);
  const auto stale_batch = batch();
  ASSERT_TRUE(succeeded({stale_batch, true})) << typeSequence(stale_batch);
  EXPECT_NE(typeSequence(stale_batch).find('N'), std::string::npos);  // the stale NOTICE

  auto top = [&] {
    const std::vector<std::string> args = {PGRO_ADMIN_BINARY, "--addr",
                                           pgro.env().at("ADMIN_LISTEN"), "--json", "top"};
    const CommandResult r = runCommand(args, Env{{"PGRO_ADMIN_ADDR", ""}}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    return json::parse(r.out);
  };
  const json all = top();
  for (const char* marker : {"top-stale-q", "top-stale-x"}) {
    const json shape = shapeWith(all, marker);
    ASSERT_TRUE(shape.is_object()) << marker << all.dump(2);
    EXPECT_EQ(shape["calls"], 2) << shape;
    EXPECT_EQ(shape["cache"]["misses"], 1) << shape;
    EXPECT_EQ(shape["cache"]["stale"], 1) << shape;
    EXPECT_EQ(shape["rows"], 2) << shape;
    EXPECT_EQ(shape["upstream"]["calls"], 1) << shape;
  }
}

TEST(QueryStatsTest, OffWithZero) {
  TwoLogins t(Env{{"QUERY_STATS_TOP_K", "0"}});
  RawPgClient alice = t.as("alice");
  simple(alice, "SELECT 1 /* top-shape-off */");
  const json off = t.top();
  EXPECT_FALSE(off["enabled"].get<bool>()) << off.dump(2);
  EXPECT_TRUE(off["shapes"].empty());
  EXPECT_NE(t.admin({"top"}).out.find("off"), std::string::npos);
}

}  // namespace
}  // namespace pgro::it
