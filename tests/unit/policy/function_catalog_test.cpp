// Layer 3, extension and user functions: judged by what they are (their bodies, the
// reviewed list of extension functions, READ_ONLY_FUNCTIONS), never by their volatility.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/classifier.hpp"
#include "policy/function_body.hpp"

namespace pgro::policy {
namespace {

FunctionInfo builtin(const std::string& name, char volatility = 'i') {
  return {.schema = "pg_catalog", .name = name, .volatility = volatility, .builtin = true};
}

FunctionInfo user(const std::string& name, const std::string& language, const std::string& body,
                  char volatility = 'v', const std::string& schema = "public") {
  return {.schema = schema,
          .name = name,
          .volatility = volatility,
          .builtin = false,
          .language = language,
          .body = body};
}

std::string plpgsql(const std::string& name, const std::string& body, char volatility = 'v',
                    const std::string& returns = "integer") {
  const char* label = volatility == 'i' ? "IMMUTABLE" : volatility == 's' ? "STABLE" : "VOLATILE";
  return "CREATE OR REPLACE FUNCTION public." + name + "(a integer)\n RETURNS " + returns +
         "\n LANGUAGE plpgsql\n " + label + "\nAS $function$" + body + "$function$\n";
}

// The built-ins the bodies below call.
std::vector<FunctionInfo> withBuiltins(std::vector<FunctionInfo> functions) {
  for (const char* name : {"count", "lower", "now", "random", "upper", "length"}) {
    functions.push_back(builtin(name, std::string(name) == "random" ? 'v' : 'i'));
  }
  return functions;
}

Verdict classifyWith(const FunctionCatalog& catalog, const std::string& sql) {
  ClassifierOptions options;
  options.catalog = &catalog;
  return classify(sql, options);
}

void expectRefused(const FunctionCatalog& catalog, const std::string& sql,
                   const std::string& function, const std::string& why = {}) {
  const Verdict v = classifyWith(catalog, sql);
  EXPECT_FALSE(v.allowed) << sql;
  EXPECT_EQ(v.refusal, Refusal::ForbiddenFunction) << sql << ": " << v.message;
  EXPECT_EQ(v.sqlstate, "42501") << sql;
  EXPECT_NE(v.message.find("permission denied for function " + function), std::string::npos)
      << sql << ": " << v.message;
  EXPECT_NE(v.message.find(why), std::string::npos) << sql << ": " << v.message;
}

void expectAllowed(const FunctionCatalog& catalog, const std::string& sql) {
  const Verdict v = classifyWith(catalog, sql);
  EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
}

TEST(FunctionCatalog, ImmutableLabelledPlpgsqlThatWritesIsRefused) {
  const FunctionCatalog catalog(withBuiltins(
      {user("sneaky", "plpgsql",
            plpgsql("sneaky", "\nBEGIN\n  INSERT INTO audit VALUES (a);\n  RETURN 1;\nEND\n", 'i'),
            'i')}));
  expectRefused(catalog, "SELECT sneaky(1)", "public.sneaky", "INSERT");
  expectRefused(catalog, "SELECT public.sneaky(1)", "public.sneaky", "INSERT");
  expectRefused(catalog, "SELECT * FROM t WHERE x = sneaky(2)", "public.sneaky");
}

TEST(FunctionCatalog, WritesAnywhereInAPlpgsqlBodyAreFound) {
  for (const char* body : {
           "BEGIN IF a > 0 THEN UPDATE t SET x = 1; END IF; RETURN 1; END",
           "BEGIN FOR i IN 1..3 LOOP DELETE FROM t; END LOOP; RETURN 1; END",
           "DECLARE x int := (SELECT nextval('s')); BEGIN RETURN x; END",
           "BEGIN RETURN (WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d); END",
           "BEGIN PERFORM pg_terminate_backend(a); RETURN 1; END",
           "BEGIN BEGIN RETURN 1; EXCEPTION WHEN others THEN TRUNCATE t; END; END",
           "BEGIN SET search_path = evil; RETURN 1; END",
           "BEGIN PERFORM set_config('search_path', 'evil', false); RETURN 1; END",
           "BEGIN LOCK TABLE t IN ACCESS SHARE MODE; RETURN 1; END",
           "BEGIN PERFORM setseed(0.5); RETURN 1; END",
           "BEGIN CREATE TABLE x (a int); RETURN 1; END",
       }) {
    const FunctionCatalog catalog(
        withBuiltins({user("f", "plpgsql", plpgsql("f", body)), builtin("setseed", 'v'),
                      builtin("set_config", 'v'), builtin("nextval", 'v'),
                      builtin("pg_terminate_backend", 'v')}));
    const Verdict v = classifyWith(catalog, "SELECT f(1)");
    EXPECT_FALSE(v.allowed) << body;
    EXPECT_NE(v.message.find("public.f"), std::string::npos) << body << ": " << v.message;
  }
}

TEST(FunctionCatalog, ReadOnlyVolatileFunctionsAreAllowed) {
  const FunctionCatalog catalog(withBuiltins({
      user("count_rows", "plpgsql",
           plpgsql("count_rows",
                   "\nDECLARE n int := 0; r record;\nBEGIN\n"
                   "  SELECT count(*) INTO n FROM t WHERE id = a;\n"
                   "  FOR r IN SELECT * FROM t LOOP n := n + length(r.name); END LOOP;\n"
                   "  IF n > 10 THEN RAISE NOTICE 'big %', n; ELSIF n < 0 THEN RETURN -1; "
                   "END IF;\n"
                   "  CASE a WHEN 1 THEN n := n + 1; ELSE NULL; END CASE;\n"
                   "  WHILE n > 100 LOOP n := n / 2; EXIT WHEN n < 50; END LOOP;\n"
                   "  RETURN n;\nEND\n")),
      user("names", "sql", "SELECT lower(name) FROM t WHERE id = $1"),
      user("two", "sql", "SELECT 1; SELECT upper(name) FROM t"),
  }));
  expectAllowed(catalog, "SELECT count_rows(1)");
  expectAllowed(catalog, "SELECT names(1), two()");
  // Volatile-labelled: allowed, never cached.
  EXPECT_FALSE(classifyWith(catalog, "SELECT names(1)").cacheable);
}

// A user function that sleeps is refused like a direct pg_sleep call, unless the catalog
// was built with ALLOW_PG_SLEEP.
TEST(FunctionCatalog, SleepInsideABodyIsRefusedUnlessAllowed) {
  std::vector<FunctionInfo> functions = withBuiltins({
      builtin("pg_sleep", 'v'),
      user("nap_sql", "sql", "SELECT pg_catalog.pg_sleep($1)"),
      user("nap_plpgsql", "plpgsql",
           plpgsql("nap_plpgsql", "BEGIN PERFORM pg_sleep(a); RETURN 1; END")),
      user("nap_nested", "sql", "SELECT nap_sql(1)"),
  });
  const FunctionCatalog refused(functions);
  expectRefused(refused, "SELECT nap_sql(1)", "public.nap_sql", "ALLOW_PG_SLEEP");
  expectRefused(refused, "SELECT * FROM nap_plpgsql(1)", "public.nap_plpgsql", "ALLOW_PG_SLEEP");
  expectRefused(refused, "SELECT nap_nested()", "public.nap_nested");
  const FunctionCatalog allowed(functions, {}, {}, /*allow_pg_sleep=*/true);
  ClassifierOptions options;
  options.catalog = &allowed;
  options.allow_pg_sleep = true;
  for (const char* sql : {"SELECT nap_sql(1)", "SELECT nap_plpgsql(1)", "SELECT nap_nested()"}) {
    const Verdict v = classify(sql, options);
    EXPECT_TRUE(v.allowed) << sql << ": " << v.message;
  }
}

TEST(FunctionCatalog, DynamicSqlIsRefused) {
  for (const char* body : {
           "BEGIN EXECUTE 'SELECT 1'; RETURN 1; END",
           "DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; RETURN 1; END",
       }) {
    const FunctionCatalog catalog(withBuiltins({user("dyn", "plpgsql", plpgsql("dyn", body))}));
    expectRefused(catalog, "SELECT dyn(1)", "public.dyn", "built at run time");
  }
  const FunctionCatalog returns_query(withBuiltins(
      {user("dynq", "plpgsql",
            plpgsql("dynq", "BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END", 'v', "SETOF integer"))}));
  expectRefused(returns_query, "SELECT * FROM dynq(1)", "public.dynq", "built at run time");
}

TEST(FunctionCatalog, CallsAreJudgedRecursively) {
  const FunctionCatalog catalog(withBuiltins({
      user("writer", "sql", "INSERT INTO t VALUES (1) RETURNING 1"),
      user("calls_writer", "sql", "SELECT writer()", 'i'),
      user("calls_calls_writer", "plpgsql",
           plpgsql("calls_calls_writer", "BEGIN RETURN calls_writer(); END", 's'), 's'),
      user("reader", "sql", "SELECT count(*) FROM t", 's'),
      user("calls_reader", "sql", "SELECT reader() + 1", 's'),
  }));
  expectRefused(catalog, "SELECT writer()", "public.writer", "INSERT");
  expectRefused(catalog, "SELECT calls_writer()", "public.calls_writer", "public.writer");
  expectRefused(catalog, "SELECT calls_calls_writer(1)", "public.calls_calls_writer");
  expectAllowed(catalog, "SELECT calls_reader()");
  EXPECT_TRUE(classifyWith(catalog, "SELECT calls_reader()").cacheable);
}

TEST(FunctionCatalog, CyclesPassOnlyWhenEveryFunctionInThemReads) {
  const FunctionCatalog readers(withBuiltins({
      user("ping", "plpgsql",
           plpgsql("ping",
                   "BEGIN IF a > 0 THEN RETURN pong(a - 1); END IF; "
                   "RETURN 0; END")),
      user("pong", "plpgsql", plpgsql("pong", "BEGIN RETURN ping(a); END")),
  }));
  expectAllowed(readers, "SELECT ping(3), pong(3)");
  const FunctionCatalog with_writer(withBuiltins({
      user("ping", "plpgsql", plpgsql("ping", "BEGIN RETURN pong(a); END")),
      user("pong", "plpgsql", plpgsql("pong", "BEGIN DELETE FROM t; RETURN ping(a); END")),
      user("outside", "sql", "SELECT ping(1)"),
  }));
  expectRefused(with_writer, "SELECT pong(1)", "public.pong", "DELETE");
  expectRefused(with_writer, "SELECT ping(1)", "public.ping");
  expectRefused(with_writer, "SELECT outside()", "public.outside");
}

TEST(FunctionCatalog, BodiesCallingUnknownFunctionsAreRefused) {
  const FunctionCatalog catalog(withBuiltins({
      user("later", "sql", "SELECT not_created_yet()"),
      user("qualified", "sql", "SELECT other.count(*) FROM t"),
  }));
  expectRefused(catalog, "SELECT later()", "public.later", "does not know");
  expectRefused(catalog, "SELECT qualified()", "public.qualified", "does not know");
}

TEST(FunctionCatalog, UncacheableThroughTheBody) {
  const FunctionCatalog catalog(withBuiltins({
      user("stamp", "sql", "SELECT now()", 'i'),
      user("pure", "sql", "SELECT lower('A')", 'i'),
      user("uses_stamp", "sql", "SELECT stamp()", 'i'),
  }));
  EXPECT_FALSE(classifyWith(catalog, "SELECT stamp()").cacheable);
  EXPECT_FALSE(classifyWith(catalog, "SELECT uses_stamp()").cacheable);
  EXPECT_TRUE(classifyWith(catalog, "SELECT pure()").cacheable);
}

TEST(FunctionCatalog, OtherLanguagesNeedTheReviewedListOrTheOperator) {
  const std::vector<FunctionInfo> functions = withBuiltins({
      user("heap_force_kill", "c", "", 'v'),
      user("my_c_reader", "c", "", 'i', "tools"),
      user("similarity", "c", "", 'i'),
      user("word_similarity_op", "c", "", 's'),
      user("digest", "c", "", 'i', "crypto"),
      user("levenshtein", "c", "", 'i'),
      user("uuid_generate_v4", "c", "", 'v'),
      user("st_area", "c", "", 'i'),
      user("pg_stat_statements", "c", "", 'v'),
      user("pg_stat_statements_reset", "c", "", 'v'),
      user("set_limit", "c", "", 'v'),
      user("py_reader", "plpython3u", "", 'i'),
      user("dblink_exec", "c", "", 'v'),
      // intarray's querytree shares its name with a built-in: a schema-less call must be
      // acceptable in both schemas.
      user("querytree", "c", "", 'i'),
      builtin("querytree"),
      user("get_raw_page", "c", "", 'v'),
  });
  const FunctionCatalog catalog(functions);
  expectRefused(catalog, "SELECT heap_force_kill('t'::regclass, ARRAY[]::tid[])",
                "public.heap_force_kill", "LANGUAGE c");
  expectRefused(catalog, "SELECT tools.my_c_reader()", "tools.my_c_reader", "READ_ONLY_FUNCTIONS");
  expectRefused(catalog, "SELECT py_reader()", "public.py_reader", "plpython3u");
  expectRefused(catalog, "SELECT set_limit(0.5)", "public.set_limit");
  expectRefused(catalog, "SELECT pg_stat_statements_reset()", "pg_stat_statements_reset");
  expectRefused(catalog, "SELECT dblink_exec('x')", "dblink_exec");
  expectAllowed(catalog, "SELECT similarity('a', 'b'), word_similarity_op('a', 'b')");
  expectAllowed(catalog, "SELECT crypto.digest('x', 'sha256'), levenshtein('a', 'b')");
  expectAllowed(catalog, "SELECT st_area(g) FROM shapes");
  expectAllowed(catalog, "SELECT * FROM pg_stat_statements(true)");
  expectAllowed(catalog, "SELECT querytree('a & b'::tsquery)");
  // pageinspect reads raw pages (pg_authid's too): never on the list.
  expectRefused(catalog, "SELECT get_raw_page('pg_authid', 0)", "public.get_raw_page");
  const Verdict uuid = classifyWith(catalog, "SELECT uuid_generate_v4()");
  EXPECT_TRUE(uuid.allowed) << uuid.message;
  EXPECT_FALSE(uuid.cacheable);

  // READ_ONLY_FUNCTIONS: a name in any schema, or schema.name.
  const FunctionCatalog vouched(functions, {"my_c_reader", "public.py_reader"});
  expectAllowed(vouched, "SELECT tools.my_c_reader(), py_reader()");
  const FunctionCatalog wrong_schema(functions, {"public.my_c_reader", "Tools.PY_READER"});
  expectRefused(wrong_schema, "SELECT tools.my_c_reader()", "tools.my_c_reader");
  expectRefused(wrong_schema, "SELECT py_reader()", "public.py_reader");
  // The operator's word covers a plpgsql body pgro would refuse (a fixed EXECUTE).
  const FunctionCatalog dynamic(
      withBuiltins(
          {user("dyn", "plpgsql", plpgsql("dyn", "BEGIN EXECUTE 'SELECT 1'; RETURN 1; END"))}),
      {"dyn"});
  expectAllowed(dynamic, "SELECT dyn(1)");
}

TEST(FunctionCatalog, AggregatesAreJudgedByTheirSupportFunctions) {
  const FunctionCatalog catalog(withBuiltins({
      user("citext_larger", "c", "", 'i'),
      user("max", "aggregate", "SELECT public.citext_larger()", 'i'),
      user("bad_step", "plpgsql",
           plpgsql("bad_step", "BEGIN INSERT INTO t VALUES (a); RETURN a; END")),
      user("bad_agg", "aggregate", "SELECT public.bad_step()", 'i'),
      builtin("max"),
  }));
  expectAllowed(catalog, "SELECT max(name) FROM t");
  expectRefused(catalog, "SELECT bad_agg(x) FROM t", "public.bad_agg", "public.bad_step");
}

TEST(FunctionCatalog, SchemaLessCallsMustBeAcceptableInEverySchema) {
  const FunctionCatalog catalog(withBuiltins({
      user("lookup", "sql", "SELECT 1", 'i', "good"),
      user("lookup", "sql", "DELETE FROM t RETURNING 1", 'i', "evil"),
      // One refused overload refuses the name in its schema.
      user("over", "sql", "SELECT 1", 'i'),
      user("over", "sql", "UPDATE t SET x = 1 RETURNING 1", 'i'),
  }));
  expectAllowed(catalog, "SELECT good.lookup()");
  expectRefused(catalog, "SELECT lookup()", "evil.lookup");
  expectRefused(catalog, "SELECT over()", "public.over", "UPDATE");
}

TEST(FunctionCatalog, UnreadBeginAtomicBodiesAreRefused) {
  const FunctionCatalog catalog(withBuiltins({user("atomic", "sql", "", 'i')}));
  expectRefused(catalog, "SELECT atomic()", "public.atomic", "BEGIN ATOMIC");
}

TEST(FunctionCatalog, BuiltinsKeepTheirRules) {
  const FunctionCatalog catalog(
      withBuiltins({builtin("pg_read_file", 'v'), builtin("clock_timestamp", 'v'),
                    builtin("unreviewed_volatile", 'v')}));
  expectAllowed(catalog, "SELECT count(*), lower('A'), random(), clock_timestamp() FROM t");
  expectRefused(catalog, "SELECT pg_read_file('x')", "pg_read_file");
  expectRefused(catalog, "SELECT unreviewed_volatile()", "pg_catalog.unreviewed_volatile",
                "volatile");
  // An unknown name outside function bodies is reported for the session's on-demand lookup
  // (refused until a fresh catalog knows it).
  const Verdict unknown = classifyWith(catalog, "SELECT created_after_the_snapshot()");
  EXPECT_EQ(unknown.refusal, Refusal::UnknownFunction) << unknown.message;
  EXPECT_EQ(unknown.unknown_functions, std::vector<std::string>{"created_after_the_snapshot"});
}

TEST(FunctionBody, ReadsEverySqlTextOfThePlpgsqlTree) {
  const detail::PlpgsqlBody body = detail::readPlpgsqlBody(
      plpgsql("f",
              "DECLARE x int := g(1); arr int[]; BEGIN arr[h(2)] := 3; x = x + 1; "
              "IF x > k(4) THEN RETURN m(5); END IF; RETURN 0; END"));
  ASSERT_EQ(body.refusal, "");
  std::vector<std::string> all;
  for (const detail::BodySql& sql : body.sql) {
    all.insert(all.end(), sql.readings.begin(), sql.readings.end());
  }
  auto has = [&](const std::string& text) {
    return std::find(all.begin(), all.end(), text) != all.end();
  };
  EXPECT_TRUE(has("SELECT g(1)"));
  EXPECT_TRUE(has("SELECT arr[h(2)], 3"));
  EXPECT_TRUE(has("SELECT x, x + 1"));
  EXPECT_TRUE(has("SELECT x > k(4)"));
  EXPECT_TRUE(has("SELECT m(5)"));
  EXPECT_NE(detail::readPlpgsqlBody("not a function").refusal, "");
  EXPECT_NE(detail::readPlpgsqlBody(plpgsql("f", "BEGIN COMMIT; RETURN 1; END")).refusal, "");
}

// libpg_query compiles without OUT parameters: a bare RETURN NEXT is read with a NULL
// expression, and what the body does is still judged.
TEST(FunctionBody, BareReturnNextIsReadAndItsBodyJudged) {
  const std::string head =
      "CREATE OR REPLACE FUNCTION public.f(n integer, OUT a integer)\n RETURNS SETOF integer\n"
      " LANGUAGE plpgsql\nAS $function$";
  detail::PlpgsqlBody body = detail::readPlpgsqlBody(
      head + "BEGIN FOR i IN 1..n LOOP a := g(i); return  next ; END LOOP; END$function$\n");
  ASSERT_EQ(body.refusal, "");
  bool reads_g = false;
  for (const detail::BodySql& sql : body.sql) {
    for (const std::string& text : sql.readings)
      reads_g = reads_g || text.find("g(i)") != std::string::npos;
  }
  EXPECT_TRUE(reads_g);
  body = detail::readPlpgsqlBody(head +
                                 "BEGIN INSERT INTO t VALUES (n); RETURN NEXT; END$function$\n");
  ASSERT_EQ(body.refusal, "");
  bool writes = false;
  for (const detail::BodySql& sql : body.sql) {
    for (const std::string& text : sql.readings) {
      writes = writes || text.find("INSERT INTO t") != std::string::npos;
    }
  }
  EXPECT_TRUE(writes) << "the INSERT is among the texts the catalog judges";
}

}  // namespace
}  // namespace pgro::policy
