// The query governor: what one login may take from production (DESIGN.md section 10). The
// limits are pgro's own, so a client cannot lift them with SET or startup options; the
// session asks this module what applies to its login and reports every limit it enforces.
// Each enforcement is one log line and one count in pgro_governor_<limit>_total{user}.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace pgro::session {

// The limits in force for one login (0 = off).
struct GovernorLimits {
  int query_timeout_seconds = 0;
  int idle_transaction_timeout_seconds = 0;
  int client_idle_timeout_seconds = 0;

  static GovernorLimits fromConfig(const config::Config& config);
};

enum class GovernorLimit : std::uint8_t {
  PgSleep,                 // ALLOW_PG_SLEEP=false: pg_sleep & co. refused (42501)
  QueryTimeout,            // QUERY_TIMEOUT_SECONDS: the statement cancelled upstream (57014)
  IdleTransactionTimeout,  // IDLE_TRANSACTION_TIMEOUT_SECONDS: FATAL 25P03
  ClientIdleTimeout,       // CLIENT_IDLE_TIMEOUT_SECONDS: the idle client closed
};

inline constexpr std::array kGovernorLimits = {
    GovernorLimit::PgSleep,
    GovernorLimit::QueryTimeout,
    GovernorLimit::IdleTransactionTimeout,
    GovernorLimit::ClientIdleTimeout,
};

// The metric suffix and log name: "pg_sleep", "query_timeout", ...
std::string_view limitName(GovernorLimit limit);

// Thread-safe counts of enforcements by limit and login. Enforcements are rare (a refusal, a
// cancel, a disconnect), so one mutex is fine. The login label is bounded by the caller: a
// login of the user store, else "other" (AUTH=trust accepts any name).
class GovernorCounters {
 public:
  void add(GovernorLimit limit, const std::string& user);
  // limit name -> login -> count, for the stats snapshot.
  std::map<std::string, std::map<std::string, std::uint64_t>> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<GovernorLimit, std::string>, std::uint64_t> counts_;
};

}  // namespace pgro::session
