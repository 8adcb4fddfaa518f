// The session's hooks into the query governor (governor.hpp).
//  - The statement timer of QUERY_TIMEOUT_SECONDS. pgro enforces it itself, so `SET
//    statement_timeout = 0` or a startup `-c statement_timeout=0` cannot lift it: when a
//    statement runs longer, pgro sends a CancelRequest to the backend serving it and tells
//    the client why in the 57014 that answers the cancel.
//  - The idle timer while pgro waits for the client with nothing running upstream: holding a
//    server connection (in a transaction block, or after a Flush without Sync) it is
//    IDLE_TRANSACTION_TIMEOUT_SECONDS (FATAL 25P03), otherwise CLIENT_IDLE_TIMEOUT_SECONDS
//    (FATAL 57P05). The session then ends as when the client hangs up: a server connection
//    that is not clean is closed, which rolls its transaction back and frees its pool slot.
#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/sqlstate.hpp"
#include "session/client_session.hpp"

namespace pgro::session {

namespace {
namespace sqlstate = protocol::sqlstate;

// Client messages that make the server run something: a Query, an Execute, and the Sync
// that commits an implicit transaction.
bool runsStatement(char message) {
  return message == 'Q' || message == 'E' || message == 'S';
}
}  // namespace

const GovernorLimits& ClientSession::limits() {
  const uint64_t generation = ctx_->policy_generation.load(std::memory_order_acquire);
  if (generation != limits_generation_) {
    const auto policy = ctx_->policy();
    limits_ = GovernorLimits::forLogin(*policy.config, policy.users->settings(user_));
    limits_generation_ = generation;
  }
  return limits_;
}

bool ClientSession::admitLogin() {
  // The login as the governor's metrics label: bounded by the user store (AUTH=trust takes
  // any name).
  governor_user_ = ctx_->users()->find(user_) != nullptr ? user_ : "other";
  const int max = limits().max_user_connections;
  if (!ctx_->user_gate.addConnection(user_, max)) {
    ctx_->governor.add(GovernorLimit::UserConnections, governor_user_);
    spdlog::warn(
        "governor: user_connections: user={} client={} refused: the login has "
        "MAX_USER_CONNECTIONS={} connections open",
        user_, client_address_, max);
    fatal({.severity = "FATAL",
           .sqlstate = std::string(sqlstate::kTooManyConnections),
           .message = "too many connections for role \"" + user_ + "\"",
           .detail = "pgro's MAX_USER_CONNECTIONS for this login is " + std::to_string(max) + "."});
    return false;
  }
  counts_connection_ = true;
  return true;
}

asio::awaitable<bool> ClientSession::acquireActiveSlot() {
  const int max = limits().max_user_active_queries;
  if (max <= 0) co_return true;
  const auto timeout = std::chrono::seconds(ctx_->config->pool_timeout_seconds);
  auto& gate = ctx_->user_gate;
  // A first try that does not wait, so that only real waits are counted.
  if (!co_await gate.acquireActive(client_.socket().get_executor(), user_, max,
                                   std::chrono::milliseconds(0))) {
    ctx_->governor.add(GovernorLimit::UserActiveQueries, governor_user_);
    spdlog::info(
        "governor: user_active_queries: user={} client={} waits: the login holds "
        "MAX_USER_ACTIVE_QUERIES={} upstream connections",
        user_, client_address_, max);
    if (!co_await gate.acquireActive(client_.socket().get_executor(), user_, max, timeout)) {
      spdlog::warn(
          "governor: user_active_queries: user={} client={} refused after waiting "
          "POOL_TIMEOUT_SECONDS={}",
          user_, client_address_, ctx_->config->pool_timeout_seconds);
      last_error_ = {.sqlstate = std::string(sqlstate::kTooManyConnections),
                     .message = "pgro: login \"" + user_ +
                                "\" holds MAX_USER_ACTIVE_QUERIES=" + std::to_string(max) +
                                " upstream connections; none was freed within " +
                                std::to_string(ctx_->config->pool_timeout_seconds) +
                                " s (POOL_TIMEOUT_SECONDS)",
                     .hint = "Retry later, or finish the login's other transactions."};
      co_return false;
    }
  }
  if (state_ == State::Closing) {
    gate.releaseActive(user_);
    co_return false;
  }
  holds_active_slot_ = true;
  co_return true;
}

void ClientSession::releaseActiveSlot() {
  if (!holds_active_slot_) return;
  holds_active_slot_ = false;
  ctx_->user_gate.releaseActive(user_);
}

void ClientSession::governorStatementSent() {
  if (statement_timer_armed_) return;
  const int seconds = limits().query_timeout_seconds;
  if (seconds <= 0) return;
  statement_timer_armed_ = true;
  const uint64_t serial = ++statement_serial_;
  auto& timer = statement_timer_.get(client_.socket().get_executor());
  timer.expires_after(std::chrono::seconds(seconds));
  timer.async_wait([weak = weak_from_this(), serial](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || self == nullptr || self->statement_serial_ != serial) return;
    self->queryTimedOut();
  });
}

