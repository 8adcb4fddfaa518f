// Internal: one refusal while classifying, turned into a Verdict at the end.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/classifier.hpp"

namespace pgro::policy::detail {

struct Denial {
  Refusal refusal = Refusal::None;
  std::string message;
  int position = 0;
  // The statement calls an extension or user function (perhaps the refused one): a newer
  // pg_proc may judge it otherwise (Verdict::calls_user_functions).
  bool calls_user_functions = false;
};

using MaybeDenial = std::optional<Denial>;

// 25006, the seed's wording: "Write operations are not permitted: <KIND> statements are not
// allowed".
inline Denial writeDenial(std::string_view kind) {
  std::string message = "Write operations are not permitted: ";
  message.append(kind);
  message.append(" statements are not allowed");
  return Denial{Refusal::Write, std::move(message), 0};
}

inline Denial functionDenial(std::string_view name, std::string_view reason) {
  std::string message = "permission denied for function ";
  message.append(name);
  message.append(": ");
  message.append(reason);
  message.append(" is not allowed through pgro");
  return Denial{Refusal::ForbiddenFunction, std::move(message), 0};
}

inline Denial parameterDenial(std::string_view name, std::string_view why = {}) {
  std::string message = "permission denied to set parameter \"";
  message.append(name);
  message.append("\"");
  if (!why.empty()) {
    message.append(": ");
    message.append(why);
  }
  return Denial{Refusal::ForbiddenParameter, std::move(message), 0};
}

inline Denial readWriteDenial(std::string_view name) {
  return parameterDenial(name, "READ WRITE is not allowed, pgro sessions are read-only");
}

inline Denial unsupportedDenial(std::string message) {
  return Denial{Refusal::Unsupported, std::move(message), 0};
}

inline Denial tooComplexDenial() {
  return Denial{Refusal::TooComplex, "statement is too complex (nested too deeply) for pgro", 0};
}

// ASCII lowercase: identifiers reach us already case-folded by the parser when unquoted;
// quoted spellings ("PG_READ_FILE") are folded here so they match too (fail closed).
inline std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace pgro::policy::detail
