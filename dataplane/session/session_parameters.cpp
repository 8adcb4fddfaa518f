#include "session/session_parameters.hpp"

#include <algorithm>
#include <array>

namespace pgro::session {

std::string canonicalParameterName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "timezone") return "TimeZone";
  if (lower == "datestyle") return "DateStyle";
  if (lower == "intervalstyle") return "IntervalStyle";
  return lower;
}

bool isReportedParameter(std::string_view name) {
  static constexpr std::array<std::string_view, 13> kReported = {"application_name",
                                                                 "client_encoding",
                                                                 "DateStyle",
                                                                 "default_transaction_read_only",
                                                                 "in_hot_standby",
                                                                 "integer_datetimes",
                                                                 "IntervalStyle",
                                                                 "is_superuser",
                                                                 "server_encoding",
                                                                 "server_version",
                                                                 "session_authorization",
                                                                 "standard_conforming_strings",
                                                                 "TimeZone"};
  return std::find(kReported.begin(), kReported.end(), name) != kReported.end();
}

bool isSyncableParameter(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kServerFacts = {"default_transaction_read_only",
                                                                   "in_hot_standby",
                                                                   "integer_datetimes",
                                                                   "is_superuser",
                                                                   "server_encoding",
                                                                   "server_version",
                                                                   "session_authorization",
                                                                   "standard_conforming_strings"};
  return std::find(kServerFacts.begin(), kServerFacts.end(), name) == kServerFacts.end() &&
         name.rfind("pgro.", 0) != 0;
}

std::string AcceptedSettings::key(std::string_view name, std::string_view value) {
  std::string out(name);
  out.push_back('\0');
  out.append(value);
  return out;
}

std::optional<std::string> AcceptedSettings::find(std::string_view name,
                                                  std::string_view value) const {
  const std::string k = key(name, value);
  std::lock_guard lock(mu_);
  auto it = accepted_.find(k);
  if (it == accepted_.end()) return std::nullopt;
  return it->second;
}

void AcceptedSettings::add(std::string_view name, std::string_view value, std::string canonical) {
  std::string k = key(name, value);
  std::lock_guard lock(mu_);
  if (accepted_.size() >= capacity_) accepted_.clear();
  accepted_.insert_or_assign(std::move(k), std::move(canonical));
}

std::string SessionParams::value(const std::string& name) const {
  auto it = map_->find(name);
  return it == map_->end() ? std::string() : it->second;
}

SessionParams::Map& SessionParams::edit() {
  // use_count() == 1: no other session and no ParameterSets holds it, so no other thread can
  // read it while it changes.
  if (map_.use_count() > 1) map_ = std::make_shared<Map>(*map_);
  return const_cast<Map&>(*map_);  // made non-const, see map_
}

std::shared_ptr<const ParameterSets::Map> ParameterSets::intern(const Map& params) {
  std::lock_guard lock(mu_);
  for (const auto& set : sets_) {
    if (*set == params) return set;
  }
  std::shared_ptr<const Map> set = std::make_shared<Map>(params);
  if (sets_.size() < capacity_) sets_.push_back(set);
  return set;
}

}  // namespace pgro::session
