// Query results through pgro equal PostgreSQL's own, byte for byte: simple and extended
// protocol, text and binary formats, errors, notices, pipelines; and real clients (psql,
// libpqxx, pgbench) work through it.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "integration_common.hpp"

namespace pgro::it {
namespace {

// Printable rendering of bytes for failure messages.
std::string escape(std::string_view bytes, std::size_t limit = 300) {
  std::ostringstream os;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      os << c;
    } else {
      static const char* hex = "0123456789abcdef";
      os << "\\x" << hex[c >> 4] << hex[c & 15];
    }
  }
  if (bytes.size() > limit) os << "...(" << bytes.size() << " bytes)";
  return os.str();
}

::testing::AssertionResult sameReply(const std::vector<Message>& direct,
                                     const std::vector<Message>& proxy) {
  if (typeSequence(direct) != typeSequence(proxy)) {
    auto r = ::testing::AssertionFailure()
             << "message types differ: direct [" << typeSequence(direct) << "] proxy ["
             << typeSequence(proxy) << "]";
    if (auto e = firstError(proxy)) r << "; proxy error: " << e->describe();
    return r;
  }
  for (std::size_t i = 0; i < direct.size(); ++i) {
    if (direct[i].body != proxy[i].body) {
      return ::testing::AssertionFailure() << "message " << i << " ('" << direct[i].type
                                           << "') differs:\n  direct: " << escape(direct[i].body)
                                           << "\n  proxy:  " << escape(proxy[i].body);
    }
  }
  return ::testing::AssertionSuccess();
}

// Sends the same frontend bytes to both connections and reads until ReadyForQuery.
struct Replies {
  std::vector<Message> direct;
  std::vector<Message> proxy;
};

Replies onBoth(RawPgClient& direct, RawPgClient& proxy, const std::string& bytes) {
  direct.send(bytes);
  proxy.send(bytes);
  return {direct.readUntilReadyForQuery(), proxy.readUntilReadyForQuery()};
}

constexpr const char* kTypesQuery = R"sql(SELECT
  1::int4 AS i4, 9223372036854775807::int8 AS i8, (-32768)::int2 AS i2, true AS bool,
  12345.678901234567890::numeric AS num, 'NaN'::numeric AS num_nan,
  '\xdeadbeef00'::bytea AS ba, '2024-02-29 13:14:15.123456+02'::timestamptz AS tstz,
  '2024-02-29'::date AS d, '1 year 2 mons 3 days 04:05:06.789'::interval AS iv,
  ARRAY[1, NULL, 3]::int4[] AS arr, ARRAY['a', 'b c', NULL]::text[] AS tarr,
  '{"a": [1, 2, {"b": null}]}'::json AS js, '{"b": 2, "a": 1}'::jsonb AS jsb,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, NULL::text AS nul, NULL::int8 AS nul8,
  'NaN'::float8 AS f_nan, 'Infinity'::float8 AS f_inf, '-Infinity'::float8 AS f_ninf,
  1.5e300::float8 AS f_big, 3.25::float4 AS f4, '12:34:56.789'::time AS tm,
  'héllo wörld ✓'::text AS t, ''::text AS empty)sql";

constexpr const char* kTableQuery = "SELECT * FROM typed_values ORDER BY id";

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pgro_ = startPgro();
    direct_.emplace(connectDirect());
    proxy_.emplace(connectProxy(*pgro_));
  }

  std::unique_ptr<PgroProcess> pgro_;
  std::optional<RawPgClient> direct_;
  std::optional<RawPgClient> proxy_;
};

