// Cache rules by statement shape and the `/* pgro:ttl=... */` hint, through the real pgro and
// the real pgro-admin against a real PostgreSQL. Upstream executions are counted in
// PostgreSQL's statement log (log_statement=all), by markers in comments of each test's own
// (comments do not change a fingerprint).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

using Json = nlohmann::json;

CommandResult admin(const PgroProcess& pgro, std::vector<std::string> args) {
  args.insert(args.begin(), {PGRO_ADMIN_BINARY, "--addr", pgro.env().at("ADMIN_LISTEN")});
  return runCommand(args, {{"PGRO_ADMIN_TOKEN", ""}, {"PGRO_ADMIN_ADDR", ""}}, 30s);
}

Json rules(const PgroProcess& pgro) {
  const auto listed = admin(pgro, {"--json", "cache", "rule", "list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  return listed.exit_code == 0 ? Json::parse(listed.out)["rules"] : Json::array();
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// A directory of the test's own for the rules file (it outlives one pgro process).
struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgro-rules-XXXXXX").string();
    path = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

class CacheRulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    postgres().execDirect(
        "DROP TABLE IF EXISTS rules_t; CREATE TABLE rules_t (k int PRIMARY KEY, v int);"
        "INSERT INTO rules_t SELECT g, g * 10 FROM generate_series(1, 20) g");
  }
  // Runs `sql` through `client`, expecting success.
  static void run(RawPgClient& client, const std::string& sql) {
    const auto reply = client.query(sql);
    ASSERT_FALSE(firstError(reply)) << sql << ": " << firstError(reply)->describe();
  }
  int runs(std::size_t since, std::string_view marker) const {
    return postgres().statementsRun(since, marker);
  }
};

TEST_F(CacheRulesTest, ShortTtlRuleExpiresItsShapeWhileAnotherStaysCached) {
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "300"}});
  // The shape is given by a sample with other constants than the queries below.
  const auto added = admin(*pgro, {"--json", "cache", "rule", "add", "--query",
                                   "SELECT v FROM rules_t WHERE k = 99", "--ttl", "1s"});
  ASSERT_EQ(added.exit_code, 0) << added.describe() << pgro->log();
  const Json rule = Json::parse(added.out)["rule"];
  EXPECT_EQ(rule["ttl_ms"], 1000);
  EXPECT_EQ(rule["sample"], "SELECT v FROM rules_t WHERE k = 99");
  EXPECT_EQ(rule["fingerprint"].get<std::string>().size(), 16U);

  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string ruled = "SELECT v FROM rules_t WHERE k = 1 /* rule-short */";
  const std::string other = "SELECT v, k FROM rules_t WHERE k = 2 /* rule-other */";
  for (int i = 0; i < 3; ++i) {
    run(client, ruled);
    run(client, other);
  }
  EXPECT_EQ(runs(mark, "rule-short"), 1);
  EXPECT_EQ(runs(mark, "rule-other"), 1);
  std::this_thread::sleep_for(1300ms);
  run(client, ruled);
  run(client, other);
  EXPECT_EQ(runs(mark, "rule-short"), 2) << "the rule's 1 s TTL expired it";
  EXPECT_EQ(runs(mark, "rule-other"), 1) << "the other shape keeps CACHE_TTL_SECONDS";

  const Json listed = rules(*pgro);
  ASSERT_EQ(listed.size(), 1U) << listed.dump();
  EXPECT_EQ(listed[0]["fingerprint"], rule["fingerprint"]);
  EXPECT_EQ(listed[0]["matched"], 4);
  EXPECT_EQ(listed[0]["hits"], 2);
  const auto human = admin(*pgro, {"cache", "rule", "list"});
  EXPECT_NE(human.out.find("FINGERPRINT"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find(rule["fingerprint"].get<std::string>() + "  1s"), std::string::npos)
      << human.out;
}

