// The extended-protocol frontend messages the proxy looks into (PostgreSQL docs 55.7):
// Parse, Bind, Describe, Close and Execute, one struct each. Decoding returns views into the
// message body (nothing is copied); std::nullopt means the body is malformed, which ends the
// connection with 08P01. Encoding appends a whole typed message to `out`.
//
// Only the fields pgro acts on are decoded. A Bind's parameter formats, values and result
// formats stay one opaque byte range (`rest`): pgro forwards them unchanged and uses them only
// as part of a cache key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::protocol {

struct Parse {
  std::string_view statement;  // "" = the unnamed statement
  std::string_view query;
  std::string_view param_types;  // Int16 count, then that many Int32 type OIDs (as sent)
};

struct Bind {
  std::string_view portal;     // "" = the unnamed portal
  std::string_view statement;  // "" = the unnamed statement
  std::string_view rest;       // parameter formats, values and result formats (as sent)
};

// Describe and Close name a prepared statement ('S') or a portal ('P').
struct Describe {
  char target = 'S';
  std::string_view name;
};
struct Close {
  char target = 'S';
  std::string_view name;
};

struct Execute {
  std::string_view portal;
  int32_t max_rows = 0;  // 0 = no limit
};

// What identifies a prepared statement's definition: the same text with the same declared
// parameter types is the same statement, whoever prepared it and under whichever name.
struct StatementKey {
  std::string query;
  std::string param_types;  // as in Parse
  bool operator==(const StatementKey&) const = default;
};

[[nodiscard]] std::optional<Parse> parseParse(std::string_view body);
[[nodiscard]] std::optional<Bind> parseBind(std::string_view body);
[[nodiscard]] std::optional<Describe> parseDescribe(std::string_view body);
[[nodiscard]] std::optional<Close> parseClose(std::string_view body);
[[nodiscard]] std::optional<Execute> parseExecute(std::string_view body);

void appendParse(std::string& out, std::string_view statement, std::string_view query,
                 std::string_view param_types);
void appendBind(std::string& out, std::string_view portal, std::string_view statement,
                std::string_view rest);
void appendDescribe(std::string& out, char target, std::string_view name);
void appendClose(std::string& out, char target, std::string_view name);
void appendExecute(std::string& out, std::string_view portal, int32_t max_rows);

// Parse's parameter-type field for `count` unspecified (0) types.
[[nodiscard]] std::string noParameterTypes();

}  // namespace pgro::protocol