TEST_F(QueryTest, PsqlSelectOneAndMultiRowMatchDirect) {
  CommandResult one =
      runCommand({"psql", "-X", "-A", "-t", "-c", "SELECT 1"}, pgro_->libpqEnv(), 30s);
  ASSERT_EQ(one.exit_code, 0) << one.describe();
  EXPECT_EQ(one.out, "1\n");

  const std::string multi =
      "SELECT g, md5(g::text) AS h, g % 3 = 0 AS fizz FROM generate_series(1, 200) g ORDER BY g";
  CommandResult via = runCommand({"psql", "-X", "-c", multi}, pgro_->libpqEnv(), 30s);
  CommandResult direct = runCommand({"psql", "-X", "-c", multi}, postgres().libpqEnv(), 30s);
  ASSERT_EQ(via.exit_code, 0) << via.describe();
  ASSERT_EQ(direct.exit_code, 0) << direct.describe();
  EXPECT_NE(via.out.find("(200 rows)"), std::string::npos) << via.out.substr(0, 500);
  EXPECT_EQ(via.out, direct.out);
}

TEST_F(QueryTest, SimpleQueryRepliesAreByteIdentical) {
  for (const char* sql : {kTypesQuery, kTableQuery, "SELECT 1", "SELECT 1; SELECT 'two', 3.0"}) {
    Replies r = onBoth(*direct_, *proxy_, wire::query(sql));
    EXPECT_TRUE(sameReply(r.direct, r.proxy)) << "query: " << sql;
    EXPECT_EQ(firstError(r.direct), std::nullopt) << "fixture query failed directly: " << sql;
  }
  // The same again: a second run (possibly served from pgro's cache) is identical too.
  Replies again = onBoth(*direct_, *proxy_, wire::query(kTableQuery));
  EXPECT_TRUE(sameReply(again.direct, again.proxy));
}

TEST_F(QueryTest, ExtendedProtocolTextAndBinaryAreByteIdentical) {
  for (int16_t format : {int16_t{0}, int16_t{1}}) {
    for (const char* sql : {kTypesQuery, kTableQuery}) {
      std::string bytes = wire::parse("", sql) + wire::bind("", "", {}, {}, {format}) +
                          wire::describePortal("") + wire::execute("") + wire::sync();
      Replies r = onBoth(*direct_, *proxy_, bytes);
      EXPECT_EQ(typeSequence(r.direct).front(), '1');
      EXPECT_TRUE(sameReply(r.direct, r.proxy)) << "format " << format << " query: " << sql;
    }
  }
}

TEST_F(QueryTest, ExtendedProtocolWithParametersAndNamedStatements) {
  // A named statement with typed parameters, described, then bound twice with text and
  // binary parameters and mixed result formats.
  std::string binary_int;
  putInt32(binary_int, 41);
  std::string prepare =
      wire::parse("stmt_a", "SELECT $1::int4 + 1 AS next, $2::text AS label, $3::bytea AS raw",
                  {23, 25, 17}) +
      wire::describeStatement("stmt_a") + wire::sync();
  std::string run_text = wire::bind("", "stmt_a", {"41", "text-param", std::nullopt}, {0}, {0}) +
                         wire::execute("") + wire::sync();
  std::string run_binary =
      wire::bind("p1", "stmt_a", {binary_int, "x", std::string("\x00\x01\xff", 3)}, {1, 0, 1},
                 {1, 0, 1}) +
      wire::describePortal("p1") + wire::execute("p1") + wire::closePortal("p1") + wire::sync();
  std::string close = wire::closeStatement("stmt_a") + wire::sync();
  for (const std::string& bytes : {prepare, run_text, run_binary, run_binary, close}) {
    Replies r = onBoth(*direct_, *proxy_, bytes);
    EXPECT_EQ(firstError(r.direct), std::nullopt);
    EXPECT_TRUE(sameReply(r.direct, r.proxy)) << "direct [" << typeSequence(r.direct) << "]";
  }
  // Row limit on Execute: PortalSuspended ('s') then the rest.
  std::string limited = wire::parse("", "SELECT g FROM generate_series(1, 5) g") +
                        wire::bind("", "") + wire::execute("", 2) + wire::execute("", 0) +
                        wire::sync();
  Replies r = onBoth(*direct_, *proxy_, limited);
  EXPECT_EQ(typeSequence(r.direct), "12DDsDDDCZ");
  EXPECT_TRUE(sameReply(r.direct, r.proxy));
}

