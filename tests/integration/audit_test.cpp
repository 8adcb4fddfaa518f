// The audit log (AUDIT_LOG) against the real pgro and PostgreSQL: every statement of a psql
// run (simple protocol) and of pgbench runs (extended protocol, pipelined, with cache hits)
// appears exactly once with the login and its row count; refusals carry their SQLSTATE;
// the hash chain verifies and catches edits and deletions; SIGHUP reopens a renamed file.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "audit/hash_chain.hpp"
#include "integration_common.hpp"

namespace pgro::it {
namespace {

using nlohmann::json;

struct AuditedPgro {
  std::string dir = makeTempDir("pgro-audit");
  std::string file = dir + "/audit.log";
  std::unique_ptr<PgroProcess> pgro;

  AuditedPgro() : AuditedPgro(Env{}) {}
  explicit AuditedPgro(Env overrides) {
    overrides.emplace("AUDIT_LOG", file);
    pgro = startPgro(overrides);
  }
  ~AuditedPgro() { std::filesystem::remove_all(dir); }
};

std::vector<std::string> fileLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The audit records whose text contains `marker`, once `count` of them are in the file
// (the writer thread is asynchronous), or what is there at the deadline.
std::vector<json> records(const std::string& path, std::string_view marker, std::size_t count,
                          std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<json> found;
  while (true) {
    found.clear();
    for (const auto& line : fileLines(path)) {
      json record = json::parse(line);  // throws (fails the test) on invalid JSON
      if (record.contains("text") &&
          record["text"].get<std::string>().find(marker) != std::string::npos) {
        found.push_back(std::move(record));
      }
    }
    if (found.size() >= count || std::chrono::steady_clock::now() >= deadline) return found;
    std::this_thread::sleep_for(50ms);
  }
}

// A simple Query's reply, read to its ReadyForQuery: true without an ErrorResponse.
bool ok(RawPgClient& client, const std::string& sql) {
  client.send(wire::query(sql));
  return succeeded(client.readReply());
}

TEST(AuditTest, PsqlSimpleProtocolStatementsAppearOnceWithLoginAndRows) {
  AuditedPgro audited;
  const std::string script = audited.dir + "/script.sql";
  {
    std::ofstream out(script);
    out << "SELECT 1 AS one /* audit-psql-1 */;\n"
        << "SELECT g FROM generate_series(1, 5) g /* audit-psql-5 */;\n"
        << "SELECT g FROM generate_series(1, 3) g WHERE g > 10 /* audit-psql-0 */;\n"
        << "SELECT 1/0 /* audit-psql-err */;\n"
        << "SELECT 'a\"b\\\\c' || chr(10) AS quoted /* audit-psql-quote */;\n";
  }
  Env env = audited.pgro->libpqEnv();
  env["PGAPPNAME"] = "audit-psql";
  const auto run = runCommand({"psql", "-X", "-q", "-f", script}, env);
  ASSERT_EQ(run.exit_code, 0) << run.describe();  // psql -f goes on after an error

  const std::map<std::string, int> expected_rows = {{"audit-psql-1", 1},
                                                    {"audit-psql-5", 5},
                                                    {"audit-psql-0", 0},
                                                    {"audit-psql-err", 0},
                                                    {"audit-psql-quote", 1}};
  for (const auto& [marker, rows] : expected_rows) {
    const auto found = records(audited.file, marker, 1);
    ASSERT_EQ(found.size(), 1u) << marker;
    const json& r = found[0];
    EXPECT_EQ(r["login"], kProxyUser) << r;
    EXPECT_EQ(r["application_name"], "audit-psql") << r;
    EXPECT_EQ(r["database"], audited.pgro->database()) << r;
    EXPECT_EQ(r["protocol"], "simple") << r;
    EXPECT_EQ(r["verdict"], "allowed") << r;
    EXPECT_EQ(r["rows"], rows) << r;
    EXPECT_TRUE(r["fingerprint"].is_string()) << r;
    EXPECT_TRUE(r["upstream_ms"].is_number()) << r;
    EXPECT_GE(r["total_ms"].get<double>(), r["upstream_ms"].get<double>()) << r;
    EXPECT_EQ(r["sqlstate"], marker == "audit-psql-err" ? "22012" : "00000") << r;
    if (rows > 0) {
      EXPECT_GT(r["bytes"].get<int>(), 0) << r;
    }
  }
  // The text comes back exactly as sent, quotes, backslashes and all.
  const auto quoted = records(audited.file, "audit-psql-quote", 1);
  ASSERT_EQ(quoted.size(), 1u);
  EXPECT_NE(quoted[0]["text"].get<std::string>().find("SELECT 'a\"b\\\\c' || chr(10) AS quoted"),
            std::string::npos)
      << quoted[0];
  // One session, one id.
  EXPECT_EQ(records(audited.file, "audit-psql-1", 1)[0]["session"],
            records(audited.file, "audit-psql-5", 1)[0]["session"]);
}

// pgbench -M extended: Parse/Bind/Describe/Execute/Sync per statement; -M prepared: Bind/
// Execute of named statements prepared once per client. Random parameters repeat, so some
// are answered from the cache: every Execute is one line all the same.
void pgbenchRun(const std::string& mode, int clients, int transactions) {
  AuditedPgro audited(Env{{"AUDIT_PARAMETERS", "on"}});
  const std::string script = audited.dir + "/bench.sql";
  {
    std::ofstream out(script);
    out << "\\set v random(1, 8)\n"
        << "SELECT :v::int AS v /* audit-bench-one */;\n"
        << "SELECT g FROM generate_series(1, :v::int) g /* audit-bench-many */;\n";
  }
  const auto run = runCommand({"pgbench", "-n", "-M", mode, "-c", std::to_string(clients), "-j",
                               "2", "-t", std::to_string(transactions), "-f", script},
                              audited.pgro->libpqEnv(), 120s);
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const std::size_t total = static_cast<std::size_t>(clients) * transactions;

  const auto one = records(audited.file, "audit-bench-one", total);
  ASSERT_EQ(one.size(), total);
  std::map<std::string, int> outcomes;
  for (const json& r : one) {
    EXPECT_EQ(r["login"], kProxyUser) << r;
    EXPECT_EQ(r["protocol"], "extended") << r;
    EXPECT_EQ(r["rows"], 1) << r;
    EXPECT_EQ(r["sqlstate"], "00000") << r;
    ASSERT_TRUE(r["parameters"].is_array()) << r;
    ASSERT_EQ(r["parameters"].size(), 1u) << r;
    ++outcomes[r["cache"].get<std::string>()];
  }
  const auto many = records(audited.file, "audit-bench-many", total);
  ASSERT_EQ(many.size(), total);
  for (const json& r : many) {
    // The row count is the parameter the statement ran with.
    EXPECT_EQ(r["rows"], std::stoi(r["parameters"][0].get<std::string>())) << r;
  }
  // Eight distinct values over `total` runs: the cache answered some.
  EXPECT_GT(outcomes["hit"] + outcomes["coalesced"], 0) << run.out;
  EXPECT_GT(outcomes["miss"], 0) << run.out;
  std::this_thread::sleep_for(300ms);  // nothing more arrives late
  EXPECT_EQ(records(audited.file, "audit-bench-one", total, 0ms).size(), total);
}

TEST(AuditTest, PgbenchExtendedEveryExecuteAppearsOnce) {
  pgbenchRun("extended", 4, 50);
}

TEST(AuditTest, PgbenchPreparedEveryExecuteAppearsOnce) {
  pgbenchRun("prepared", 4, 50);
}

// One pipelined write of extended-protocol messages: named statement and portals, a portal
// run in two Executes (PortalSuspended), a refused Parse, and a Bind the server rejects (its
// Execute is skipped): each Execute is a line naming its statement and portal.
TEST(AuditTest, ExtendedPipelineAttributesEachExecute) {
  AuditedPgro audited(Env{{"CACHE_ENABLED", "false"}, {"AUDIT_PARAMETERS", "redacted"}});
  RawPgClient client = connectProxy(*audited.pgro);
  std::string batch;
  batch += wire::parse("s1", "SELECT generate_series(1, $1::int) /* audit-pipe-a */");
  batch += wire::bind("p1", "s1", {std::string("4")}) + wire::execute("p1");
  batch += wire::bind("", "s1", {std::string("2")}) + wire::execute("");
  batch += wire::sync();
  batch += wire::parse("", "DELETE FROM pg_class /* audit-pipe-refused */");
  batch += wire::bind("", "") + wire::execute("") + wire::sync();
  batch += wire::parse("", "SELECT $1::int /* audit-pipe-bad */");
  batch += wire::bind("", "", {std::string("not a number")}) + wire::execute("") + wire::sync();
  batch += wire::bind("p2", "s1", {std::string("5")}) + wire::execute("p2", 2) +
           wire::execute("p2") + wire::sync();
  client.send(batch);
  for (int i = 0; i < 4; ++i) client.readUntilReadyForQuery();

  const auto a = records(audited.file, "audit-pipe-a", 4);
  ASSERT_EQ(a.size(), 4u);
  const std::vector<std::pair<std::string, int>> expected = {
      {"p1", 4}, {"", 2}, {"p2", 2}, {"p2", 3}};
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["statement"], "s1") << a[i];
    EXPECT_EQ(a[i]["portal"], expected[i].first) << a[i];
    EXPECT_EQ(a[i]["rows"], expected[i].second) << a[i];
    EXPECT_EQ(a[i]["sqlstate"], "00000") << a[i];
    EXPECT_EQ(a[i]["parameters"], json::parse(R"(["***"])")) << a[i];
  }
  const auto refused = records(audited.file, "audit-pipe-refused", 1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["verdict"], "refused") << refused[0];
  EXPECT_EQ(refused[0]["sqlstate"], "25006") << refused[0];
  const auto bad = records(audited.file, "audit-pipe-bad", 1);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0]["sqlstate"], "22P02") << bad[0];
  EXPECT_EQ(bad[0]["rows"], 0) << bad[0];
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(records(audited.file, "audit-pipe", 6, 0ms).size(), 6u);
}