void ClientSession::governorArmIdle() {
  const uint64_t serial = ++idle_serial_;
  const bool waiting = reading_client_ &&
                       (state_ == State::Ready || state_ == State::SkipUntilSync) &&
                       pending_.empty() && server_batch_.empty();
  if (!waiting) {
    stopIdleTimer();
    return;
  }
  const bool holding = server_ != nullptr && (inTransaction() || unsynced_);
  const int seconds =
      holding ? limits().idle_transaction_timeout_seconds : limits().client_idle_timeout_seconds;
  if (seconds <= 0) {
    stopIdleTimer();
    return;
  }
  idle_timer_armed_ = true;
  auto& timer = idle_timer_.get(client_.socket().get_executor());
  timer.expires_after(std::chrono::seconds(seconds));
  timer.async_wait([weak = weak_from_this(), serial, holding](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || self == nullptr || self->idle_serial_ != serial) return;
    self->idle_timer_armed_ = false;
    self->idleTimedOut(holding);
  });
}

// Timers are cancelled only when armed: this runs twice per client read, and cancelling
// takes the reactor's timer lock.
void ClientSession::stopIdleTimer() {
  if (!idle_timer_armed_) return;
  idle_timer_armed_ = false;
  idle_timer_.cancel();
}

void ClientSession::idleTimedOut(bool holding) {
  if (state_ == State::Closing) return;
  if (holding) {
    ctx_->governor.add(GovernorLimit::IdleTransactionTimeout, governor_user_);
    spdlog::warn(
        "governor: idle_transaction_timeout: user={} client={} held a server "
        "connection idle ({}) longer than IDLE_TRANSACTION_TIMEOUT_SECONDS={}; "
        "disconnected",
        user_, client_address_, unsynced_ ? "extended protocol without Sync" : "in a transaction",
        limits_.idle_transaction_timeout_seconds);
    fatal({.severity = "FATAL",
           .sqlstate = std::string(sqlstate::kIdleInTransactionSessionTimeout),
           .message = "terminating connection due to idle-in-transaction timeout "
                      "(pgro's IDLE_TRANSACTION_TIMEOUT_SECONDS is " +
                      std::to_string(limits_.idle_transaction_timeout_seconds) + " s)"});
  } else {
    ctx_->governor.add(GovernorLimit::ClientIdleTimeout, governor_user_);
    spdlog::info(
        "governor: client_idle_timeout: user={} client={} sent nothing for "
        "CLIENT_IDLE_TIMEOUT_SECONDS={}; disconnected",
        user_, client_address_, limits_.client_idle_timeout_seconds);
    fatal({.severity = "FATAL",
           .sqlstate = std::string(sqlstate::kIdleSessionTimeout),
           .message = "terminating connection due to idle-session timeout "
                      "(pgro's CLIENT_IDLE_TIMEOUT_SECONDS is " +
                      std::to_string(limits_.client_idle_timeout_seconds) + " s)"});
  }
  // fatal() wakes the client loop only when nothing is queued for the client; an idle
  // session has nothing queued, but a client that stopped reading must not keep it.
  boost::system::error_code ec;
  client_.socket().cancel(ec);
}

void ClientSession::governorStatementDone() {
  if (!statement_timer_armed_) {  // no time limit (the fast path)
    governor_cancel_sent_ = false;
    governorArmIdle();
    return;
  }
  for (const Pending& p : pending_) {
    if (p.kind == Pending::Kind::Forward && runsStatement(p.message)) {
      // The next statement of a pipeline starts now: its own time limit.
      statement_timer_armed_ = false;
      governor_cancel_sent_ = false;
      governorStatementSent();
      return;
    }
  }
  governor_cancel_sent_ = false;
  ++statement_serial_;
  if (statement_timer_armed_) statement_timer_.cancel();
  statement_timer_armed_ = false;
  governorArmIdle();
}

void ClientSession::queryTimedOut() {
  statement_timer_armed_ = false;
  if (server_ == nullptr || state_ == State::Closing) return;
  const bool running = std::any_of(pending_.begin(), pending_.end(), [](const Pending& p) {
    return p.kind == Pending::Kind::Forward && runsStatement(p.message);
  });
  if (!running) return;
  governor_cancel_sent_ = true;
  ctx_->governor.add(GovernorLimit::QueryTimeout, governor_user_);
  spdlog::warn(
      "governor: query_timeout: user={} client={} statement ran longer than "
      "QUERY_TIMEOUT_SECONDS={}; cancelling it upstream, query=\"{}\"",
      user_, client_address_, limits_.query_timeout_seconds, info().query);
  governorCancel();
}