TEST_F(QueryTest, ErrorsKeepSqlstateAndFields) {
  struct Case {
    const char* sql;
    const char* sqlstate;
    bool has_position;
  };
  for (const Case& c :
       {Case{"SELECT 1/0", "22012", false}, Case{"SELECT 'abc'::int", "22P02", true},
        Case{"SELECT * FROM no_such_table", "42P01", true}}) {
    Replies r = onBoth(*direct_, *proxy_, wire::query(c.sql));
    auto direct_error = firstError(r.direct);
    auto proxy_error = firstError(r.proxy);
    ASSERT_TRUE(direct_error) << c.sql;
    ASSERT_TRUE(proxy_error) << c.sql << ": no ErrorResponse through pgro";
    EXPECT_EQ(proxy_error->sqlstate(), c.sqlstate) << proxy_error->describe();
    EXPECT_EQ(proxy_error->has('P'), c.has_position) << c.sql;
    EXPECT_EQ(proxy_error->fields, direct_error->fields)
        << "direct: " << direct_error->describe() << "\nproxy: " << proxy_error->describe();
    EXPECT_TRUE(sameReply(r.direct, r.proxy)) << c.sql;
  }
  // The session goes on after an error.
  Replies after = onBoth(*direct_, *proxy_, wire::query("SELECT 42"));
  EXPECT_TRUE(sameReply(after.direct, after.proxy));
}

TEST_F(QueryTest, NoticePassesThrough) {
  Replies r = onBoth(*direct_, *proxy_, wire::query("SELECT notice_me()"));
  ASSERT_NE(typeSequence(r.proxy).find('N'), std::string::npos)
      << "no NoticeResponse through pgro: [" << typeSequence(r.proxy) << "]"
      << (firstError(r.proxy) ? " error: " + firstError(r.proxy)->describe() : "");
  EXPECT_TRUE(sameReply(r.direct, r.proxy));
  for (const auto& m : r.proxy) {
    if (m.type != 'N') continue;
    auto notice = parseErrorFields(m.body);
    ASSERT_TRUE(notice);
    EXPECT_EQ(notice->severity(), "NOTICE");
    EXPECT_EQ(notice->message(), "hello");
    EXPECT_EQ(notice->sqlstate(), "00000");
  }
}

TEST_F(QueryTest, PipelinedExtendedProtocolSkipsToSyncAfterError) {
  std::string pipeline;
  for (const char* sql : {"SELECT 1", "SELECT 1/0", "SELECT 3", "SELECT 4"}) {
    pipeline += wire::parse("", sql) + wire::bind("", "") + wire::execute("");
  }
  pipeline += wire::sync();
  std::string next = wire::parse("", "SELECT 5") + wire::bind("", "") + wire::execute("") +
                     wire::parse("", "SELECT 6") + wire::bind("", "") + wire::execute("") +
                     wire::sync();
  // Both pipelines sent before reading anything.
  direct_->send(pipeline + next);
  proxy_->send(pipeline + next);
  auto direct_first = direct_->readUntilReadyForQuery();
  auto proxy_first = proxy_->readUntilReadyForQuery();
  auto direct_second = direct_->readUntilReadyForQuery();
  auto proxy_second = proxy_->readUntilReadyForQuery();
  // 1/0 is folded while planning, so Bind reports the error.
  EXPECT_EQ(typeSequence(direct_first), "12DC1EZ");
  EXPECT_EQ(typeSequence(proxy_first), typeSequence(direct_first));
  EXPECT_TRUE(sameReply(direct_first, proxy_first));
  EXPECT_EQ(typeSequence(direct_second), "12DC12DCZ");
  EXPECT_TRUE(sameReply(direct_second, proxy_second));
  // Named statements prepared inside a failed pipeline do not exist afterwards.
  std::string failed = wire::parse("gone", "SELECT 1/0") + wire::bind("", "gone") +
                       wire::execute("") + wire::parse("never", "SELECT 7") + wire::sync();
  Replies f = onBoth(*direct_, *proxy_, failed);
  EXPECT_TRUE(sameReply(f.direct, f.proxy));
  Replies g = onBoth(*direct_, *proxy_, wire::bind("", "never") + wire::execute("") + wire::sync());
  // pgro tracks each client's named statements itself (transaction pooling), so it may
  // answer this one without PostgreSQL: the source-location fields (F, L, R) then differ.
  EXPECT_EQ(typeSequence(g.proxy), typeSequence(g.direct));
  auto direct_error = firstError(g.direct);
  auto proxy_error = firstError(g.proxy);
  ASSERT_TRUE(direct_error && proxy_error);
  for (char field : {'S', 'V', 'C', 'M', 'D', 'H', 'P'}) {
    EXPECT_EQ(proxy_error->get(field), direct_error->get(field)) << "field " << field;
  }
  EXPECT_EQ(proxy_error->sqlstate(), "26000");
}

