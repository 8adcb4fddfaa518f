#include "policy/parser_stack.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstddef>

#include <pg_query.h>

#include "pg_query.pb.h"

namespace pgro::policy::detail {
namespace {

// Up to this size a string cannot nest deeper than ~8,000 levels: parsing, decoding and
// walking it stays under ~2 MB of the caller's stack (measured: 356 bytes per level in
// libpg_query, less in the protobuf decoder and the walker).
constexpr std::size_t kInlineBytes = std::size_t{8} * 1024;
// The frames of the parser itself.
constexpr std::size_t kBaseStack = 256U << 10;
// Per level (measured 356 bytes in libpg_query; margin for decode and walk).
constexpr std::size_t kStackPerLevel = 1024;
// An estimate up to this runs in place (callers are expected to have >= 4 MB of stack).
constexpr std::size_t kInlineStack = 1U << 20;
// Added to a helper thread's stack: right-recursive nesting that bison bounds (parentheses,
// NOT, CASE; measured under 2 MB at bison's limit) even if the token count missed it.
constexpr std::size_t kBisonMargin = 4U << 20;
// libpg_query's output is quadratic in depth (40,000 chained operators: 0.6 s): deeper
// chains are refused rather than parsed.
constexpr std::size_t kMaxLevels = 25'000;

// Tokens that can chain without parentheses into one level each: left-associative
// operators (PostgreSQL's grammar makes `a + b + c` left-deep), casts, COLLATE, AT TIME
// ZONE, set operations, joins, and the right-recursive prefixes NOT and CASE. Comparison,
// IS, LIKE, BETWEEN and IN are non-associative (they cannot chain), AND/OR are flattened
// into one node, and '.'/'[' indirection is a flat list.
bool isChainToken(pg_query::Token token) {
  switch (token) {
    case pg_query::ASCII_37:  // '%'
    case pg_query::ASCII_42:  // '*'
    case pg_query::ASCII_43:  // '+'
    case pg_query::ASCII_45:  // '-'
    case pg_query::ASCII_47:  // '/'
    case pg_query::ASCII_94:  // '^'
    case pg_query::Op:
    case pg_query::OPERATOR:
    case pg_query::TYPECAST:
    case pg_query::COLLATE:
    case pg_query::AT:
    case pg_query::UNION:
    case pg_query::INTERSECT:
    case pg_query::EXCEPT:
    case pg_query::JOIN:
    case pg_query::NOT:
    case pg_query::NOT_LA:
    case pg_query::CASE:
      return true;
    default:
      return false;
  }
}

struct Estimate {
  std::size_t stack = kBaseStack;
  bool too_deep = false;
};

// An upper bound of the nesting, from the tokens (the lexer is flat: no recursion).
Estimate estimate(const std::string& sql) {
  Estimate result;
  PgQueryScanResult scan = pg_query_scan(sql.c_str());
  // A scan error means the parse fails at the same place, before any tree is output.
  if (scan.error == nullptr) {
    pg_query::ScanResult tokens;
    if (tokens.ParseFromArray(scan.pbuf.data, static_cast<int>(scan.pbuf.len))) {
      std::size_t chain = 0;
      std::size_t depth = 0;
      std::size_t max_depth = 0;
      for (const pg_query::ScanToken& token : tokens.tokens()) {
        const pg_query::Token kind = token.token();
        if (kind == pg_query::ASCII_40 || kind == pg_query::ASCII_91) {  // '(' '['
          max_depth = std::max(max_depth, ++depth);
        } else if (kind == pg_query::ASCII_41 || kind == pg_query::ASCII_93) {
          if (depth > 0) {
            --depth;
          }
        } else if (isChainToken(kind)) {
          ++chain;
        }
      }
      // f(f(f(1))) is FuncCall -> Node -> FuncCall -> ... : a few levels per bracket.
      const std::size_t levels = chain + 4 * max_depth;
      result.too_deep = chain > kMaxLevels;
      result.stack += levels * kStackPerLevel;
    } else {
      result.too_deep = true;  // cannot bound it: refuse
    }
  }
  pg_query_free_scan_result(scan);
  return result;
}

void* runWork(void* arg) {
  (*static_cast<const std::function<void()>*>(arg))();
  return nullptr;
}

bool runOnThread(std::size_t stack_bytes, const std::function<void()>& work) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) {
    return false;
  }
  constexpr std::size_t kPage = std::size_t{64} * 1024;
  stack_bytes = (stack_bytes + kPage - 1) / kPage * kPage;
  pthread_t thread;
  bool started =
      pthread_attr_setstacksize(&attr, stack_bytes) == 0 &&
      pthread_create(&thread, &attr, runWork, const_cast<std::function<void()>*>(&work)) == 0;
  pthread_attr_destroy(&attr);
  if (started) {
    pthread_join(thread, nullptr);
  }
  return started;
}

}  // namespace

StackOutcome runWithParserStack(const std::string& sql, const std::function<void()>& work) {
  if (sql.size() <= kInlineBytes) {
    work();
    return StackOutcome::Ran;
  }
  const Estimate bound = estimate(sql);
  if (bound.too_deep) {
    return StackOutcome::TooDeep;
  }
  if (bound.stack <= kInlineStack) {
    work();
    return StackOutcome::Ran;
  }
  // The helper thread's stack is only reserved address space until touched.
  return runOnThread(bound.stack + bound.stack / 4 + kBisonMargin, work)
             ? StackOutcome::Ran
             : StackOutcome::ThreadFailed;
}

}  // namespace pgro::policy::detail