TEST_F(CacheRulesTest, RuleAppliesOverTheExtendedProtocol) {
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "300"}});
  // A parameter is another node than a constant: the shape is given with one.
  const auto added = admin(*pgro, {"cache", "rule", "add", "--query",
                                   "SELECT v FROM rules_t WHERE k = $1", "--ttl", "1s"});
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  pqxx::connection conn(pgro->conninfo());
  pqxx::nontransaction tx(conn);
  const std::size_t mark = postgres().logOffset();
  const std::string ruled = "SELECT v FROM rules_t WHERE k = $1 /* ext-ruled */";
  const std::string other = "SELECT v, k FROM rules_t WHERE k = $1 /* ext-other */";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tx.exec_params1(ruled, 3)[0].as<int>(), 30);
    EXPECT_EQ(tx.exec_params1(other, 3)[0].as<int>(), 30);
  }
  EXPECT_EQ(runs(mark, "ext-ruled"), 1);
  EXPECT_EQ(runs(mark, "ext-other"), 1);
  std::this_thread::sleep_for(1300ms);
  EXPECT_EQ(tx.exec_params1(ruled, 3)[0].as<int>(), 30);
  EXPECT_EQ(tx.exec_params1(other, 3)[0].as<int>(), 30);
  EXPECT_EQ(runs(mark, "ext-other"), 1);
  EXPECT_EQ(runs(mark, "ext-ruled"), 2) << "the rule's 1 s TTL expired it";
}

TEST_F(CacheRulesTest, NocacheRuleStopsCachingAtOnceAndRemovalRestoresIt) {
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "300"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT k FROM rules_t WHERE v = 30 /* rule-nocache */";
  run(client, sql);
  run(client, sql);
  EXPECT_EQ(runs(mark, "rule-nocache"), 1);

  const auto added = admin(*pgro, {"--json", "cache", "rule", "add", "--query",
                                   "select k from rules_t where v = 0", "--nocache"});
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  const std::string fingerprint = Json::parse(added.out)["rule"]["fingerprint"];
  run(client, sql);  // the entry stored before the rule is not served
  run(client, sql);
  EXPECT_EQ(runs(mark, "rule-nocache"), 3);

  const auto removed = admin(*pgro, {"cache", "rule", "remove", fingerprint});
  ASSERT_EQ(removed.exit_code, 0) << removed.describe();
  EXPECT_NE(removed.out.find("removed"), std::string::npos);
  EXPECT_TRUE(rules(*pgro).empty());
  run(client, sql);
  run(client, sql);
  // Cached again once the rule is gone: the entry stored before the rule is within
  // CACHE_TTL_SECONDS, so both are answered from it.
  EXPECT_EQ(runs(mark, "rule-nocache"), 3);

  const auto again = admin(*pgro, {"cache", "rule", "remove", fingerprint});
  EXPECT_EQ(again.exit_code, 5) << again.describe();
  EXPECT_NE(again.err.find("NOT_FOUND"), std::string::npos) << again.err;
  const auto bad = admin(*pgro, {"cache", "rule", "add", "--query", "SELEC 1", "--ttl", "1s"});
  EXPECT_EQ(bad.exit_code, 5) << bad.describe();
  EXPECT_NE(bad.err.find("INVALID_ARGUMENT"), std::string::npos) << bad.err;
  const auto usage = admin(*pgro, {"cache", "rule", "add", "--query", "SELECT 1"});
  EXPECT_EQ(usage.exit_code, 2) << usage.describe();
}

TEST_F(CacheRulesTest, HintLowersTheTtlButNeverRaisesIt) {
  auto pgro = startPgro({{"CACHE_TTL_SECONDS", "3"}});
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string low = "SELECT v FROM rules_t WHERE k = 4 /* pgro:ttl=1s */ /* hint-low */";
  const std::string high = "SELECT v FROM rules_t WHERE k = 5 /* pgro:ttl=1h */ /* hint-high */";
  const std::string bad = "SELECT v FROM rules_t WHERE k = 6 /* pgro:ttl=soon */ /* hint-bad */";
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) {
    for (const auto* sql : {&low, &high, &bad}) run(client, *sql);
  }
  for (const char* marker : {"hint-low", "hint-high", "hint-bad"}) EXPECT_EQ(runs(mark, marker), 1);

  std::this_thread::sleep_until(started + 1500ms);
  for (const auto* sql : {&low, &high, &bad}) run(client, *sql);
  EXPECT_EQ(runs(mark, "hint-low"), 2) << "1 s, below CACHE_TTL_SECONDS: applied";
  EXPECT_EQ(runs(mark, "hint-high"), 1);
  EXPECT_EQ(runs(mark, "hint-bad"), 1) << "an invalid hint is ignored: cached as usual";

  std::this_thread::sleep_until(started + 3300ms);
  run(client, high);
  run(client, bad);
  EXPECT_EQ(runs(mark, "hint-high"), 2) << "1 h is clamped to CACHE_TTL_SECONDS (3 s)";
  EXPECT_EQ(runs(mark, "hint-bad"), 2);

  // Under a rule, a hint above the rule's TTL is clamped to the rule's, not to the global one.
  const auto added = admin(*pgro, {"cache", "rule", "add", "--query",
                                   "SELECT v FROM rules_t WHERE k = 7", "--ttl", "1s"});
  ASSERT_EQ(added.exit_code, 0) << added.describe();
  const std::string ruled = "SELECT v FROM rules_t WHERE k = 7 /* pgro:ttl=1h */ /* hint-ruled */";
  run(client, ruled);
  run(client, ruled);
  EXPECT_EQ(runs(mark, "hint-ruled"), 1);
  std::this_thread::sleep_for(1300ms);
  run(client, ruled);
  EXPECT_EQ(runs(mark, "hint-ruled"), 2);
}