TEST(AuditTest, RefusedWriteAppearsWithItsSqlstate) {
  AuditedPgro audited;
  RawPgClient client = connectProxy(*audited.pgro);
  client.query("CREATE TABLE audit_nope (x int) /* audit-refused */");
  client.query("SELECT pg_catalog.pg_reload_conf() /* audit-refused-fn */");
  const auto found = records(audited.file, "audit-refused */", 1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["verdict"], "refused") << found[0];
  EXPECT_EQ(found[0]["sqlstate"], "25006") << found[0];
  EXPECT_NE(found[0]["reason"].get<std::string>().find("not permitted"), std::string::npos)
      << found[0];
  EXPECT_TRUE(found[0]["upstream_ms"].is_null()) << found[0];
  const auto fn = records(audited.file, "audit-refused-fn", 1);
  ASSERT_EQ(fn.size(), 1u);
  EXPECT_EQ(fn[0]["verdict"], "refused") << fn[0];
  EXPECT_EQ(fn[0]["sqlstate"], "42501") << fn[0];
}

// A simple Query of several statements: one line each, with its own text, fingerprint and
// rows (from its own CommandComplete), in order, and the same session.
TEST(AuditTest, MultiStatementQueryIsOneLinePerStatement) {
  AuditedPgro audited(Env{{"CACHE_ENABLED", "false"}});
  RawPgClient client = connectProxy(*audited.pgro);
  const bool done =
      ok(client,
         "SELECT 1 AS one /* audit-multi-a */;  SELECT g FROM generate_series(1, 3) g "
         "/* audit-multi-b */;\n SELECT 'x' WHERE false /* audit-multi-c */;");
  ASSERT_TRUE(done);
  const auto found = records(audited.file, "audit-multi-", 3);
  ASSERT_EQ(found.size(), 3u);
  const std::vector<std::string> texts = {
      "SELECT 1 AS one /* audit-multi-a */",
      "SELECT g FROM generate_series(1, 3) g /* audit-multi-b */",
      "SELECT 'x' WHERE false /* audit-multi-c */"};
  const std::vector<int> rows = {1, 3, 0};
  for (std::size_t i = 0; i < 3; ++i) {
    const json& r = found[i];
    EXPECT_EQ(r["text"], texts[i]) << r;
    EXPECT_EQ(r["rows"], rows[i]) << r;
    EXPECT_EQ(r["verdict"], "allowed") << r;
    EXPECT_EQ(r["sqlstate"], "00000") << r;
    EXPECT_EQ(r["login"], kProxyUser) << r;
    EXPECT_EQ(r["protocol"], "simple") << r;
    EXPECT_EQ(r["session"], found[0]["session"]) << r;
    EXPECT_TRUE(r["upstream_ms"].is_number()) << r;
    EXPECT_TRUE(r["fingerprint"].is_string()) << r;
  }
  EXPECT_NE(found[0]["fingerprint"], found[1]["fingerprint"]);
  EXPECT_NE(found[1]["fingerprint"], found[2]["fingerprint"]);
  // A statement's fingerprint is the one it has alone.
  client.query("SELECT 7 AS one /* audit-multi-alone */");
  const auto alone = records(audited.file, "audit-multi-alone", 1);
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_EQ(alone[0]["fingerprint"], found[0]["fingerprint"]);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(records(audited.file, "audit-multi-", 4, 0ms).size(), 4u);
}

