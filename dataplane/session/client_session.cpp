#include "session/client_session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/sqlstate.hpp"
#include "session/session_registry.hpp"

namespace pgro::session {

namespace {
namespace sqlstate = protocol::sqlstate;
std::atomic<uint64_t> g_next_session_id{1};
constexpr auto kFinalFlushTimeout = std::chrono::seconds(2);
}  // namespace

ClientSession::ClientSession(asio::ip::tcp::socket socket, std::shared_ptr<ProxyContext> context,
                             int loop, UnauthenticatedLimit::Ticket ticket)
    : client_(std::move(socket)),
      ctx_(std::move(context)),
      loop_(loop),
      to_client_(client_.socket().get_executor()),
      to_server_(client_.socket().get_executor()),
      session_id_(g_next_session_id.fetch_add(1, std::memory_order_relaxed)) {
  login_ticket_ = std::move(ticket);
  boost::system::error_code ec;
  auto remote = client_.socket().remote_endpoint(ec);
  client_address_ =
      ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
  address_key_ = ec ? std::string("?") : addressKey(remote.address());
  client_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  ctx_->counters.clients_current.fetch_add(1, std::memory_order_relaxed);
  ctx_->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
}

SessionInfo ClientSession::info() const {
  std::lock_guard lock(info_mu_);
  return info_;
}

void ClientSession::setActivity(const char* state, std::string_view query) {
  std::lock_guard lock(info_mu_);
  info_.state = state;
  if (!query.empty()) info_.query.assign(query.substr(0, 200));
}

ClientSession::~ClientSession() {
  auditAbandoned(protocol::sqlstate::kConnectionFailure);  // the client left before the reply
  releaseBuffer();
  if (registered_) ctx_->registry->remove(proxy_pid_, proxy_key_);
  ctx_->counters.clients_current.fetch_sub(1, std::memory_order_relaxed);
  releaseActiveSlot();
  if (counts_connection_) ctx_->user_gate.removeConnection(user_);
  if (!held_cursors_.empty()) {
    ctx_->counters.sessions_holding_cursors.fetch_sub(1, std::memory_order_relaxed);
  }
}

void ClientSession::start() {
  auto self = shared_from_this();
  to_client_.attach(&client_, weak_from_this());
  asio::co_spawn(client_.socket().get_executor(), run(self), asio::detached);
}

asio::awaitable<void> ClientSession::run(std::shared_ptr<ClientSession> self) {
  auto login_timer = std::make_shared<asio::steady_timer>(client_.socket().get_executor());
  login_timer->expires_after(std::chrono::seconds(ctx_->config->auth_timeout_seconds));
  login_timer->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto s = weak.lock(); s && s->state_ != State::Ready && s->state_ != State::Closing &&
                              s->state_ != State::SkipUntilSync) {
      s->loginTimedOut();
    }
  });
  const bool ready = co_await startup();
  login_timer->cancel();
  if (ready && ctx_->shutting_down.load()) {
    fatal({.severity = "FATAL",
           .sqlstate = std::string(sqlstate::kCannotConnectNow),
           .message = "the database system is shutting down"});
  } else if (ready) {
    co_await clientLoop();
  }
  if (state_ != State::Closing) state_ = State::Closing;
  if (server_ != nullptr) {
    if (pump_running_) {
      client_gone_ = true;  // the pump gives the connection back (or discards it)
      boost::system::error_code ec;
      server_->socket().cancel(ec);
    } else {
      detachServer(releasable());
    }
  }
  // Deliver what is queued (a FATAL, the last replies), but never wait on a stuck client.
  if (!to_client_.idle()) {
    asio::steady_timer deadline(client_.socket().get_executor());
    deadline.expires_after(kFinalFlushTimeout);
    deadline.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto s = weak.lock(); s && !ec) s->closeNow();
    });
    co_await to_client_.waitBelow(0);
    deadline.cancel();
  }
  if (client_.encrypted()) client_.writeLast({});  // close_notify
  boost::system::error_code ec;
  client_.socket().shutdown(asio::socket_base::shutdown_both, ec);
  client_.socket().close(ec);
  if (registered_) {
    spdlog::info("client disconnected: user={} client={}", user_, client_address_);
  }
  (void)self;
}

