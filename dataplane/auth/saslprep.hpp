#pragma once

// Password preparation for SCRAM (RFC 4013 SASLprep), following PostgreSQL's pg_saslprep()
// and its callers (server and libpq): if SASLprep fails, the raw password bytes are used.
//
// What pgro does, and how it compares with PostgreSQL 15:
//  - Pure ASCII (every byte < 0x80): used unchanged, exactly like PostgreSQL.
//  - Not valid UTF-8: used unchanged (PostgreSQL: SASLprep fails, raw bytes used). Same.
//  - Valid UTF-8 with non-ASCII characters: RFC 3454 mapping (B.1 "commonly mapped to
//    nothing" removed, C.1.2 non-ASCII spaces to U+0020); if the result is empty or holds a
//    prohibited-output character (C.1.2-C.9), the raw password is used instead. Same.
//    Not implemented: NFKC normalization, the A.1 unassigned-code-point check and the bidi
//    check (they need large Unicode tables). So a non-ASCII password can differ from
//    PostgreSQL's result only if NFKC would change it (compatibility characters such as
//    ligatures or full-width forms, or decomposed accents), if it holds a code point
//    unassigned in Unicode 3.2, or if it mixes right-to-left and left-to-right letters.
//    Precomposed accented letters (as keyboards type them) are already NFKC and match.

#include <string>
#include <string_view>

namespace pgro::auth {

std::string saslprepPassword(std::string_view password);

}  // namespace pgro::auth
