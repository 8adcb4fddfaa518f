#include "session/governor.hpp"

namespace pgro::session {

GovernorLimits GovernorLimits::fromConfig(const config::Config& config) {
  GovernorLimits limits;
  limits.query_timeout_seconds = config.query_timeout_seconds;
  limits.idle_transaction_timeout_seconds = config.idle_transaction_timeout_seconds;
  limits.client_idle_timeout_seconds = config.client_idle_timeout_seconds;
  return limits;
}

std::string_view limitName(GovernorLimit limit) {
  switch (limit) {
    case GovernorLimit::PgSleep:
      return "pg_sleep";
    case GovernorLimit::QueryTimeout:
      return "query_timeout";
    case GovernorLimit::IdleTransactionTimeout:
      return "idle_transaction_timeout";
    case GovernorLimit::ClientIdleTimeout:
      return "client_idle_timeout";
  }
  return "unknown";
}

void GovernorCounters::add(GovernorLimit limit, const std::string& user) {
  std::lock_guard lock(mu_);
  ++counts_[{limit, user}];
}

std::map<std::string, std::map<std::string, std::uint64_t>> GovernorCounters::snapshot() const {
  std::map<std::string, std::map<std::string, std::uint64_t>> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts_) out[std::string(limitName(key.first))][key.second] = n;
  return out;
}

}  // namespace pgro::session