void ClientSession::loginTimedOut() {
  ctx_->counters.auth_timeouts.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("login timeout: client={} did not log in within AUTH_TIMEOUT_SECONDS={}",
               client_address_, ctx_->config->auth_timeout_seconds);
  if (throttle_wait_ != nullptr) throttle_wait_->cancel();  // its answer is not sent
  // PostgreSQL closes without a word while the startup packet or TLS handshake is under way
  // (the client may not be able to read a message then). Once the client waits for an
  // authentication request, an ErrorResponse is what it expects; a client that does not read
  // it is closed by run()'s final flush deadline.
  if (state_ == State::Authenticating && to_client_.idle()) {
    fatal({.severity = "FATAL",
           .sqlstate = std::string(sqlstate::kQueryCanceled),
           .message = "canceling authentication due to timeout"});
    return;
  }
  closeNow();
}

bool ClientSession::holdBuffer(std::size_t total) {
  if (total <= buffer_held_) return true;
  if (ctx_->guard->budget.tryReserve(total - buffer_held_)) {
    buffer_held_ = total;
    return true;
  }
  ctx_->counters.buffer_budget_refused.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn(
      "client={} user={} refused: its {}-byte message would exceed "
      "CLIENT_BUFFER_BUDGET_BYTES={} ({} bytes buffered by all clients)",
      client_address_, user_, total, ctx_->guard->budget.limit(), ctx_->guard->budget.used());
  fatal({.severity = "FATAL",
         .sqlstate = std::string(sqlstate::kOutOfMemory),
         .message = "pgro: out of memory for client messages",
         .detail = "Failed on request of size " + std::to_string(total) +
                   " (CLIENT_BUFFER_BUDGET_BYTES)."});
  return false;
}

void ClientSession::releaseBuffer() {
  if (buffer_held_ == 0) return;
  ctx_->guard->budget.release(buffer_held_);
  buffer_held_ = 0;
}

void ClientSession::fatal(const protocol::PgError& error) {
  if (state_ == State::Closing) return;
  std::string out;
  protocol::appendError(out, error);
  to_client_.appendOwned(std::move(out));
  state_ = State::Closing;
  // Wake the client loop if it waits for input.
  boost::system::error_code ec;
  if (to_client_.idle()) client_.socket().cancel(ec);
}

void ClientSession::closeNow() {
  state_ = State::Closing;
  boost::system::error_code ec;
  client_.socket().cancel(ec);
  client_.socket().close(ec);
}

void ClientSession::requestShutdown() {
  asio::post(client_.socket().get_executor(), [self = shared_from_this()] {
    self->shutdown_requested_ = true;
    if (self->state_ == State::Ready && self->server_ == nullptr && !self->inTransaction()) {
      self->fatal({.severity = "FATAL",
                   .sqlstate = std::string(sqlstate::kAdminShutdown),
                   .message = "terminating connection due to administrator command"});
    }
  });
}

void ClientSession::terminate() {
  asio::post(client_.socket().get_executor(), [self = shared_from_this()] {
    if (self->state_ == State::Closing) {
      self->closeNow();
      return;
    }
    self->fatal({.severity = "FATAL",
                 .sqlstate = std::string(sqlstate::kAdminShutdown),
                 .message = "terminating connection due to administrator command"});
    boost::system::error_code ec;
    self->client_.socket().cancel(ec);
    if (self->server_ != nullptr && self->pump_running_) {
      self->client_gone_ = true;
      self->server_->socket().cancel(ec);
    }
  });
}

void ClientSession::cancelQuery() {
  asio::post(client_.socket().get_executor(), [self = shared_from_this()] {
    if (self->server_ == nullptr || (self->pending_syncs_ == 0 && !self->unsynced_)) return;
    spdlog::info("cancel request: user={} client={}", self->user_, self->client_address_);
    auto ex = self->client_.socket().get_executor();
    asio::co_spawn(ex,
                   upstream::sendCancel(ex, self->ctx_->pool->settings(),
                                        self->server_->backendPid(), self->server_->backendKey()),
                   asio::detached);
  });
}

}  // namespace pgro::session
