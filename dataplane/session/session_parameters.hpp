// Names of session parameters as PostgreSQL spells them, and which ones pgro keeps equal
// between a client and the server connection it borrows (transaction pooling).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pgro::session {

// "timezone" -> "TimeZone", "datestyle" -> "DateStyle", ...; other names lowercased.
std::string canonicalParameterName(std::string_view name);

// Parameters PostgreSQL 15 reports with ParameterStatus (GUC_REPORT).
bool isReportedParameter(std::string_view canonical_name);

// Parameters a client may hold its own value of (replayed with SET on borrowed
// connections): everything but the reported read-only facts of the server.
bool isSyncableParameter(std::string_view canonical_name);

// Setting values PostgreSQL accepted for a session (startup parameters, checked at login by
// trying them upstream), with the spelling PostgreSQL gave them ("iso" -> "ISO, MDY"): each
// distinct value costs one upstream round trip per process, not one per login. Thread-safe;
// bounded (forgets everything when full).
class AcceptedSettings {
 public:
  explicit AcceptedSettings(std::size_t capacity = 4096) : capacity_(capacity) {}
  // PostgreSQL's spelling of an accepted value, nullopt if not (yet) accepted.
  std::optional<std::string> find(std::string_view name, std::string_view value) const;
  void add(std::string_view name, std::string_view value, std::string canonical);

 private:
  static std::string key(std::string_view name, std::string_view value);
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> accepted_;
};

}  // namespace pgro::session
