// Internal: the SET allowlist (layer 4) as plain data, without the parse tree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/classifier.hpp"
#include "policy/denial.hpp"

namespace pgro::policy::detail {

enum class ValueRule : std::uint8_t {
  Any,             // PostgreSQL validates the value; nothing here depends on it
  MustBeTrue,      // *_read_only: only values PostgreSQL reads as true
  MustBeOn,        // standard_conforming_strings: off would change how the lexer reads '\'
  ClientEncoding,  // only encodings whose multi-byte characters never contain ASCII bytes
  Boolean,         // a proxy-side switch: any PostgreSQL boolean spelling
};

struct ParameterRule {
  std::string_view name;  // lowercase; a prefix when `prefix`
  ValueRule rule = ValueRule::Any;
  bool prefix = false;      // enable_*, jit*, geqo*
  bool list_quote = false;  // GUC_LIST_QUOTE (search_path): SET's items are quoted idents
  bool proxy_only = false;  // pgro.*: handled by the session
};

// The rule for a lowercased parameter name, nullptr if it is not on the allowlist.
const ParameterRule* findParameterRule(std::string_view name, const ClassifierOptions& options);

// PostgreSQL's parse_bool(): true/false/yes/no/on/off/1/0 and unique prefixes.
std::optional<bool> parsePgBool(std::string_view value);

// PostgreSQL's quote_identifier() without the keyword check (harmless for the list
// parameters it is used for: search_path items are split by SplitIdentifierString).
std::string quoteIdentifier(std::string_view ident);

// Whether `encoding` (any spelling PostgreSQL accepts: "UTF-8", "latin1", ...) may be used
// as client_encoding.
bool isSafeClientEncoding(std::string_view encoding);
// The name PostgreSQL reports for a safe client encoding ("utf-8" -> "UTF8"), nullopt for
// one that is not safe.
std::optional<std::string_view> canonicalClientEncoding(std::string_view encoding);

// Setting `name` (any case) to `value`, or back to its default when `value` is nullopt.
// On success returns the action with the name lowercased.
struct SettingCheck {
  MaybeDenial denial;
  SetAction action;
};
SettingCheck checkSetting(std::string_view name, std::optional<std::string_view> value,
                          bool is_local, const ClassifierOptions& options);

}  // namespace pgro::policy::detail