// The server stops a string at its first error: that statement has the SQLSTATE, the ones
// after it never ran ("skipped", no SQLSTATE of their own).
TEST(AuditTest, MultiStatementQueryFailingMidwaySkipsTheRest) {
  AuditedPgro audited;
  RawPgClient client = connectProxy(*audited.pgro);
  client.query(
      "SELECT 1 /* audit-merr-a */; SELECT 1/0 /* audit-merr-b */; SELECT 2 /* audit-merr-c */");
  const auto found = records(audited.file, "audit-merr-", 3);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0]["text"], "SELECT 1 /* audit-merr-a */") << found[0];
  EXPECT_EQ(found[0]["rows"], 1) << found[0];
  EXPECT_EQ(found[0]["sqlstate"], "00000") << found[0];
  EXPECT_EQ(found[1]["text"], "SELECT 1/0 /* audit-merr-b */") << found[1];
  EXPECT_EQ(found[1]["verdict"], "allowed") << found[1];
  EXPECT_EQ(found[1]["sqlstate"], "22012") << found[1];
  EXPECT_EQ(found[1]["rows"], 0) << found[1];
  EXPECT_EQ(found[2]["text"], "SELECT 2 /* audit-merr-c */") << found[2];
  EXPECT_EQ(found[2]["verdict"], "skipped") << found[2];
  EXPECT_TRUE(found[2]["sqlstate"].is_null()) << found[2];
  EXPECT_EQ(found[2]["rows"], 0) << found[2];
  EXPECT_EQ(found[2]["reason"], "not run: an earlier statement of the Query failed") << found[2];
}

