// Names of session parameters as PostgreSQL spells them, and which ones pgro keeps equal
// between a client and the server connection it borrows (transaction pooling).
#pragma once

#include <string>
#include <string_view>

namespace pgro::session {

// "timezone" -> "TimeZone", "datestyle" -> "DateStyle", ...; other names lowercased.
std::string canonicalParameterName(std::string_view name);

// Parameters PostgreSQL 15 reports with ParameterStatus (GUC_REPORT).
bool isReportedParameter(std::string_view canonical_name);

// Parameters a client may hold its own value of (replayed with SET on borrowed
// connections): everything but the reported read-only facts of the server.
bool isSyncableParameter(std::string_view canonical_name);

}  // namespace pgro::session
