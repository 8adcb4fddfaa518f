// JSON text for the audit log: strings escaped per RFC 8259, whatever bytes a client sent.
#pragma once

#include <string>
#include <string_view>

namespace pgro::audit {

// Appends `text` as a JSON string, quotes included. `"` and `\` are escaped, control
// characters (U+0000-U+001F, and DEL) become \n, \t, ... or \u00XX, and bytes that are not
// well-formed UTF-8 (overlongs, surrogates, beyond U+10FFFF, truncated sequences) become
// U+FFFD each, so every line is valid UTF-8 JSON whatever encoding the client used.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace pgro::audit
