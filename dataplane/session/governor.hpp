// The query governor: what one login may take from production (DESIGN.md section 10). The
// limits are pgro's own, so a client cannot lift them with SET or startup options; the
// session asks this module what applies to its login and reports every limit it enforces.
// Each enforcement is one log line and one count in pgro_governor_<limit>_total{user}.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "auth/users.hpp"
#include "config/config.hpp"

namespace pgro::session {

// The limits in force for one login (0 = off): the settings, overridden by the login's
// `name=value` fields in USERS_FILE (names as the settings', lowercase).
struct GovernorLimits {
  int query_timeout_seconds = 0;
  int idle_transaction_timeout_seconds = 0;
  int client_idle_timeout_seconds = 0;
  int max_user_connections = 0;
  int max_user_active_queries = 0;

  static GovernorLimits forLogin(const config::Config& config,
                                 const auth::UserStore::Settings* overrides);
  // The USERS_FILE checker (auth::UserStore::SettingCheck): "" or what is wrong.
  static std::string checkOverride(std::string_view name, std::string_view value);
};

enum class GovernorLimit : std::uint8_t {
  PgSleep,                 // ALLOW_PG_SLEEP=false: pg_sleep & co. refused (42501)
  QueryTimeout,            // QUERY_TIMEOUT_SECONDS: the statement cancelled upstream (57014)
  IdleTransactionTimeout,  // IDLE_TRANSACTION_TIMEOUT_SECONDS: FATAL 25P03
  ClientIdleTimeout,       // CLIENT_IDLE_TIMEOUT_SECONDS: the idle client closed
  UserConnections,         // MAX_USER_CONNECTIONS: a login refused (53300)
  UserActiveQueries,       // MAX_USER_ACTIVE_QUERIES: a client made to wait for its login's slot
};

inline constexpr std::array kGovernorLimits = {
    GovernorLimit::PgSleep,
    GovernorLimit::QueryTimeout,
    GovernorLimit::IdleTransactionTimeout,
    GovernorLimit::ClientIdleTimeout,
    GovernorLimit::UserConnections,
    GovernorLimit::UserActiveQueries,
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

// Per-login counts behind MAX_USER_CONNECTIONS and MAX_USER_ACTIVE_QUERIES, shared by every
// loop (one mutex, held for a few map operations, never across a wait).
class UserGate {
 public:
  // One more connection of `user`; false when it already has `max` (0 = no limit).
  bool addConnection(const std::string& user, int max);
  void removeConnection(const std::string& user);

  // A slot to hold one pool connection for `user`: at once while the login holds fewer than
  // `max`, else after waiting in FIFO order (at most `timeout`; false then). The slot
  // is given back with releaseActive().
  boost::asio::awaitable<bool> acquireActive(boost::asio::any_io_executor executor,
                                             const std::string& user, int max,
                                             std::chrono::milliseconds timeout);
  void releaseActive(const std::string& user);

 private:
  struct Waiter {
    explicit Waiter(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
    boost::asio::steady_timer timer;
    bool served = false;
  };
  struct Login {
    int connections = 0;
    int active = 0;
    std::deque<std::shared_ptr<Waiter>> waiters;
  };
  void forgetIfUnused(std::map<std::string, Login>::iterator it);

  std::mutex mu_;
  std::map<std::string, Login> logins_;
};

}  // namespace pgro::session
