// Names of session parameters as PostgreSQL spells them, and which ones pgro keeps equal
// between a client and the server connection it borrows (transaction pooling).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// A session's settings (canonical name -> value), copied on write: a session starts from the
// set it shares with sessions that logged in alike (ParameterSets) and gets its own copy only
// when one of them changes. Not thread-safe (one session's), except that a shared set is
// never changed.
class SessionParams {
 public:
  using Map = std::map<std::string, std::string>;
  SessionParams() : map_(std::make_shared<Map>()) {}

  [[nodiscard]] const Map& map() const { return *map_; }
  [[nodiscard]] Map::const_iterator begin() const { return map_->begin(); }
  [[nodiscard]] Map::const_iterator end() const { return map_->end(); }
  [[nodiscard]] Map::const_iterator find(const std::string& name) const { return map_->find(name); }
  [[nodiscard]] bool contains(const std::string& name) const { return map_->count(name) > 0; }
  // The value, or "" when the session has none.
  [[nodiscard]] std::string value(const std::string& name) const;
  // The pointer to the current set; stable for the session's life, its target is not.
  [[nodiscard]] const std::shared_ptr<const Map>* current() const { return &map_; }

  // The session's own copy, to change (made first if the set is shared).
  Map& edit();
  void assign(std::shared_ptr<const Map> shared) { map_ = std::move(shared); }
  void assign(Map map) { map_ = std::make_shared<Map>(std::move(map)); }

 private:
  // Always made non-const (make_shared<Map>), so edit() may change it once it is unshared.
  std::shared_ptr<const Map> map_;
};

// Sessions' settings at login (their DISCARD ALL baseline), shared between sessions that have
// the same: the clients of one deployment mostly log in with the same startup parameters, so
// a thousand idle clients hold one copy, not a thousand. Thread-safe; bounded (past
// `capacity` distinct sets a new one is returned unshared).
class ParameterSets {
 public:
  using Map = std::map<std::string, std::string>;
  explicit ParameterSets(std::size_t capacity = 64) : capacity_(capacity) {}
  // A shared copy of `params`.
  std::shared_ptr<const Map> intern(const Map& params);

 private:
  const std::size_t capacity_;
  std::mutex mu_;
  std::vector<std::shared_ptr<const Map>> sets_;
};

}  // namespace pgro::session