TEST_F(QueryTest, LibpqxxTransactionWithSeveralStatements) {
  pqxx::connection conn(pgro_->conninfo());
  conn.prepare("plus_one", "SELECT $1::int + 1");
  pqxx::work tx(conn);
  EXPECT_EQ(tx.exec1("SELECT 1")[0].as<int>(), 1);
  pqxx::result rows = tx.exec("SELECT id, t FROM typed_values WHERE id <= 3 ORDER BY id");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1].as<std::string>(), "héllo wörld ✓");
  EXPECT_TRUE(rows[1][1].as<std::string>().empty());
  EXPECT_EQ(tx.exec_prepared1("plus_one", 41)[0].as<int>(), 42);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM typed_values")[0].as<int>(), 5);
  // Same backend for the whole transaction (transaction pooling keeps it).
  int pid1 = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  int pid2 = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  EXPECT_EQ(pid1, pid2);
  tx.commit();
  pqxx::nontransaction again(conn);
  EXPECT_EQ(again.exec_prepared1("plus_one", 1)[0].as<int>(), 2);
}

TEST_F(QueryTest, UpstreamSessionIsReadOnly) {
  auto reply = proxy_->query("SELECT current_setting('transaction_read_only')");
  auto rows = dataRows(reply);
  ASSERT_EQ(rows.size(), 1u) << typeSequence(reply);
  EXPECT_EQ(rows[0][0].value_or(""), "on");
}

struct PgbenchRun {
  CommandResult result;
  double tps = 0;
  std::optional<long> failed;
};

PgbenchRun runPgbench(const PgroProcess& pgro, const std::string& mode) {
  PgbenchRun run;
  // -n: no VACUUM before the run (a write; pgro refuses it).
  run.result = runCommand({"pgbench", "-n", "-S", "-c", "4", "-j", "2", "-T", "3", "-M", mode},
                          pgro.libpqEnv(), 60s);
  std::smatch m;
  static const std::regex tps_re(R"(tps = ([0-9.]+))");
  static const std::regex failed_re(R"(number of failed transactions: ([0-9]+))");
  if (std::regex_search(run.result.out, m, tps_re)) run.tps = std::stod(m[1]);
  if (std::regex_search(run.result.out, m, failed_re)) run.failed = std::stol(m[1]);
  return run;
}

class PgbenchTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PgbenchTest, SelectOnlyThroughPgro) {
  postgres().initPgbench(1);  // directly: pgbench -i writes
  auto pgro = startPgro();
  PgbenchRun run = runPgbench(*pgro, GetParam());
  ASSERT_EQ(run.result.exit_code, 0) << run.result.describe();
  ASSERT_TRUE(run.failed.has_value()) << run.result.out;
  EXPECT_EQ(*run.failed, 0) << run.result.out;
  EXPECT_GT(run.tps, 0.0) << run.result.out;
}

INSTANTIATE_TEST_SUITE_P(Modes, PgbenchTest, ::testing::Values("simple", "extended", "prepared"));

}  // namespace
}  // namespace pgro::it