// pgro refuses a whole string for one statement: that statement's line has the refusal
// (verdict, reason, SQLSTATE); the others, before and after it, never ran.
TEST(AuditTest, MultiStatementQueryRefusedNamesTheRefusedStatement) {
  AuditedPgro audited;
  RawPgClient client = connectProxy(*audited.pgro);
  client.query(
      "SELECT 1 /* audit-mref-a */; CREATE TABLE audit_nope (x int) /* audit-mref-b */; "
      "SELECT 2 /* audit-mref-c */");
  const auto found = records(audited.file, "audit-mref-", 3);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0]["text"], "SELECT 1 /* audit-mref-a */") << found[0];
  EXPECT_EQ(found[1]["text"], "CREATE TABLE audit_nope (x int) /* audit-mref-b */") << found[1];
  EXPECT_EQ(found[2]["text"], "SELECT 2 /* audit-mref-c */") << found[2];
  EXPECT_EQ(found[1]["verdict"], "refused") << found[1];
  EXPECT_EQ(found[1]["sqlstate"], "25006") << found[1];
  EXPECT_NE(found[1]["reason"].get<std::string>().find("not permitted"), std::string::npos)
      << found[1];
  for (const std::size_t i : {0u, 2u}) {
    EXPECT_EQ(found[i]["verdict"], "skipped") << found[i];
    EXPECT_TRUE(found[i]["sqlstate"].is_null()) << found[i];
    EXPECT_EQ(found[i]["reason"], "not run: statement 2 of the Query was refused") << found[i];
  }
  for (const json& r : found) {
    EXPECT_EQ(r["rows"], 0) << r;
    EXPECT_TRUE(r["upstream_ms"].is_null()) << r;
  }
  // A function refused in the third statement.
  client.query(
      "SELECT 1 /* audit-mfn-a */; SELECT 2 /* audit-mfn-b */; SELECT "
      "pg_catalog.pg_reload_conf() /* audit-mfn-c */");
  const auto fn = records(audited.file, "audit-mfn-", 3);
  ASSERT_EQ(fn.size(), 3u);
  EXPECT_EQ(fn[0]["verdict"], "skipped") << fn[0];
  EXPECT_EQ(fn[1]["verdict"], "skipped") << fn[1];
  EXPECT_EQ(fn[2]["verdict"], "refused") << fn[2];
  EXPECT_EQ(fn[2]["sqlstate"], "42501") << fn[2];
  EXPECT_EQ(fn[0]["reason"], "not run: statement 3 of the Query was refused") << fn[0];
}

