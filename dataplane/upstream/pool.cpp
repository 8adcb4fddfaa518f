#include "upstream/pool.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/sqlstate.hpp"

namespace pgro::upstream {

namespace {
// An idle connection unused for longer than this is probed before reuse.
constexpr auto kProbeAfterIdle = std::chrono::milliseconds(200);
}  // namespace

Pool::Pool(UpstreamSettings settings, int size, std::chrono::milliseconds wait_timeout, int loops,
           Connector connector)
    : settings_(std::move(settings)),
      connector_(connector ? std::move(connector)
                           : Connector([this](asio::any_io_executor executor) {
                               return ServerConnection::open(std::move(executor), settings_);
                             })),
      size_(size),
      wait_timeout_(wait_timeout),
      idle_(static_cast<std::size_t>(std::max(loops, 1))) {}

ServerConnectionPtr Pool::takeIdleLocked(int loop, bool steal) {
  auto take_from = [&](std::vector<ServerConnectionPtr>& list) -> ServerConnectionPtr {
    if (list.empty()) return nullptr;
    auto c = std::move(list.back());
    list.pop_back();
    --idle_count_;
    return c;
  };
  if (loop >= 0 && static_cast<std::size_t>(loop) < idle_.size()) {
    if (auto c = take_from(idle_[static_cast<std::size_t>(loop)])) return c;
  }
  if (!steal) return nullptr;
  for (auto& list : idle_) {
    if (auto c = take_from(list)) return c;
  }
  return nullptr;
}

void Pool::freeSlotLocked() {
  // The first waiter, if any, takes the slot over and opens a connection itself.
  if (waiters_.empty()) {
    --open_;
    return;
  }
  auto w = waiters_.front();
  waiters_.pop_front();
  w->may_connect = true;
  wake(w);
}

void Pool::wake(const std::shared_ptr<Waiter>& waiter) {
  waiter->served = true;
  asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

asio::awaitable<ConnectResult> Pool::openNew(asio::any_io_executor executor, int loop) {
  auto result = co_await connector_(executor);
  if (result.connection) {
    connects_.fetch_add(1, std::memory_order_relaxed);
    last_ok_.store(nowTicks(), std::memory_order_relaxed);
    result.connection->setHomeLoop(loop);
  } else {
    connect_errors_.fetch_add(1, std::memory_order_relaxed);
    last_failure_.store(nowTicks(), std::memory_order_relaxed);
    spdlog::warn("upstream connection failed: {}", result.error.message);
    // Give the slot back; a waiter may try in its turn.
    std::lock_guard lock(mu_);
    freeSlotLocked();
  }
  co_return result;
}

asio::awaitable<ConnectResult> Pool::acquire(asio::any_io_executor executor, int loop) {
  while (true) {
    ServerConnectionPtr conn;
    std::shared_ptr<Waiter> waiter;
    {
      std::lock_guard lock(mu_);
      // Prefer a connection already on this loop; below the pool size, open one here rather
      // than steal another loop's (re-homing a socket costs two epoll_ctl calls and a hop).
      conn = takeIdleLocked(loop, false);
      if (!conn && open_ >= size_) conn = takeIdleLocked(loop, true);
      if (!conn) {
        if (open_ < size_) {
          ++open_;
        } else {
          waiter = std::make_shared<Waiter>(executor);
          waiters_.push_back(waiter);
        }
      }
    }
    if (!conn && !waiter) co_return co_await openNew(executor, loop);
    if (waiter) {
      waiter->timer.expires_after(wait_timeout_);
      boost::system::error_code ec;
      co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      {
        std::lock_guard lock(mu_);
        if (!waiter->served) {
          std::erase(waiters_, waiter);
          timeouts_.fetch_add(1, std::memory_order_relaxed);
          ConnectResult r;
          r.error = {.severity = "ERROR",
                     .sqlstate = std::string(protocol::sqlstate::kTooManyConnections),
                     .message = "pgro: no upstream connection available: pool of " +
                                std::to_string(size_) + " busy for " +
                                std::to_string(wait_timeout_.count() / 1000) +
                                " s (POOL_TIMEOUT_SECONDS)",
                     .hint = "Retry later, or raise POOL_SIZE or POOL_TIMEOUT_SECONDS."};
          co_return r;
        }
      }
      if (waiter->may_connect) co_return co_await openNew(executor, loop);
      conn = std::move(waiter->connection);
    }
    // A connection idle for a while may have been closed by the server meanwhile.
    if (std::chrono::steady_clock::now() - conn->lastUsed() > kProbeAfterIdle &&
        conn->hasUnexpectedInput()) {
      release(std::move(conn), false);
      continue;
    }
    conn->rebind(executor);
    if (conn->broken()) {
      release(std::move(conn), false);
      continue;
    }
    conn->setHomeLoop(loop);
    ConnectResult r;
    r.connection = std::move(conn);
    co_return r;
  }
}

void Pool::release(ServerConnectionPtr connection, bool reusable) {
  if (!connection) return;
  if (!reusable || connection->broken()) {
    connection->close();
    discarded_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    freeSlotLocked();
    return;
  }
  connection->touch();
  last_ok_.store(nowTicks(), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (!waiters_.empty()) {
    auto w = waiters_.front();
    waiters_.pop_front();
    w->connection = std::move(connection);
    wake(w);
    return;
  }
  const int loop = connection->homeLoop();
  auto& list = idle_[loop >= 0 && static_cast<std::size_t>(loop) < idle_.size()
                         ? static_cast<std::size_t>(loop)
                         : 0];
  list.push_back(std::move(connection));
  ++idle_count_;
}

void Pool::closeIdle() {
  std::vector<ServerConnectionPtr> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto& list : idle_) {
      for (auto& c : list) doomed.push_back(std::move(c));
      list.clear();
    }
    open_ -= static_cast<int>(doomed.size());
    idle_count_ = 0;
  }
  // Sockets belong to their loops; closing a socket with no pending operation is safe here.
  for (auto& c : doomed) c->close();
}

bool Pool::upstreamUp() const {
  return last_ok_.load(std::memory_order_relaxed) >= last_failure_.load(std::memory_order_relaxed);
}

bool Pool::recentlyConnected(std::chrono::steady_clock::duration window) const {
  const int64_t ok = last_ok_.load(std::memory_order_relaxed);
  return ok != 0 && upstreamUp() && nowTicks() - ok < window.count();
}

PoolStats Pool::stats() const {
  PoolStats s;
  {
    std::lock_guard lock(mu_);
    s.size = size_;
    s.open = open_;
    s.idle = idle_count_;
    s.waiting = static_cast<int>(waiters_.size());
  }
  s.connects = connects_.load(std::memory_order_relaxed);
  s.connect_errors = connect_errors_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.discarded = discarded_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace pgro::upstream
