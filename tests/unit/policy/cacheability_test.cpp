// Which allowed strings the result cache may keep, and the cache-reset command.
#include <gtest/gtest.h>

#include <string>

#include "policy/classifier.hpp"

namespace pgro::policy {
namespace {

bool cacheable(const std::string& sql, const ClassifierOptions& options = {}) {
  Verdict v = classify(sql, options);
  EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
  return v.cacheable;
}

TEST(Cacheability, PlainReadsAreCacheable) {
  EXPECT_TRUE(cacheable("SELECT * FROM t WHERE id = 1"));
  EXPECT_TRUE(cacheable("VALUES (1)"));
  EXPECT_TRUE(cacheable("TABLE t"));
  EXPECT_TRUE(cacheable("WITH x AS (SELECT 1) SELECT * FROM x"));
  EXPECT_TRUE(cacheable("SELECT 1; SELECT 2"));
  EXPECT_TRUE(cacheable("SELECT current_user, session_user, current_schema, current_catalog"));
  EXPECT_TRUE(cacheable("SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (42)"));
  EXPECT_TRUE(cacheable("SELECT count(*) FROM pg_class"));
  EXPECT_TRUE(cacheable("SELECT /* pgro:nocache*/ 1")) << "only the exact marker counts";
  EXPECT_TRUE(cacheable("SELECT 'snow', 'knowledge', 'nowhere' FROM t"));
}

TEST(Cacheability, TimeAndVolatileFunctionsAreNot) {
  for (const char* sql : {"SELECT now()",
                          "SELECT current_timestamp",
                          "SELECT CURRENT_DATE",
                          "SELECT localtime(2)",
                          "SELECT LOCALTIMESTAMP",
                          "SELECT current_time",
                          "SELECT * FROM t WHERE ts > now() - "
                          "interval '1 day'",
                          "SELECT random()",
                          "SELECT 1 ORDER BY random()",
                          "SELECT clock_timestamp()",
                          "SELECT timeofday()",
                          "SELECT gen_random_uuid()",
                          "SELECT statement_timestamp()",
                          "SELECT transaction_timestamp()",
                          "SELECT pg_backend_pid()",
                          "SELECT inet_client_addr()",
                          "SELECT current_setting('timezone')",
                          "SELECT currval('s')",
                          "SELECT txid_current_snapshot()",
                          "SELECT pg_stat_get_numscans(1)",
                          "SELECT * FROM t TABLESAMPLE BERNOULLI (10)",
                          "SELECT 'now'::timestamptz",
                          "SELECT * FROM t WHERE ts > 'today'",
                          "SELECT date 'tomorrow'",
                          "SELECT 'Yesterday 10:00'::timestamp"}) {
    EXPECT_FALSE(cacheable(sql)) << sql;
  }
}

TEST(Cacheability, LiveSystemViewsAreNot) {
  for (const char* sql :
       {"SELECT * FROM pg_stat_activity", "SELECT * FROM pg_catalog.pg_stat_user_tables",
        "SELECT * FROM pg_statio_user_tables", "SELECT * FROM pg_locks",
        "SELECT * FROM pg_settings WHERE name = 'work_mem'",
        "SELECT * FROM pg_prepared_statements"}) {
    EXPECT_FALSE(cacheable(sql)) << sql;
  }
  EXPECT_TRUE(cacheable("SELECT * FROM myschema.pg_locks")) << "a user table of the same name";
}

TEST(Cacheability, OnlySelectsAreCacheable) {
  for (const char* sql :
       {"SHOW search_path", "SET work_mem = '1MB'", "EXPLAIN SELECT 1", "BEGIN", "SELECT 1; BEGIN",
        "DECLARE c CURSOR FOR SELECT 1", "FETCH 1 FROM c", "COPY t TO STDOUT",
        "LOCK t IN ACCESS SHARE MODE", "PREPARE p AS SELECT 1", "EXECUTE p",
        "SELECT set_config('work_mem', '1MB', false)"}) {
    EXPECT_FALSE(cacheable(sql)) << sql;
  }
}

TEST(Cacheability, NoCacheMarker) {
  EXPECT_FALSE(cacheable("SELECT /* pgro:nocache */ * FROM t"));
  EXPECT_FALSE(cacheable("/* pgro:nocache */ SELECT 1"));
  EXPECT_FALSE(cacheable("SELECT 1 /* pgro:nocache */"));
}

TEST(Cacheability, CatalogVolatileFunctionsAreNot) {
  FunctionCatalog catalog(
      {{.schema = "pg_catalog", .name = "my_rand", .volatility = 'v', .builtin = true},
       {.schema = "public",
        .name = "my_pure",
        .volatility = 'i',
        .language = "sql",
        .body = "SELECT 1"}});
  ClassifierOptions options;
  options.catalog = &catalog;
  options.extra_safe_functions = {"my_rand"};
  EXPECT_FALSE(cacheable("SELECT my_rand()", options));
  EXPECT_TRUE(cacheable("SELECT my_pure()", options));
}

TEST(Cacheability, CacheReset) {
  for (const char* sql :
       {"SELECT pgro_cache_reset()", "select PGRO_CACHE_RESET();", "SELECT  pgro_cache_reset ( )",
        "SELECT rustproxy_cache_reset()", "SELECT rustproxy_cache_reset();",
        "/* c */ SELECT -- x\n pgro_cache_reset()", "SELECT \"pgro_cache_reset\"()"}) {
    Verdict v = classify(sql);
    EXPECT_TRUE(v.allowed) << sql;
    EXPECT_TRUE(v.is_cache_reset) << sql;
    EXPECT_FALSE(v.cacheable) << sql;
  }
  for (const char* sql : {"SELECT public.pgro_cache_reset()", "SELECT pgro_cache_reset(1)",
                          "SELECT pgro_cache_reset() AS x", "SELECT pgro_cache_reset() FROM t",
                          "SELECT pgro_cache_reset(); SELECT 1", "SELECT 1, pgro_cache_reset()",
                          "SELECT pgro_cache_reset() WHERE true", "SELECT other_cache_reset()"}) {
    EXPECT_FALSE(classify(sql).is_cache_reset) << sql;
  }
}

}  // namespace
}  // namespace pgro::policy