// Statements pgro answers itself inside a string (DEALLOCATE ALL, in transaction pooling)
// take their turn between the server's.
TEST(AuditTest, MultiStatementQueryWithLocalAnswers) {
  AuditedPgro audited(Env{{"CACHE_ENABLED", "true"}});
  RawPgClient client = connectProxy(*audited.pgro);
  ASSERT_TRUE(ok(client,
                 "SELECT 1 /* audit-mtag-a */; DEALLOCATE ALL /* audit-mtag-b */; SELECT g FROM "
                 "generate_series(1, 2) g /* audit-mtag-c */"));
  const auto tagged = records(audited.file, "audit-mtag-", 3);
  ASSERT_EQ(tagged.size(), 3u);
  EXPECT_EQ(tagged[0]["rows"], 1) << tagged[0];
  EXPECT_EQ(tagged[1]["text"], "DEALLOCATE ALL /* audit-mtag-b */") << tagged[1];
  EXPECT_EQ(tagged[1]["rows"], 0) << tagged[1];
  EXPECT_EQ(tagged[2]["rows"], 2) << tagged[2];
  for (const json& r : tagged) EXPECT_EQ(r["verdict"], "allowed") << r;

  // pgro does not cache a string of several statements: each is counted from upstream.
  const std::string twice =
      "SELECT 5 /* audit-mcache-a */; SELECT g FROM generate_series(1, 4) g /* audit-mcache-b */";
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(ok(client, twice));
  const auto found = records(audited.file, "audit-mcache-", 4);
  ASSERT_EQ(found.size(), 4u);
  const std::vector<int> rows = {1, 4, 1, 4};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(found[i]["rows"], rows[i]) << found[i];
    EXPECT_EQ(found[i]["cache"], "bypass") << found[i];
  }
}

// Real drivers (tests/integration/audit_clients): every statement they send is one line, no
// more, with the login and application_name of the run and each statement's rows.
struct DriverRun {
  AuditedPgro audited{Env{{"AUDIT_PARAMETERS", "on"}}};
  std::vector<json> lines;  // the whole file, once `expected` lines are there

  void run(std::vector<std::string> argv, std::size_t expected) {
    const CommandResult r = runCommand(argv, audited.pgro->libpqEnv(), 60s);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    lines = records(audited.file, "", expected);
    std::this_thread::sleep_for(300ms);  // nothing more arrives late
    lines = records(audited.file, "", expected, 0ms);
  }

  std::vector<json> with(std::string_view marker) const {
    std::vector<json> out;
    for (const json& r : lines) {
      if (r["text"].get<std::string>().find(marker) != std::string::npos) out.push_back(r);
    }
    return out;
  }

  // The lines, for a failure message.
  std::string dump() const {
    std::string out;
    for (const json& r : lines) out += r.dump() + "\n";
    return out;
  }

