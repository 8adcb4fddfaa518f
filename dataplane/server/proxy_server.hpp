// The data plane's process-level parts: WORKER_THREADS event loops (one io_context and one
// thread each), the listener that spreads accepted clients over the loops, signals, and the
// graceful shutdown of DESIGN.md section 7.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "session/proxy_context.hpp"

namespace pgro::server {

namespace asio = boost::asio;

class ProxyServer {
 public:
  explicit ProxyServer(std::shared_ptr<session::ProxyContext> context);
  ~ProxyServer();

  // Binds LISTEN_HOST:LISTEN_PORT; throws std::runtime_error with a clear message on failure.
  void bind();
  uint16_t port() const;

  // Runs until SIGTERM/SIGINT (or requestShutdown()) and the shutdown completes. Returns the
  // process exit code.
  int run();
  void requestShutdown();
  // Called on SIGHUP, on a thread of its own (a reload does blocking catalog queries).
  void setReloadHandler(std::function<void()> handler) { reload_ = std::move(handler); }

  const std::shared_ptr<session::ProxyContext>& context() const { return ctx_; }
  // The event loops' executors, by index (what a session's loop index refers to).
  std::vector<asio::any_io_executor> loopExecutors() const;

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> shutdownSequence();

  std::shared_ptr<session::ProxyContext> ctx_;
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  // Taken over at construction, before the listener exists: a signal sent once clients can
  // connect waits for run() instead of ending the process (SIGHUP's default action).
  std::unique_ptr<asio::signal_set> signals_;
  std::vector<std::thread> threads_;
  // Parses long statement texts so that no loop stalls on one (ProxyContext::
  // classify_executor). Declared after loops_: destroyed (joined) first, since its work
  // completes on the loops.
  std::unique_ptr<asio::thread_pool> classify_pool_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_loop_ = 0;
  bool stopping_ = false;
  std::function<void()> reload_;
  std::thread reload_thread_;
};

}  // namespace pgro::server
