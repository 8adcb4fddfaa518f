// An oracle for the classifier, written independently of it: it reads libpg_query's JSON
// parse tree (not the protobuf tree pgro_policy walks) with a small tokenizer and reports
// anything a read-only string must not contain.
#pragma once

#include <string>
#include <string_view>

namespace pgro::testing {

struct OracleResult {
  bool parsed = false;    // libpg_query accepted the string
  std::string violation;  // empty: no write node, no denied call, no secret relation
};

// Looks for: any *Stmt node other than the read-only kinds, SELECT INTO, locking clauses,
// COPY FROM / to a file / PROGRAM, LOCK in another mode than ACCESS SHARE, two-phase
// commit, calls of a short list of side-effect functions, and pg_authid / pg_shadow.
OracleResult findWriteNode(std::string_view sql);

}  // namespace pgro::testing