  // Every line: this login, this application_name, one session, success.
  void expectAll(const std::string& application_name) const {
    for (const json& r : lines) {
      EXPECT_EQ(r["login"], kProxyUser) << r;
      EXPECT_EQ(r["application_name"], application_name) << r;
      EXPECT_EQ(r["session"], lines.front()["session"]) << r;
      EXPECT_EQ(r["verdict"], "allowed") << r;
      EXPECT_EQ(r["sqlstate"], "00000") << r;
    }
  }
};

TEST(AuditTest, PgjdbcRunAppearsOnceWithLoginAndRows) {
  DriverRun d;
  d.run({"java", "-cp", PGRO_JDBC_JAR, PGRO_AUDIT_CLIENTS_DIR "/AuditJdbc.java"}, 15);
  // pgjdbc's own two SETs after login, then 1 + 8 + BEGIN + 2 + COMMIT.
  ASSERT_EQ(d.lines.size(), 15u) << d.dump();
  EXPECT_EQ(d.lines[0]["text"], "SET extra_float_digits = 3");
  EXPECT_EQ(d.lines[1]["text"], "SET application_name = 'audit-jdbc'");
  EXPECT_EQ(d.lines[1]["application_name"], "");  // the name it had when the SET arrived
  d.lines.erase(d.lines.begin(), d.lines.begin() + 2);
  d.expectAll("audit-jdbc");
  const auto stmt = d.with("audit-jdbc-stmt");
  ASSERT_EQ(stmt.size(), 1u);
  EXPECT_EQ(stmt[0]["rows"], 4) << stmt[0];
  const auto prep = d.with("audit-jdbc-prep");
  ASSERT_EQ(prep.size(), 8u);
  for (std::size_t i = 0; i < prep.size(); ++i) {
    EXPECT_EQ(prep[i]["protocol"], "extended") << prep[i];
    // pgjdbc sends an int as a binary int4.
    EXPECT_EQ(prep[i]["parameters"], json::array({"\\x0000000" + std::to_string(i + 1)}))
        << prep[i];
    EXPECT_EQ(prep[i]["rows"], i + 1) << prep[i];
  }
  // From its 5th execution on, pgjdbc runs a named server-side statement.
  EXPECT_EQ(prep[0]["statement"], "") << prep[0];
  EXPECT_NE(prep[7]["statement"], "") << prep[7];
  ASSERT_EQ(d.with("audit-jdbc-tx1").size(), 1u);
  EXPECT_EQ(d.with("audit-jdbc-tx1")[0]["rows"], 1);
  ASSERT_EQ(d.with("audit-jdbc-tx2").size(), 1u);
  EXPECT_EQ(d.with("audit-jdbc-tx2")[0]["rows"], 2);
  EXPECT_EQ(d.with("BEGIN").size(), 1u);
  EXPECT_EQ(d.with("COMMIT").size(), 1u);
}

TEST(AuditTest, Psycopg3RunAppearsOnceWithLoginAndRows) {
  DriverRun d;
  d.run({"/usr/bin/python3", PGRO_AUDIT_CLIENTS_DIR "/audit_psycopg.py", "psycopg3"}, 14);
  // 7 + 5 + BEGIN + COMMIT.
  ASSERT_EQ(d.lines.size(), 14u) << d.dump();
  d.expectAll("audit-psycopg3");
  const auto param = d.with("audit-pg3-param");
  ASSERT_EQ(param.size(), 7u);
  for (std::size_t i = 0; i < param.size(); ++i) {
    EXPECT_EQ(param[i]["protocol"], "extended") << param[i];
    EXPECT_EQ(param[i]["rows"], i + 1) << param[i];
  }
  const auto many = d.with("audit-pg3-many");
  ASSERT_EQ(many.size(), 5u);
  for (std::size_t i = 0; i < many.size(); ++i) {
    // psycopg sends a Python int as a binary int2.
    EXPECT_EQ(many[i]["parameters"], json::array({"\\x000" + std::to_string(i)})) << many[i];
    EXPECT_EQ(many[i]["rows"], 1) << many[i];
  }
  EXPECT_EQ(d.with("BEGIN").size(), 1u);
  EXPECT_EQ(d.with("COMMIT").size(), 1u);
}

