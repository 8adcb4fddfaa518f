// Layer 4: the SET allowlist, for SET/RESET statements and for checkParameter().
#include <gtest/gtest.h>

#include <string>

#include "policy/classifier.hpp"
#include "policy/parameter_rules.hpp"

namespace pgro::policy {
namespace {

SetAction onlySet(const std::string& sql) {
  Verdict v = classify(sql);
  EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
  EXPECT_TRUE(v.kinds.has_set) << sql;
  EXPECT_FALSE(v.cacheable) << sql;
  EXPECT_EQ(v.sets.size(), 1U) << sql;
  return v.sets.empty() ? SetAction{} : v.sets[0];
}

void expectParameterRefused(const std::string& sql) {
  Verdict v = classify(sql);
  EXPECT_FALSE(v.allowed) << sql;
  EXPECT_EQ(v.refusal, Refusal::ForbiddenParameter) << sql << ": " << v.message;
  EXPECT_EQ(v.sqlstate, "42501") << sql;
  EXPECT_EQ(v.message.rfind("permission denied to set parameter \"", 0), 0U) << v.message;
}

TEST(ParameterRules, SetValuesAreFlattenedLikePostgres) {
  SetAction a = onlySet("SET search_path = a, 'B', \"C\", public");
  EXPECT_EQ(a.name, "search_path");
  EXPECT_EQ(a.value, "a, \"B\", \"C\", public");
  EXPECT_EQ(onlySet("SET search_path TO '$user', public").value, "\"$user\", public");
  EXPECT_EQ(onlySet("SET SCHEMA 'app'").name, "search_path");
  SetAction tz = onlySet("SET TIME ZONE 'Europe/Paris'");
  EXPECT_EQ(tz.name, "timezone");
  EXPECT_EQ(tz.value, "Europe/Paris");
  EXPECT_EQ(onlySet("SET DATESTYLE = ISO").value, "iso");
  EXPECT_EQ(onlySet("SET DateStyle TO 'ISO, MDY'").value, "ISO, MDY");
  EXPECT_EQ(onlySet("SET datestyle = iso, mdy").value, "iso, mdy");
  EXPECT_EQ(onlySet("SET extra_float_digits TO 3").value, "3");
  EXPECT_EQ(onlySet("SET random_page_cost = 1.5").value, "1.5");
  EXPECT_EQ(onlySet("SET statement_timeout = '5s'").value, "5s");
  EXPECT_EQ(onlySet("SET NAMES 'UTF8'").name, "client_encoding");
  EXPECT_EQ(onlySet("SET enable_seqscan = off").value, "off");
  EXPECT_EQ(onlySet("SET jit = false").value, "false");
  EXPECT_EQ(onlySet("SET XML OPTION DOCUMENT").name, "xmloption");
  EXPECT_TRUE(onlySet("SET LOCAL work_mem = '64MB'").is_local);
  EXPECT_TRUE(onlySet("SET SESSION work_mem = '64MB'").is_local == false);
  EXPECT_TRUE(onlySet("SET \"TimeZone\" = 'UTC'").name == "timezone");
}

TEST(ParameterRules, ResetsAndDefaults) {
  SetAction reset = onlySet("RESET search_path");
  EXPECT_TRUE(reset.is_reset);
  EXPECT_EQ(reset.name, "search_path");
  EXPECT_TRUE(onlySet("SET work_mem TO DEFAULT").is_reset);
  EXPECT_TRUE(onlySet("SET TIME ZONE LOCAL").is_reset);
  EXPECT_TRUE(onlySet("RESET TIME ZONE").is_reset);
  EXPECT_EQ(onlySet("RESET TRANSACTION ISOLATION LEVEL").name, "transaction_isolation");
  SetAction all = onlySet("RESET ALL");
  EXPECT_TRUE(all.is_reset_all);
  EXPECT_TRUE(all.name.empty());
}

TEST(ParameterRules, SessionCharacteristicsBecomeSessionDefaults) {
  // Metabase sends exactly this.
  Verdict v = classify(
      "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ "
      "UNCOMMITTED");
  ASSERT_TRUE(v.allowed) << v.message;
  ASSERT_EQ(v.sets.size(), 1U);
  EXPECT_EQ(v.sets[0].name, "default_transaction_isolation");
  EXPECT_EQ(v.sets[0].value, "read uncommitted");
  EXPECT_FALSE(v.sets[0].is_local);
  EXPECT_TRUE(v.kinds.isolation.empty()) << "a session default, not this transaction's level";
  Verdict ro = classify("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY, DEFERRABLE");
  ASSERT_TRUE(ro.allowed) << ro.message;
  ASSERT_EQ(ro.sets.size(), 2U);
  EXPECT_EQ(ro.sets[0].name, "default_transaction_read_only");
  EXPECT_EQ(ro.sets[0].value, "on");
  EXPECT_EQ(ro.sets[1].name, "default_transaction_deferrable");
  Verdict tx = classify("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE");
  ASSERT_TRUE(tx.allowed);
  EXPECT_EQ(tx.kinds.isolation, "serializable");
  for (const SetAction& action : tx.sets) {
    EXPECT_TRUE(action.is_local) << action.name;
  }
}

// Every upstream session runs as UPSTREAM_ROLE, set at its startup. Measured on PostgreSQL
// 15: RESET ALL and DISCARD ALL keep that role, but SET ROLE NONE, set_config('role') and
// SET SESSION AUTHORIZATION <account> give the account's own (superuser) privileges back.
// Every spelling of a role change stays refused, whatever the case or the scope.
TEST(ParameterRules, TheRoleCannotBeChangedInAnySpelling) {
  for (const char* sql :
       {"SET ROLE NONE", "SET ROLE admin", "SET LOCAL ROLE NONE", "SET SESSION ROLE NONE",
        "SET \"ROLE\" TO none", "SET \"Role\" = 'admin'", "SET role TO DEFAULT",
        "SET LOCAL role TO DEFAULT", "RESET role", "RESET \"ROLE\"", "SET ROLE 'pg_read_all_data'",
        "SET SESSION AUTHORIZATION 'admin'", "SET LOCAL SESSION AUTHORIZATION DEFAULT",
        "SET session_authorization = admin", "SET \"SESSION_AUTHORIZATION\" TO DEFAULT",
        "RESET session_authorization", "BEGIN; SET LOCAL ROLE NONE; COMMIT"}) {
    expectParameterRefused(sql);
  }
  for (const char* name :
       {"role", "ROLE", "Role", "session_authorization", "SESSION_AUTHORIZATION"}) {
    for (const char* value : {"none", "admin", "pg_read_all_data", ""}) {
      const Verdict v = checkParameter(name, value);
      EXPECT_EQ(v.refusal, Refusal::ForbiddenParameter) << name << "=" << value;
      EXPECT_EQ(v.sqlstate, "42501") << name << "=" << value;
    }
  }
  // RESET ALL is allowed: PostgreSQL's role and session_authorization are GUC_NO_RESET_ALL.
  const Verdict reset_all = classify("RESET ALL");
  EXPECT_TRUE(reset_all.allowed) << reset_all.message;
}

TEST(ParameterRules, ForbiddenParameters) {
  expectParameterRefused("SET ROLE postgres");
  expectParameterRefused("SET role = 'x'");
  expectParameterRefused("RESET ROLE");
  expectParameterRefused("SET SESSION AUTHORIZATION postgres");
  expectParameterRefused("SET SESSION AUTHORIZATION DEFAULT");
  expectParameterRefused("RESET SESSION AUTHORIZATION");
  expectParameterRefused("SET session_replication_role = replica");
  expectParameterRefused("SET lc_messages = 'C'");
  expectParameterRefused("SET my.custom = 1");
  expectParameterRefused("SET pgro.other = on");
  expectParameterRefused("SET log_statement = 'none'");
  expectParameterRefused("SET temp_tablespaces = 'x'");
  expectParameterRefused("SET backslash_quote = on");
}

TEST(ParameterRules, ReadWriteInEverySpellingIsRefused) {
  for (const char* sql :
       {"SET transaction_read_only = off", "SET transaction_read_only TO false",
        "SET transaction_read_only = 0", "SET transaction_read_only = 'of'",
        "SET default_transaction_read_only TO false", "SET default_transaction_read_only = no",
        "SET default_transaction_read_only = 'n'", "SET LOCAL transaction_read_only = off",
        "SET SESSION default_transaction_read_only = 'OFF'",
        "SET default_transaction_read_only = 'garbage'",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"}) {
    expectParameterRefused(sql);
  }
  // Measured on PostgreSQL 15: inside a transaction of a read-only session these make the
  // transaction READ WRITE (the reset value of transaction_read_only is off).
  for (const char* sql :
       {"RESET transaction_read_only", "BEGIN; RESET transaction_read_only; SELECT 1; COMMIT",
        "SET transaction_read_only TO DEFAULT", "SET LOCAL transaction_read_only = DEFAULT",
        "SELECT set_config('transaction_read_only', NULL, true)"}) {
    expectParameterRefused(sql);
  }
  // default_transaction_read_only resets to pgro's startup option (on): allowed.
  for (const char* sql :
       {"RESET default_transaction_read_only", "SET default_transaction_read_only TO DEFAULT",
        "SELECT set_config('default_transaction_read_only', NULL, false)"}) {
    EXPECT_TRUE(classify(sql).allowed) << sql;
  }
  EXPECT_TRUE(classify("RESET ALL").allowed) << "transaction_read_only is GUC_NO_RESET_ALL";
  for (const char* sql :
       {"SET transaction_read_only = on", "SET default_transaction_read_only TO true",
        "SET default_transaction_read_only = 1", "SET default_transaction_read_only = 'yes'",
        "SET transaction_read_only = 'TRUE'"}) {
    EXPECT_TRUE(classify(sql).allowed) << sql;
  }
}

TEST(ParameterRules, StandardConformingStringsOnlyOn) {
  EXPECT_TRUE(classify("SET standard_conforming_strings = on").allowed);
  EXPECT_TRUE(classify("SET standard_conforming_strings TO DEFAULT").allowed);
  expectParameterRefused("SET standard_conforming_strings = off");
  expectParameterRefused("SET standard_conforming_strings = false");
}

TEST(ParameterRules, ClientEncodings) {
  for (const char* encoding :
       {"UTF8", "utf-8", "Unicode", "SQL_ASCII", "LATIN1", "latin10", "WIN1252", "windows-1251",
        "KOI8R", "ISO_8859_5", "EUC_JP", "EUC_CN", "EUC_JIS_2004", "MULE_INTERNAL"}) {
    EXPECT_TRUE(detail::isSafeClientEncoding(encoding)) << encoding;
    EXPECT_TRUE(checkParameter("client_encoding", encoding).allowed) << encoding;
  }
  for (const char* encoding :
       {"SJIS", "Shift_JIS", "SHIFT_JIS_2004", "MSKANJI", "WIN932", "BIG5", "WIN950", "GBK",
        "CP936", "WIN936", "GB18030", "UHC", "WIN949", "JOHAB", "nonsense", ""}) {
    Verdict v = checkParameter("client_encoding", encoding);
    EXPECT_EQ(v.refusal, Refusal::ForbiddenParameter) << encoding;
    EXPECT_EQ(v.sqlstate, "42501") << encoding;
  }
  expectParameterRefused("SET client_encoding = 'SJIS'");
  // The value kept is PostgreSQL's name for the encoding, as it reports it.
  const std::pair<const char*, const char*> canonical[] = {{"utf-8", "UTF8"},
                                                           {"Unicode", "UTF8"},
                                                           {"windows-1251", "WIN1251"},
                                                           {"iso-8859-1", "LATIN1"},
                                                           {"iso8859_5", "ISO_8859_5"},
                                                           {"sql_ascii", "SQL_ASCII"},
                                                           {"euc-jis-2004", "EUC_JIS_2004"},
                                                           {"koi8", "KOI8R"}};
  for (const auto& [spelling, name] : canonical) {
    Verdict v = checkParameter("client_encoding", spelling);
    ASSERT_EQ(v.sets.size(), 1u) << spelling;
    EXPECT_EQ(v.sets[0].value, name) << spelling;
  }
  expectParameterRefused("SET NAMES 'GBK'");
}

TEST(ParameterRules, ProxyCacheSwitch) {
  SetAction a = onlySet("SET pgro.cache = off");
  EXPECT_EQ(a.name, "pgro.cache");
  EXPECT_TRUE(a.proxy_only);
  EXPECT_TRUE(onlySet("SET pgro.cache TO on").proxy_only);
  expectParameterRefused("SET pgro.cache = maybe");
}

TEST(ParameterRules, UnsupportedSetForms) {
  EXPECT_EQ(classify("SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE").refusal,
            Refusal::Unsupported);
  EXPECT_EQ(classify("SET work_mem FROM CURRENT").refusal, Refusal::Unsupported);
}

TEST(ParameterRules, CheckParameterForStartupPackets) {
  Verdict v = checkParameter("DateStyle", "ISO, MDY");
  ASSERT_TRUE(v.allowed);
  ASSERT_EQ(v.sets.size(), 1U);
  EXPECT_EQ(v.sets[0].name, "datestyle");
  EXPECT_EQ(v.sets[0].value, "ISO, MDY");
  EXPECT_TRUE(checkParameter("TimeZone", "UTC").allowed);
  EXPECT_TRUE(checkParameter("application_name", "psql").allowed);
  EXPECT_TRUE(checkParameter("extra_float_digits", "3").allowed);
  EXPECT_TRUE(checkParameter("search_path", "\"$user\", public").allowed);
  EXPECT_TRUE(checkParameter("default_transaction_read_only", "on").allowed);
  EXPECT_EQ(checkParameter("default_transaction_read_only", "off").refusal,
            Refusal::ForbiddenParameter);
  EXPECT_EQ(checkParameter("role", "postgres").refusal, Refusal::ForbiddenParameter);
  EXPECT_EQ(checkParameter("session_authorization", "x").refusal, Refusal::ForbiddenParameter);
  EXPECT_EQ(checkParameter("standard_conforming_strings", "off").refusal,
            Refusal::ForbiddenParameter);
  EXPECT_EQ(checkParameter("unknown_thing", "1").message,
            "permission denied to set parameter \"unknown_thing\": it is not on pgro's "
            "allowlist");
  ClassifierOptions options;
  options.extra_parameters = {"lc_messages"};
  EXPECT_TRUE(checkParameter("lc_messages", "C", options).allowed);
  options.extra_parameters = {"transaction_read_only"};
  EXPECT_FALSE(checkParameter("transaction_read_only", "off", options).allowed)
      << "overrides add parameters, they never relax a rule";
}

TEST(ParameterRules, PostgresBooleanSpellings) {
  using detail::parsePgBool;
  for (const char* t : {"t", "tr", "TRUE", "y", "yes", "on", "ON", "1"}) {
    EXPECT_EQ(parsePgBool(t), std::optional<bool>(true)) << t;
  }
  for (const char* f : {"f", "false", "n", "no", "of", "off", "OFF", "0"}) {
    EXPECT_EQ(parsePgBool(f), std::optional<bool>(false)) << f;
  }
  for (const char* bad : {"", "o", "onn", "truee", "2", " on", "yess"}) {
    EXPECT_EQ(parsePgBool(bad), std::nullopt) << bad;
  }
}

TEST(ParameterRules, QuoteIdentifier) {
  EXPECT_EQ(detail::quoteIdentifier("public"), "public");
  EXPECT_EQ(detail::quoteIdentifier("_a1"), "_a1");
  EXPECT_EQ(detail::quoteIdentifier("My Schema"), "\"My Schema\"");
  EXPECT_EQ(detail::quoteIdentifier("$user"), "\"$user\"");
  EXPECT_EQ(detail::quoteIdentifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(detail::quoteIdentifier(""), "\"\"");
}

}  // namespace
}  // namespace pgro::policy

namespace pgro::policy {
namespace {

ClassifierOptions ceilings() {
  ClassifierOptions options;
  options.max_work_mem_kb = 64 * 1024;
  options.max_maintenance_work_mem_kb = 256 * 1024;
  options.max_hash_mem_multiplier = 2.0;
  return options;
}

TEST(SettingCeilings, WorkMemAtOrUnderTheCeilingIsAllowedInEverySpelling) {
  const auto options = ceilings();
  for (const char* sql :
       {"SET work_mem = '64MB'", "SET work_mem = 65536", "SET work_mem TO '4MB'",
        "SET work_mem = ' 64 MB '", "SET work_mem = '0.0625GB'", "SET work_mem = '67108864B'",
        "SET LOCAL work_mem = '1MB'", "RESET work_mem", "SET work_mem TO DEFAULT",
        "SELECT set_config('work_mem', '32MB', false)", "SET maintenance_work_mem = '256MB'",
        "SET hash_mem_multiplier = 2", "SET hash_mem_multiplier = '1.5'"}) {
    Verdict v = classify(sql, options);
    EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
  }
}

TEST(SettingCeilings, AboveTheCeilingOrUnreadableIsRefused) {
  const auto options = ceilings();
  for (const char* sql :
       {"SET work_mem = '65MB'", "SET work_mem = 65537", "SET work_mem = '1GB'",
        "SET work_mem = '1TB'", "SET work_mem = '0.1GB'", "SET work_mem = '1e6'",
        "SET LOCAL work_mem = '2GB'", "SET work_mem = '64mb'", "SET work_mem = '0x100000'",
        "SET work_mem = '64 MB extra'", "SET work_mem = 'lots'",
        "SELECT set_config('work_mem', '2GB', false)", "SELECT set_config('WORK_MEM', '2GB', true)",
        "SET maintenance_work_mem = '1GB'", "SET hash_mem_multiplier = 1000",
        "SET hash_mem_multiplier = 'NaN'", "SET hash_mem_multiplier = 'inf'"}) {
    Verdict v = classify(sql, options);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql << ": " << v.message;
    EXPECT_NE(v.message.find("permission denied to set parameter"), std::string::npos) << v.message;
  }
  Verdict v = classify("SET work_mem = '1GB'", options);
  EXPECT_NE(v.message.find("MAX_WORK_MEM (64MB)"), std::string::npos) << v.message;
}

TEST(SettingCeilings, StartupParametersAndOptionsUseTheSameCeiling) {
  const auto options = ceilings();
  EXPECT_TRUE(checkParameter("work_mem", "16MB", options).allowed);
  Verdict high = checkParameter("work_mem", "8GB", options);
  EXPECT_FALSE(high.allowed);
  EXPECT_EQ(high.sqlstate, "42501");
  EXPECT_FALSE(checkParameter("hash_mem_multiplier", "50", options).allowed);
  // No ceiling configured: any value PostgreSQL accepts.
  EXPECT_TRUE(checkParameter("work_mem", "8GB", ClassifierOptions{}).allowed);
}

}  // namespace
}  // namespace pgro::policy
