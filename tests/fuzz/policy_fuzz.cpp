// libFuzzer target: classify() never crashes, whatever it allows contains no write node
// according to an oracle that reads libpg_query's JSON tree independently, and the small
// numeric-shape scanner never disagrees with PostgreSQL's (a misread number would let two
// statements share one cached verdict).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target policy_fuzz policy_fuzz_seeds
//   build/fuzz/tests/fuzz/policy_fuzz -dict=tests/fuzz/sql.dict -max_len=4096 \
//       build/fuzz/tests/fuzz/seeds
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "policy/classifier.hpp"
#include "policy/shape.hpp"
#include "write_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  if (sql.find('\0') == std::string_view::npos && !pgro::policy::plainNumericShapeAgrees(sql)) {
    std::fprintf(stderr, "the plain numeric-shape scanner disagrees with PostgreSQL's:\n%.*s\n",
                 static_cast<int>(sql.size()), sql.data());
    std::abort();
  }
  const pgro::policy::Verdict verdict = pgro::policy::classify(sql);
  if (!verdict.allowed) {
    if (verdict.sqlstate.empty() || verdict.message.empty()) std::abort();
    return 0;
  }
  if (verdict.statement_count == 0) return 0;
  const pgro::testing::OracleResult oracle = pgro::testing::findWriteNode(sql);
  if (!oracle.parsed) {
    std::fprintf(stderr, "classify() allowed a string libpg_query rejects:\n%.*s\n",
                 static_cast<int>(sql.size()), sql.data());
    std::abort();
  }
  if (!oracle.violation.empty()) {
    std::fprintf(stderr, "classify() allowed %s:\n%.*s\n", oracle.violation.c_str(),
                 static_cast<int>(sql.size()), sql.data());
    std::abort();
  }
  return 0;
}