TEST(AuditTest, Psycopg2RunAppearsOnceWithLoginAndRows) {
  DriverRun d;
  d.run({"/usr/bin/python3", PGRO_AUDIT_CLIENTS_DIR "/audit_psycopg.py", "psycopg2"}, 7);
  // 3 + a string of 2 + BEGIN + COMMIT.
  ASSERT_EQ(d.lines.size(), 7u) << d.dump();
  d.expectAll("audit-psycopg2");
  const auto param = d.with("audit-pg2-param");
  ASSERT_EQ(param.size(), 3u);
  for (std::size_t i = 0; i < param.size(); ++i) {
    EXPECT_EQ(param[i]["protocol"], "simple") << param[i];
    EXPECT_EQ(param[i]["rows"], i + 1) << param[i];
  }
  const auto a = d.with("audit-pg2-multi-a");
  const auto b = d.with("audit-pg2-multi-b");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0]["text"], "SELECT 1 /* audit-pg2-multi-a */") << a[0];
  EXPECT_EQ(a[0]["rows"], 1) << a[0];
  EXPECT_EQ(b[0]["text"], "SELECT g FROM generate_series(1, 6) g /* audit-pg2-multi-b */") << b[0];
  EXPECT_EQ(b[0]["rows"], 6) << b[0];
  EXPECT_EQ(d.with("BEGIN").size(), 1u);
  EXPECT_EQ(d.with("COMMIT").size(), 1u);
}

TEST(AuditTest, CacheHitsAppearWithOutcomeHit) {
  AuditedPgro audited(Env{{"CACHE_ENABLED", "true"}});
  RawPgClient client = connectProxy(*audited.pgro);
  for (int i = 0; i < 3; ++i) client.query("SELECT 42 AS answer /* audit-cache */");
  client.query("SELECT now() /* audit-nocache */");
  const auto found = records(audited.file, "audit-cache", 3);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0]["cache"], "miss") << found[0];
  EXPECT_EQ(found[1]["cache"], "hit") << found[1];
  EXPECT_EQ(found[2]["cache"], "hit") << found[2];
  EXPECT_EQ(found[2]["rows"], 1) << found[2];
  EXPECT_TRUE(found[2]["upstream_ms"].is_null()) << found[2];
  EXPECT_EQ(found[0]["fingerprint"], found[2]["fingerprint"]);
  EXPECT_EQ(found[0]["bytes"], found[2]["bytes"]);  // the same result, whoever answered
  const auto bypass = records(audited.file, "audit-nocache", 1);
  ASSERT_EQ(bypass.size(), 1u);
  EXPECT_EQ(bypass[0]["cache"], "bypass") << bypass[0];
}

// The exposition counts the audit log's lines and its failed writes.
TEST(AuditTest, MetricsCountLinesWrittenAndLinesLost) {
  {
    AuditedPgro audited;
    RawPgClient client = connectProxy(*audited.pgro);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(ok(client, "SELECT 1 /* audit-metric */; SELECT 2"));
    ASSERT_EQ(records(audited.file, "", 10).size(), 10u);
    // The counter follows the file (the writer counts after its write).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (metricValue(*audited.pgro, "pgro_audit_lines_total") < 10 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(metricValue(*audited.pgro, "pgro_audit_lines_total"), 10)
        << scrapeMetrics(*audited.pgro);
    EXPECT_EQ(metricValue(*audited.pgro, "pgro_audit_dropped_total"), 0);
    EXPECT_EQ(metricValue(*audited.pgro, "pgro_audit_write_failures_total"), 0);
  }
  // /dev/full opens, and every write to it fails (ENOSPC).
  auto pgro = startPgro(Env{{"AUDIT_LOG", "/dev/full"}});
  RawPgClient client = connectProxy(*pgro);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ok(client, "SELECT 1 /* audit-full */"));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metricValue(*pgro, "pgro_audit_write_failures_total") < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metricValue(*pgro, "pgro_audit_write_failures_total"), 3) << scrapeMetrics(*pgro);
  EXPECT_EQ(metricValue(*pgro, "pgro_audit_lines_total"), 0);
  EXPECT_TRUE(pgro->waitForLog("audit log: write to /dev/full failed", 5s));
}

