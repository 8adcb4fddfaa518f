// Internal, no parse tree: what the function table says about a name. Lets tests check
// that every volatile built-in of a PostgreSQL release was classified deliberately.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgro::policy::detail {

enum class FunctionClass : std::uint8_t {
  Unknown,       // not in the table (or only "uncacheable")
  Denied,        // refused with 42501
  SafeVolatile,  // volatile in pg_proc, reviewed as read-only
  SetConfig,     // allowed only with constant, allowlisted arguments
};

// `name` lowercase, schema-less.
FunctionClass classifyFunctionName(std::string_view name);

}  // namespace pgro::policy::detail