TEST_F(CacheRulesTest, RulesPersistAcrossRestartAndReloadOnSighup) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string file = dir.path + "/cache-rules.conf";
  const Env env = {{"CACHE_TTL_SECONDS", "300"}, {"CACHE_RULES_FILE", file}};
  std::string fingerprint;
  {
    auto pgro = startPgro(env);
    EXPECT_TRUE(rules(*pgro).empty()) << "a missing file is no rules";
    const auto added =
        admin(*pgro, {"--json", "cache", "rule", "add", "--query",
                      "SELECT v FROM rules_t WHERE k = 1", "--ttl", "2m", "--swr", "50", "--stale",
                      "300s", "--sample", "SELECT v FROM rules_t WHERE k = $1"});
    ASSERT_EQ(added.exit_code, 0) << added.describe() << pgro->log();
    fingerprint = Json::parse(added.out)["rule"]["fingerprint"];
    EXPECT_EQ(readText(file).find(fingerprint + " ttl=2m swr=50 stale=5m sample=\"SELECT v FROM "
                                                "rules_t WHERE k = $1\"\n") == std::string::npos,
              false)
        << readText(file);
    EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
  }
  auto pgro = startPgro(env);
  Json listed = rules(*pgro);
  ASSERT_EQ(listed.size(), 1U) << listed.dump() << pgro->log();
  EXPECT_EQ(listed[0]["fingerprint"], fingerprint);
  EXPECT_EQ(listed[0]["ttl_ms"], 120000);
  EXPECT_EQ(listed[0]["swr_percent"], 50);
  EXPECT_EQ(listed[0]["stale_if_error_seconds"], 300);

  // Edited by hand, then SIGHUP: the file's rules replace those in force.
  RawPgClient client = connectProxy(*pgro);
  const std::size_t mark = postgres().logOffset();
  const std::string sql = "SELECT v FROM rules_t WHERE k = 8 /* rule-reloaded */";
  run(client, sql);
  run(client, sql);
  EXPECT_EQ(runs(mark, "rule-reloaded"), 1);
  writeText(file, "# by hand\n" + fingerprint + " nocache\n");
  pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(pgro->waitForLog("1 cache rule(s)", 10s)) << pgro->log();
  listed = rules(*pgro);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0]["nocache"], true);
  run(client, sql);
  EXPECT_EQ(runs(mark, "rule-reloaded"), 2) << "the reloaded nocache rule applies";

  // A malformed file: a line-numbered error, and the rules in force stay.
  writeText(file, fingerprint + " ttl=5s\n" + "0123 ttl=forever\n");
  pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(pgro->waitForLog("line 2: ttl: expected a duration", 10s)) << pgro->log();
  listed = rules(*pgro);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0]["nocache"], true);
  const auto reload = admin(*pgro, {"reload"});
  EXPECT_EQ(reload.exit_code, 5) << reload.describe();
  EXPECT_NE(reload.err.find("CACHE_RULES_FILE"), std::string::npos) << reload.err;
}

TEST_F(CacheRulesTest, MalformedFileStopsStartup) {
  TempDir dir;
  const std::string file = dir.path + "/cache-rules.conf";
  writeText(file, "# rules\n00ab ttl=1s\n00ab ttl=2s\n");
  try {
    startPgro({{"CACHE_RULES_FILE", file}});
    ADD_FAILURE() << "pgro started with a malformed rules file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "line 3: fingerprint 00000000000000ab already has a rule on line 2"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pgro::it