CommandResult verify(const std::string& path) {
  return runCommand({pgroBinary(), "audit", "verify", path}, {}, 30s);
}

TEST(AuditTest, HashChainVerifiesAndFindsEditedAndDeletedLines) {
  AuditedPgro audited(Env{{"AUDIT_HASH_CHAIN", "true"}});
  {
    RawPgClient client = connectProxy(*audited.pgro);
    for (int i = 0; i < 5; ++i) client.query("SELECT " + std::to_string(i) + " /* audit-chain */");
  }
  ASSERT_EQ(records(audited.file, "audit-chain", 5).size(), 5u);
  const auto ok = verify(audited.file);
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_NE(ok.out.find("OK"), std::string::npos) << ok.describe();

  auto lines = fileLines(audited.file);
  ASSERT_GE(lines.size(), 5u);
  auto write = [&](const std::string& name, const std::vector<std::string>& content) {
    const std::string path = audited.dir + "/" + name;
    std::ofstream out(path);
    for (const auto& line : content) out << line << "\n";
    return path;
  };
  // Line 3 says it returned one more row than it did.
  auto edited = lines;
  const auto at = edited[2].find("\"rows\":");
  ASSERT_NE(at, std::string::npos);
  edited[2].insert(at + 7, "1");
  const auto edited_result = verify(write("edited.log", edited));
  EXPECT_EQ(edited_result.exit_code, 1) << edited_result.describe();
  EXPECT_NE(edited_result.out.find("line 3"), std::string::npos) << edited_result.describe();

  auto deleted = lines;
  deleted.erase(deleted.begin() + 1);  // line 2 gone: the old line 3 is now line 2
  const auto deleted_result = verify(write("deleted.log", deleted));
  EXPECT_EQ(deleted_result.exit_code, 1) << deleted_result.describe();
  EXPECT_NE(deleted_result.out.find("line 2"), std::string::npos) << deleted_result.describe();

  // A restarted pgro appends to the same file and goes on with the chain.
  audited.pgro.reset();
  audited.pgro = startPgro({{"AUDIT_LOG", audited.file}, {"AUDIT_HASH_CHAIN", "true"}});
  connectProxy(*audited.pgro).query("SELECT 'after restart' /* audit-chain-2 */");
  ASSERT_EQ(records(audited.file, "audit-chain-2", 1).size(), 1u);
  const auto continued = verify(audited.file);
  EXPECT_EQ(continued.exit_code, 0) << continued.describe();
}

TEST(AuditTest, SighupReopensARenamedFile) {
  AuditedPgro audited(Env{{"AUDIT_HASH_CHAIN", "true"}});
  RawPgClient client = connectProxy(*audited.pgro);
  client.query("SELECT 1 /* audit-before-rotate */");
  ASSERT_EQ(records(audited.file, "audit-before-rotate", 1).size(), 1u);
  const std::string rotated = audited.file + ".1";
  std::filesystem::rename(audited.file, rotated);
  audited.pgro->sendSignal(SIGHUP);
  ASSERT_TRUE(audited.pgro->waitForLog("audit log reopened", 10s)) << audited.pgro->log();
  client.query("SELECT 2 /* audit-after-rotate */");
  ASSERT_EQ(records(audited.file, "audit-after-rotate", 1).size(), 1u);
  EXPECT_EQ(records(audited.file, "audit-before-rotate", 0, 0ms).size(), 0u);
  EXPECT_EQ(records(rotated, "audit-after-rotate", 0, 0ms).size(), 0u);
  EXPECT_EQ(records(rotated, "audit-before-rotate", 1, 0ms).size(), 1u);
  // The new file's first line continues the old file's chain.
  const auto old_lines = fileLines(rotated);
  const auto new_lines = fileLines(audited.file);
  ASSERT_FALSE(old_lines.empty());
  ASSERT_FALSE(new_lines.empty());
  EXPECT_NE(new_lines.front().find(audit::sha256Hex(old_lines.back())), std::string::npos);
}

}  // namespace
}  // namespace pgro::it
