#include "server/proxy_server.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "protocol/messages.hpp"
#include "protocol/sqlstate.hpp"
#include "session/client_session.hpp"
#include "session/session_registry.hpp"

namespace pgro::server {

namespace {
constexpr auto kShutdownPoll = std::chrono::milliseconds(50);
constexpr auto kTerminateGrace = std::chrono::seconds(2);
}  // namespace

ProxyServer::ProxyServer(std::shared_ptr<session::ProxyContext> context)
    : ctx_(std::move(context)) {
  int n = ctx_->config->worker_threads;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) loops_.push_back(std::make_unique<asio::io_context>(1));
  // One thread per two loops, at most two: long texts are rare, and a session has at most
  // one in the queue.
  classify_pool_ = std::make_unique<asio::thread_pool>(std::clamp(n / 2, 1, 2));
  ctx_->classify_executor = classify_pool_->get_executor();
  signals_ = std::make_unique<asio::signal_set>(*loops_[0], SIGTERM, SIGINT, SIGHUP);
}

ProxyServer::~ProxyServer() {
  for (auto& loop : loops_) loop->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  // The fleet cache's connections live on the loops: dropped before the loops go.
  if (ctx_->l2) ctx_->l2->stop();
  // After the loops: what the pool still completes is posted to stopped loops and destroyed
  // with them.
  classify_pool_->stop();
  classify_pool_->join();
}

std::vector<asio::any_io_executor> ProxyServer::loopExecutors() const {
  std::vector<asio::any_io_executor> out;
  for (const auto& loop : loops_) out.push_back(loop->get_executor());
  return out;
}

void ProxyServer::bind() {
  const auto& cfg = *ctx_->config;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(cfg.listen_host, ec);
  if (ec) throw std::runtime_error("LISTEN_HOST: invalid address \"" + cfg.listen_host + "\"");
  asio::ip::tcp::endpoint endpoint(address, cfg.listen_port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*loops_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("could not listen on " + cfg.listen_host + ":" +
                             std::to_string(cfg.listen_port) + ": " + ec.message());
  }
}

uint16_t ProxyServer::port() const {
  return acceptor_->local_endpoint().port();
}

asio::awaitable<void> ProxyServer::acceptLoop() {
  const int max_clients = ctx_->config->max_client_connections;
  while (!stopping_) {
    auto& loop = *loops_[next_loop_];
    const int loop_index = static_cast<int>(next_loop_);
    next_loop_ = (next_loop_ + 1) % loops_.size();
    boost::system::error_code ec;
    asio::ip::tcp::socket socket(loop);
    co_await acceptor_->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      // EMFILE and friends: back off briefly instead of spinning.
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (ctx_->counters.clients_current.load(std::memory_order_relaxed) >= max_clients) {
      ctx_->counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      // Answered on the startup's terms: PostgreSQL sends this FATAL before any startup.
      std::string out;
      protocol::appendError(out, {.severity = "FATAL",
                                  .sqlstate = std::string(protocol::sqlstate::kTooManyConnections),
                                  .message = "sorry, too many clients already"});
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(out), ec);
      socket.close(ec);
      continue;
    }
    // Half-open connections from one address are bounded, so they cannot take every slot.
    const auto remote = socket.remote_endpoint(ec);
    session::UnauthenticatedLimit::Ticket ticket;
    if (!ec &&
        !ctx_->guard->unauthenticated.acquire(session::addressKey(remote.address()), ticket)) {
      ctx_->counters.unauthenticated_refused.fetch_add(1, std::memory_order_relaxed);
      spdlog::info(
          "connection refused: client={} holds MAX_UNAUTHENTICATED_PER_ADDRESS={} "
          "connections that have not logged in",
          remote.address().to_string(), ctx_->config->max_unauthenticated_per_address);
      std::string out;
      protocol::appendError(
          out, {.severity = "FATAL",
                .sqlstate = std::string(protocol::sqlstate::kTooManyConnections),
                .message = "pgro: too many connections from this address that have not logged in"});
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(out), ec);
      socket.close(ec);
      continue;
    }
    auto session = std::make_shared<session::ClientSession>(std::move(socket), ctx_, loop_index,
                                                            std::move(ticket));
    asio::post(loop, [session] { session->start(); });
  }
}

void ProxyServer::requestShutdown() {
  asio::post(*loops_[0], [this] {
    if (stopping_) return;
    asio::co_spawn(*loops_[0], shutdownSequence(), asio::detached);
  });
}

asio::awaitable<void> ProxyServer::shutdownSequence() {
  stopping_ = true;
  ctx_->shutting_down.store(true);
  spdlog::info("Shutting down: no new connections; waiting up to {} s for running transactions",
               ctx_->config->shutdown_timeout_seconds);
  boost::system::error_code ec;
  acceptor_->close(ec);
  ctx_->registry->forEach([](const auto& s) { s->requestShutdown(); });

  asio::steady_timer timer(*loops_[0]);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(ctx_->config->shutdown_timeout_seconds);
  while (ctx_->counters.clients_current.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(kShutdownPoll);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ctx_->counters.clients_current.load() > 0) {
    spdlog::info("Shutdown timeout: terminating {} remaining client(s)",
                 ctx_->counters.clients_current.load());
    ctx_->registry->forEach([](const auto& s) { s->terminate(); });
    const auto hard_deadline = std::chrono::steady_clock::now() + kTerminateGrace;
    while (ctx_->counters.clients_current.load() > 0 &&
           std::chrono::steady_clock::now() < hard_deadline) {
      timer.expires_after(kShutdownPoll);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  ctx_->pool->closeIdle();
  spdlog::info("Shutdown complete");
  for (auto& loop : loops_) loop->stop();
}

int ProxyServer::run() {
  asio::signal_set& signals = *signals_;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
          spdlog::info("Received SIGHUP: reloading the configuration");
          if (reload_ && !stopping_) {
            if (reload_thread_.joinable()) reload_thread_.join();
            reload_thread_ = std::thread(reload_);
          }
        } else {
          spdlog::info("Received signal {}", signo == SIGTERM ? "SIGTERM" : "SIGINT");
          requestShutdown();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  asio::co_spawn(*loops_[0], acceptLoop(), asio::detached);

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& loop : loops_) guards.emplace_back(loop->get_executor());
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    threads_.emplace_back([this, i] { loops_[i]->run(); });
  }
  loops_[0]->run();
  for (auto& loop : loops_) loop->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (reload_thread_.joinable()) reload_thread_.join();
  return 0;
}

}  // namespace pgro::server
