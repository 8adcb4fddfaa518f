// Internal: give libpg_query the stack it needs.
//
// libpg_query turns the parse tree into protobuf with one C recursion per nesting level and
// no depth check: `SELECT 1+1+...+1` with 50,000 terms (100 KB of SQL) overflows an 8 MB
// stack and kills the process. Bison bounds right-recursive nesting (parentheses, NOT,
// CASE: "memory exhausted" beyond ~10,000 parser states, under 2 MB of stack), but
// left-recursive chains (binary operators, casts, UNION, JOIN) are unbounded. Short strings
// are parsed in place; longer ones are first tokenized (flat, no recursion) to bound the
// depth, and parsed on a helper thread whose stack fits that bound when it is large.
#pragma once

#include <functional>
#include <string>

namespace pgro::policy::detail {

enum class StackOutcome {
  Ran,           // `work` ran, in place or on a helper thread
  TooDeep,       // the bound exceeds the largest stack pgro will give a parse
  ThreadFailed,  // the helper thread could not be started (resource limits)
};

// Runs `work` (parse, decode and walk of `sql`) with enough stack for `sql`.
StackOutcome runWithParserStack(const std::string& sql, const std::function<void()>& work);

}  // namespace pgro::policy::detail
