// Cost of the read-only classifier (DESIGN.md section 8): a new short query, psql's `\d t`
// column query, a pgjdbc-sized catalog query, and a repeated query through the per-thread
// verdict cache. "parse only" is libpg_query alone, to show what the tree walk adds.
#include <benchmark/benchmark.h>
#include <pg_query.h>

#include <string>

#include "policy/classifier.hpp"
#include "policy/verdict_cache.hpp"

namespace {

using pgro::policy::classify;
using pgro::policy::VerdictCache;

const std::string kShort = "SELECT id, name FROM t WHERE id = 42";

// psql 15 `\d t`: the column query (captured with psql -E).
const std::string kPsqlDescribe = R"(SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;)";

// psql 15 `\d t`: the publication query, the longest of the set.
const std::string kPsqlPublications = R"(SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='16384' and pg_catalog.pg_relation_is_publishable('16384')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '16384'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('16384')
ORDER BY 1;)";

void classifyLoop(benchmark::State& state, const std::string& sql) {
  for (auto _ : state) {
    auto verdict = classify(sql);
    benchmark::DoNotOptimize(verdict);
  }
  state.SetLabel(std::to_string(sql.size()) + " bytes");
}

void parseOnlyLoop(benchmark::State& state, const std::string& sql) {
  for (auto _ : state) {
    PgQueryProtobufParseResult result = pg_query_parse_protobuf(sql.c_str());
    benchmark::DoNotOptimize(result.parse_tree.len);
    pg_query_free_protobuf_parse_result(result);
  }
}

void BM_ClassifyShortQuery(benchmark::State& state) {
  classifyLoop(state, kShort);
}
void BM_ParseOnlyShortQuery(benchmark::State& state) {
  parseOnlyLoop(state, kShort);
}
void BM_ClassifyPsqlDescribeColumns(benchmark::State& state) {
  classifyLoop(state, kPsqlDescribe);
}
void BM_ParseOnlyPsqlDescribeColumns(benchmark::State& state) {
  parseOnlyLoop(state, kPsqlDescribe);
}
void BM_ClassifyPsqlDescribePublications(benchmark::State& state) {
  classifyLoop(state, kPsqlPublications);
}

// A repeated query: one hash lookup in the worker's VerdictCache, no parse.
void BM_RepeatedQueryThroughVerdictCache(benchmark::State& state) {
  VerdictCache cache(10'000);
  const std::string search_path = "\"$user\", public";
  benchmark::DoNotOptimize(cache.classify(kPsqlDescribe, search_path));
  for (auto _ : state) {
    auto verdict = cache.classify(kPsqlDescribe, search_path);
    benchmark::DoNotOptimize(verdict);
  }
}

// Distinct texts through a full cache: classify + insert + CLOCK eviction each time.
void BM_NewQueriesThroughFullVerdictCache(benchmark::State& state) {
  VerdictCache cache(1'000);
  std::size_t i = 0;
  for (auto _ : state) {
    auto verdict = cache.classify("SELECT id FROM t WHERE id = " + std::to_string(i++), "public");
    benchmark::DoNotOptimize(verdict);
  }
}

BENCHMARK(BM_ClassifyShortQuery)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseOnlyShortQuery)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClassifyPsqlDescribeColumns)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseOnlyPsqlDescribeColumns)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClassifyPsqlDescribePublications)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RepeatedQueryThroughVerdictCache)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NewQueriesThroughFullVerdictCache)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