void ClientSession::governorCancel() {
  if (server_ == nullptr || (cancel_flight_ != nullptr && !cancel_flight_->done &&
                             cancel_flight_->pid == server_->backendPid())) {
    return;
  }
  auto ex = client_.socket().get_executor();
  auto flight = std::make_shared<CancelFlight>(ex);
  flight->pid = server_->backendPid();
  flight->timer.expires_at(asio::steady_timer::time_point::max());
  cancel_flight_ = flight;
  asio::co_spawn(ex,
                 upstream::sendCancel(ex, ctx_->pool->settings(), server_->backendPid(),
                                      server_->backendKey()),
                 [flight](std::exception_ptr) {
                   flight->done = true;
                   flight->timer.cancel();
                 });
}

asio::awaitable<void> ClientSession::awaitGovernorCancel() {
  auto flight = cancel_flight_;
  if (flight == nullptr || flight->done) co_return;
  // Bounded: a postmaster that does not answer must not hold the session. The connection
  // is then not reused, since the cancel may still land on whatever runs on it next.
  asio::steady_timer deadline(client_.socket().get_executor());
  deadline.expires_after(std::chrono::seconds(10));
  deadline.async_wait([flight](boost::system::error_code ec) {
    if (!ec) flight->timer.cancel();
  });
  boost::system::error_code ec;
  co_await flight->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  deadline.cancel();
  if (!flight->done && server_ != nullptr) {
    spdlog::warn(
        "governor: the CancelRequest for user={} client={} was not confirmed; the server "
        "connection is closed after this unit",
        user_, client_address_);
    server_->markBroken();
  }
}

std::optional<GovernorLimit> ClientSession::governorRowOverLimit(std::size_t size) {
  if (limits_.max_result_rows <= 0 && limits_.max_result_bytes <= 0) return std::nullopt;
  if (pending_.empty()) return std::nullopt;
  const Pending& front = pending_.front();
  if (front.kind != Pending::Kind::Forward || front.refresh) return std::nullopt;
  return result_meter_.add(size, limits_);
}

void ClientSession::governorCapResult(GovernorLimit limit_hit) {
  const auto limit = std::optional<GovernorLimit>(limit_hit);
  Pending& front = pending_.front();
  result_capped_ = limit;
  unit_error_ = true;
  ctx_->governor.add(*limit, governor_user_);
  const std::string message = resultLimitMessage(*limit, limits_);
  spdlog::warn("governor: {}: user={} client={} {}; cancelling it upstream, query=\"{}\"",
               limitName(*limit), user_, client_address_, message, info().query);
  if (front.capture) {  // a cut result is never cached
    front.capture->ok = false;
    std::string().swap(front.capture->bytes);
  }
  std::string out;
  protocol::appendError(out, {.sqlstate = std::string(sqlstate::kProgramLimitExceeded),
                              .message = message,
                              .hint = "The limit is set for this login by the pgro operator; "
                                      "add a LIMIT or fetch the rows with a cursor."});
  auditServerError(std::string_view(out).substr(protocol::kTypedHeaderSize));
  to_client_.appendOwned(std::move(out));
  // As PostgreSQL after an error in the extended protocol: the client's messages up to its
  // Sync are not run (those already upstream are skipped there after the cancel's error).
  const bool sync_sent = std::any_of(pending_.begin(), pending_.end(), [](const Pending& p) {
    return p.message == 'S' || p.message == 'Q';
  });
  if (front.message != 'Q' && !sync_sent && state_ == State::Ready) {
    state_ = State::SkipUntilSync;
  }
  governorCancel();
}

std::optional<std::string> ClientSession::governorCutCached(std::string_view reply) {
  const auto& l = limits();
  const auto cut = cutResult(reply, l);
  if (!cut) return std::nullopt;
  ctx_->governor.add(cut->limit, governor_user_);
  const std::string message = resultLimitMessage(cut->limit, l);
  spdlog::warn("governor: {}: user={} client={} cached {}; refused, query=\"{}\"",
               limitName(cut->limit), user_, client_address_, message, info().query);
  std::string out(reply.substr(0, cut->offset));
  const protocol::PgError error{.sqlstate = std::string(sqlstate::kProgramLimitExceeded),
                                .message = message,
                                .hint =
                                    "The limit is set for this login by the pgro operator; "
                                    "add a LIMIT or fetch the rows with a cursor."};
  protocol::appendError(out, error);
  audit_.error(error.sqlstate, error.message);
  return out;
}

bool ClientSession::governorError(std::string_view body) {
  if (!governor_cancel_sent_) return false;
  const auto fields = protocol::parseErrorFields(body);
  if (!fields || fields->sqlstate != sqlstate::kQueryCanceled) return false;
  governor_cancel_sent_ = false;
  std::string out;
  protocol::appendError(out,
                        {.sqlstate = std::string(sqlstate::kQueryCanceled),
                         .message = "canceling statement due to pgro's QUERY_TIMEOUT_SECONDS (" +
                                    std::to_string(limits_.query_timeout_seconds) + " s)",
                         .hint = "The limit is set for this login by the pgro operator; SET "
                                 "statement_timeout cannot raise it."});
  to_client_.appendOwned(std::move(out));
  return true;
}

}  // namespace pgro::session
