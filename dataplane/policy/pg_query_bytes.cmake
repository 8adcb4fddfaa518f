# Copies libpg_query's pg_query.proto with every `string` field turned into `bytes`.
#
# The parse tree carries the client's bytes verbatim (identifiers, string constants). In a
# LATIN1 or WIN1252 session they are not UTF-8, and proto3 `string` fields refuse to parse
# invalid UTF-8, which would turn every such query into a decode failure. `bytes` has the
# same wire format and the same C++ accessors (std::string), without the check.
# Usage: cmake -DIN=.../pg_query.proto -DOUT=.../pg_query.proto -P pg_query_bytes.cmake
file(READ ${IN} text)
string(REGEX REPLACE "\n([ \t]*)string ([A-Za-z_0-9]+ = )" "\n\\1bytes \\2" text "${text}")
string(REGEX MATCHALL "\n[ \t]*bytes [A-Za-z_0-9]+ = " converted "${text}")
list(LENGTH converted count)
if(count LESS 100)
  message(FATAL_ERROR "pg_query.proto: expected 100+ string fields, converted ${count}")
endif()
file(WRITE ${OUT} "${text}")
