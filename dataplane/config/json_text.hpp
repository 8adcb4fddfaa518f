// Text that leaves pgro as UTF-8 or inside JSON strings: log lines, audit lines and admin API
// replies carry client-supplied bytes (query text, application_name), which may be in any
// encoding or none. One UTF-8 check and one JSON escaper for all of them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgro::config {

// Length of the well-formed UTF-8 sequence at text[i] (Unicode 15, table 3-7: no overlongs,
// no surrogates, nothing above U+10FFFF): 1 for ASCII, 0 when the bytes there are not one.
std::size_t utf8SequenceLength(std::string_view text, std::size_t i);

// Appends `text` as the inside of a JSON string (RFC 8259): `"` and `\` escaped, control
// characters (U+0000-U+001F and DEL) as \n, \t, ... or \u00XX, and each byte that does not
// start a well-formed UTF-8 sequence as U+FFFD, so the result is valid UTF-8 JSON.
void appendJsonEscaped(std::string& out, std::string_view text);

}  // namespace pgro::config
