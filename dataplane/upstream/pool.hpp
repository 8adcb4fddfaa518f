// The upstream pool: at most `size` server connections shared by all event loops.
//
// Idle connections are kept per loop so a session usually gets one whose socket already
// lives on its own loop; otherwise it steals one from another loop and re-homes the socket.
// The mutex guards only these lists and is held for a few pointer moves, never across I/O.
// Clients wait in FIFO order up to the pool timeout when every connection is busy.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "upstream/server_connection.hpp"

namespace pgro::upstream {

struct PoolStats {
  int size = 0;  // configured maximum
  int open = 0;  // open or opening
  int idle = 0;
  int waiting = 0;  // clients waiting for a connection
  uint64_t connects = 0;
  uint64_t connect_errors = 0;
  uint64_t timeouts = 0;
  uint64_t discarded = 0;
};

class Pool {
 public:
  // How the pool opens a server connection on an executor: ServerConnection::open with the
  // pool's settings unless another is given (the pool's component tests open socket pairs).
  using Connector = std::function<asio::awaitable<ConnectResult>(asio::any_io_executor)>;

  Pool(UpstreamSettings settings, int size, std::chrono::milliseconds wait_timeout, int loops,
       Connector connector = {});

  // A connection living on `executor` (loop index `loop`), or the error for the client:
  // 53300 after the wait timeout, 08006 when the upstream cannot be reached.
  asio::awaitable<ConnectResult> acquire(asio::any_io_executor executor, int loop);

  // Returns a connection. Only a connection in a known clean state (ReadyForQuery 'I',
  // nothing pending) may be reusable; anything else is closed and its slot freed.
  void release(ServerConnectionPtr connection, bool reusable);

  // Closes idle connections (shutdown).
  void closeIdle();

  PoolStats stats() const;

  // The upstream answered last time it was tried (a login or a completed transaction).
  bool upstreamUp() const;
  // A login or a completed transaction within `window`.
  bool recentlyConnected(std::chrono::steady_clock::duration window) const;
  const UpstreamSettings& settings() const { return settings_; }

 private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    ServerConnectionPtr connection;  // handed over by release()
    bool may_connect = false;        // a slot was freed for this waiter to open
    bool served = false;
  };

  ServerConnectionPtr takeIdleLocked(int loop, bool steal);
  void wake(const std::shared_ptr<Waiter>& waiter);
  void freeSlotLocked();
  asio::awaitable<ConnectResult> openNew(asio::any_io_executor executor, int loop);

  const UpstreamSettings settings_;
  const Connector connector_;
  const int size_;
  const std::chrono::milliseconds wait_timeout_;

  mutable std::mutex mu_;
  std::vector<std::vector<ServerConnectionPtr>> idle_;  // per loop
  int open_ = 0;
  int idle_count_ = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_;

  static int64_t nowTicks() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
  std::atomic<int64_t> last_ok_{0};
  std::atomic<int64_t> last_failure_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> connect_errors_{0};
  std::atomic<uint64_t> timeouts_{0};
  std::atomic<uint64_t> discarded_{0};
};

}  // namespace pgro::upstream
