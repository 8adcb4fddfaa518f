// Cross-client isolation (issue 13): whatever client A does through pgro, a fresh client B
// sharing A's server connection, and a fresh client C after A has gone, see exactly what a
// fresh client saw before A came (every setting's value; pgro may re-apply a value, which
// only changes its pg_settings source). The sequences are in tests/security/isolation.sql; the
// probe reads the state a session can leave on a server connection. POOL_SIZE=1 makes B and
// C share A's connection; POOL_SIZE=5 lets pgro pick among several.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../security/corpus.hpp"
#include "integration_common.hpp"

namespace pgro::it {
namespace {

using pgro::testing::loadCorpus;

// The first values random() returns after setseed(0.5), as text.
std::string seededRandoms() {
  RawPgClient direct = connectDirect();
  direct.query("SELECT pg_catalog.setseed(0.5)");
  std::string list;
  for (int i = 0; i < 3; ++i) {
    auto rows = dataRows(direct.query("SELECT pg_catalog.random()::text"));
    if (!list.empty()) list += ", ";
    list += "'" + rows.at(0).at(0).value_or("") + "'";
  }
  return list;
}

// Every setting by name, but those whose values pgro does not let clients read (the
// *_command settings, conninfo, passwords, keys...): pgro refuses reading unnamed values.
std::string readableSettingNames() {
  return postgres()
      .execDirect(
          "SELECT string_agg(quote_literal(name), ',') FROM pg_catalog.pg_settings "
          "WHERE name !~* '(_command$|conninfo|password|passwd|secret|key|token|salt|credential)'")
          [0][0]
      .c_str();
}

std::string probeSql() {
  return "SELECT (SELECT coalesce(string_agg(name || '=' || setting, ',' ORDER BY name), '') "
         "FROM pg_catalog.pg_settings WHERE name IN (" +
         readableSettingNames() +
         ")), "
         "(SELECT count(*) FROM pg_catalog.pg_cursors), "
         "(SELECT count(*) FROM pg_catalog.pg_listening_channels()), "
         "(SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' "
         "AND pid = pg_catalog.pg_backend_pid()), "
         "(SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE name NOT LIKE 'pgro\\_%'), "
         "pg_catalog.random()::text IN (" +
         seededRandoms() + ")";
}

// The probe's one row, or why there is none.
std::string probe(const PgroProcess& pgro, const std::string& sql) {
  RawPgClient client = connectProxy(pgro);
  auto reply = client.query(sql);
  if (auto error = firstError(reply)) return "error " + error->describe();
  auto rows = dataRows(reply);
  if (rows.size() != 1) return "rows: " + std::to_string(rows.size());
  std::string out;
  for (const auto& value : rows[0]) out += value.value_or("NULL") + " | ";
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.rfind("--", 0) != 0) out.push_back(line);
  }
  return out;
}

class IsolationCorpus
    : public ::testing::TestWithParam<std::tuple<const char* /*mode*/, const char* /*pool*/>> {};

TEST_P(IsolationCorpus, AFreshClientSeesNothingOfTheClientBefore) {
  const auto entries = loadCorpus(std::string(PGRO_SECURITY_CORPUS_DIR) + "/isolation.sql");
  ASSERT_GE(entries.size(), 30u);
  const auto [mode, pool] = GetParam();
  auto pgro = startPgro({{"POOL_SIZE", pool}, {"POOL_MODE", mode}, {"POOL_TIMEOUT_SECONDS", "2"}});
  const std::string sql = probeSql();
  const std::string baseline = probe(*pgro, sql);
  ASSERT_EQ(baseline.rfind("error", 0), std::string::npos) << baseline;
  for (const auto& entry : entries) {
    SCOPED_TRACE("isolation.sql:" + std::to_string(entry.line) + ": " + entry.sql);
    {
      RawPgClient a = connectProxy(*pgro);
      for (const std::string& statement : lines(entry.sql)) a.query(statement);
      // B while A is still connected. A that keeps its connection (an open transaction, a
      // cursor WITH HOLD, session pooling) leaves B waiting for the pool: 53300, not a leak.
      const std::string b = probe(*pgro, sql);
      if (b.find("53300") == std::string::npos) {
        EXPECT_EQ(b, baseline) << "client B";
      }
    }
    EXPECT_EQ(probe(*pgro, sql), baseline) << "client C, after A disconnected";
  }
}

INSTANTIATE_TEST_SUITE_P(IsolationCorpusTest, IsolationCorpus,
                         ::testing::Combine(::testing::Values("transaction", "session"),
                                            ::testing::Values("1", "5")));

}  // namespace
}  // namespace pgro::it
