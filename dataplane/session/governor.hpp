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
#include <optional>
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
  std::int64_t max_result_rows = 0;   // DataRows (and COPY TO STDOUT rows) of one result
  std::int64_t max_result_bytes = 0;  // bytes of those messages in one result

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
  ResultRows,              // MAX_RESULT_ROWS: a result cut short and cancelled upstream (54000)
  ResultBytes,             // MAX_RESULT_BYTES: likewise, by bytes
};

inline constexpr std::array kGovernorLimits = {
    GovernorLimit::PgSleep,
    GovernorLimit::QueryTimeout,
    GovernorLimit::IdleTransactionTimeout,
    GovernorLimit::ClientIdleTimeout,
    GovernorLimit::UserConnections,
    GovernorLimit::UserActiveQueries,
    GovernorLimit::ResultRows,
    GovernorLimit::ResultBytes,
};

// The metric suffix and log name: "pg_sleep", "query_timeout", ...
std::string_view limitName(GovernorLimit limit);

// Counts the rows of one result against MAX_RESULT_ROWS / MAX_RESULT_BYTES (0 = off). A
// result is what ends at a CommandComplete, an ErrorResponse, an EmptyQueryResponse or a
// PortalSuspended; reset() is called there.
class ResultMeter {
 public:
  // One more row message of `size` bytes: the limit it passes (ResultRows or ResultBytes),
  // else nullopt. The row that passes it is not the client's.
  std::optional<GovernorLimit> add(std::size_t size, const GovernorLimits& limits) {
    ++rows_;
    bytes_ += size;
    if (limits.max_result_rows > 0 && rows_ > static_cast<std::uint64_t>(limits.max_result_rows)) {
      return GovernorLimit::ResultRows;
    }
    if (limits.max_result_bytes > 0 &&
        bytes_ > static_cast<std::uint64_t>(limits.max_result_bytes)) {
      return GovernorLimit::ResultBytes;
    }
    return std::nullopt;
  }
  void reset() {
    rows_ = 0;
    bytes_ = 0;
  }

 private:
  std::uint64_t rows_ = 0;
  std::uint64_t bytes_ = 0;
};

// The offset in `reply` (backend messages as the result cache stores them) of the first row
// message past `limits`, and the limit it passes; nullopt when the reply is within them.
struct ResultCut {
  std::size_t offset = 0;
  GovernorLimit limit = GovernorLimit::ResultRows;
};
std::optional<ResultCut> cutResult(std::string_view reply, const GovernorLimits& limits);

// The 54000 a client gets for a result past `limit` (ResultRows or ResultBytes).
std::string resultLimitMessage(GovernorLimit limit, const GovernorLimits& limits);

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
