// The upstream pool as a component: waits, timeouts, FIFO order, stealing across loops and
// discarding dead connections, with server connections over loopback socket pairs (the
// connector seam) instead of PostgreSQL.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/sqlstate.hpp"
#include "upstream/pool.hpp"

namespace pgro::upstream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Opens "server connections" whose far ends the test holds, and can be told to fail.
class FakeUpstream {
 public:
  FakeUpstream() : acceptor_(accept_io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}

  Pool::Connector connector() {
    return [this](asio::any_io_executor executor) -> asio::awaitable<ConnectResult> {
      ConnectResult result;
      ++attempts;
      if (fail) {
        result.error = {.severity = "FATAL", .sqlstate = "08006", .message = "refused"};
        co_return result;
      }
      tcp::socket near(executor);
      near.connect(acceptor_.local_endpoint());
      far.push_back(acceptor_.accept());
      result.connection = std::make_shared<ServerConnection>(std::move(near), 10);
      co_return result;
    };
  }

  int attempts = 0;
  bool fail = false;
  std::vector<tcp::socket> far;  // the server ends, in order of opening

 private:
  asio::io_context accept_io_;
  tcp::acceptor acceptor_;
};

// One acquire, run as its own coroutine so several can wait at once.
struct Borrow {
  std::optional<ConnectResult> result;
  int order = 0;  // when it completed, among all borrows of the test (1 = first)
};

class UpstreamPool : public ::testing::Test {
 protected:
  Pool make(int size, std::chrono::milliseconds timeout = 2000ms, int loops = 1) {
    return Pool(UpstreamSettings{}, size, timeout, loops, upstream_.connector());
  }

  void borrow(Pool& pool, asio::io_context& io, int loop, Borrow& out) {
    asio::co_spawn(
        io,
        [&pool, &io, loop, &out, this]() -> asio::awaitable<void> {
          out.result = co_await pool.acquire(io.get_executor(), loop);
          out.order = ++completed_;
        },
        asio::detached);
  }

  // Runs `io` until every handler is done (waiters still waiting keep it busy: callers
  // release or let the wait time out first).
  static void settle(asio::io_context& io) {
    io.restart();
    io.run();
  }
  // Runs only the handlers that are ready now.
  static void poll(asio::io_context& io) {
    io.restart();
    io.poll();
  }

  FakeUpstream upstream_;
  int completed_ = 0;
};

TEST_F(UpstreamPool, OpensUpToItsSizeThenReusesWhatIsReleased) {
  asio::io_context io;
  auto pool = make(2);
  Borrow a, b;
  borrow(pool, io, 0, a);
  borrow(pool, io, 0, b);
  settle(io);
  ASSERT_TRUE(a.result && a.result->connection);
  ASSERT_TRUE(b.result && b.result->connection);
  EXPECT_EQ(upstream_.attempts, 2);
  EXPECT_EQ(pool.stats().open, 2);
  EXPECT_EQ(pool.stats().idle, 0);

  auto* first = a.result->connection.get();
  pool.release(std::move(a.result->connection), true);
  EXPECT_EQ(pool.stats().idle, 1);
  Borrow c;
  borrow(pool, io, 0, c);
  settle(io);
  ASSERT_TRUE(c.result && c.result->connection);
  EXPECT_EQ(c.result->connection.get(), first);
  EXPECT_EQ(upstream_.attempts, 2) << "a released connection is reused, not a new one opened";
}

TEST_F(UpstreamPool, AFullPoolMakesTheNextClientWaitForARelease) {
  asio::io_context io;
  auto pool = make(1);
  Borrow a, b;
  borrow(pool, io, 0, a);
  settle(io);
  ASSERT_TRUE(a.result && a.result->connection);
  borrow(pool, io, 0, b);
  poll(io);
  EXPECT_FALSE(b.result.has_value()) << "the pool is full: the second client waits";
  EXPECT_EQ(pool.stats().waiting, 1);

  auto* held = a.result->connection.get();
  pool.release(std::move(a.result->connection), true);
  settle(io);
  ASSERT_TRUE(b.result && b.result->connection);
  EXPECT_EQ(b.result->connection.get(), held) << "handed over directly";
  EXPECT_EQ(pool.stats().waiting, 0);
  EXPECT_EQ(upstream_.attempts, 1);
}

TEST_F(UpstreamPool, AWaiterGives53300AfterTheTimeoutAndLeavesTheQueue) {
  asio::io_context io;
  auto pool = make(1, 50ms);
  Borrow a, b;
  borrow(pool, io, 0, a);
  settle(io);
  borrow(pool, io, 0, b);
  settle(io);  // returns once the wait timed out
  ASSERT_TRUE(b.result.has_value());
  EXPECT_EQ(b.result->connection, nullptr);
  EXPECT_EQ(b.result->error.sqlstate, protocol::sqlstate::kTooManyConnections);
  EXPECT_NE(b.result->error.message.find("POOL_TIMEOUT_SECONDS"), std::string::npos);
  EXPECT_EQ(pool.stats().waiting, 0);
  EXPECT_EQ(pool.stats().timeouts, 1u);

  // The slot is still a's; once released, the next client gets it without waiting.
  pool.release(std::move(a.result->connection), true);
  Borrow c;
  borrow(pool, io, 0, c);
  settle(io);
  ASSERT_TRUE(c.result && c.result->connection);
}

TEST_F(UpstreamPool, WaitersAreServedInTheOrderTheyCame) {
  asio::io_context io;
  auto pool = make(1);
  Borrow holder;
  borrow(pool, io, 0, holder);
  settle(io);
  std::vector<Borrow> waiting(4);
  for (auto& w : waiting) {
    borrow(pool, io, 0, w);
    poll(io);
  }
  EXPECT_EQ(pool.stats().waiting, 4);

  auto connection = std::move(holder.result->connection);
  for (std::size_t served = 0; served < waiting.size(); ++served) {
    pool.release(std::move(connection), true);
    poll(io);
    // Exactly the oldest waiter not yet served has the connection now.
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      EXPECT_EQ(waiting[i].result.has_value(), i <= served) << "after release " << served;
    }
    ASSERT_TRUE(waiting[served].result && waiting[served].result->connection);
    connection = std::move(waiting[served].result->connection);
  }
  EXPECT_EQ(waiting[0].order, 2);
  EXPECT_EQ(waiting[3].order, 5);
  EXPECT_EQ(upstream_.attempts, 1);
}

TEST_F(UpstreamPool, AFreedSlotLetsTheFirstWaiterOpenANewConnection) {
  asio::io_context io;
  auto pool = make(1);
  Borrow a, b;
  borrow(pool, io, 0, a);
  settle(io);
  borrow(pool, io, 0, b);
  poll(io);
  pool.release(std::move(a.result->connection), false);  // not reusable: closed
  settle(io);
  ASSERT_TRUE(b.result && b.result->connection);
  EXPECT_EQ(upstream_.attempts, 2);
  EXPECT_EQ(pool.stats().discarded, 1u);
  EXPECT_EQ(pool.stats().open, 1);
}

TEST_F(UpstreamPool, AFailedConnectGivesItsSlotBack) {
  asio::io_context io;
  auto pool = make(1);
  upstream_.fail = true;
  Borrow a;
  borrow(pool, io, 0, a);
  settle(io);
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(a.result->connection, nullptr);
  EXPECT_EQ(a.result->error.sqlstate, "08006");
  EXPECT_EQ(pool.stats().open, 0);
  EXPECT_EQ(pool.stats().connect_errors, 1u);
  EXPECT_FALSE(pool.upstreamUp());

  upstream_.fail = false;
  Borrow b;
  borrow(pool, io, 0, b);
  settle(io);
  ASSERT_TRUE(b.result && b.result->connection) << "the failed attempt did not keep the slot";
  EXPECT_TRUE(pool.upstreamUp());
}

TEST_F(UpstreamPool, AConnectionTheServerClosedWhileIdleIsDiscardedNotLent) {
  asio::io_context io;
  auto pool = make(1);
  Borrow a;
  borrow(pool, io, 0, a);
  settle(io);
  std::weak_ptr<ServerConnection> dead = a.result->connection;
  pool.release(std::move(a.result->connection), true);
  upstream_.far.front().close();       // the server ends the idle session
  std::this_thread::sleep_for(250ms);  // idle long enough to be probed before reuse

  Borrow b;
  borrow(pool, io, 0, b);
  settle(io);
  ASSERT_TRUE(b.result && b.result->connection);
  EXPECT_TRUE(dead.expired()) << "the dead connection was dropped (its memory may be reused)";
  EXPECT_FALSE(b.result->connection->hasUnexpectedInput());
  EXPECT_EQ(upstream_.attempts, 2);
  EXPECT_EQ(pool.stats().discarded, 1u);
  EXPECT_EQ(pool.stats().open, 1);
}

TEST_F(UpstreamPool, ALoopPrefersItsOwnIdleConnectionsAndStealsOnlyWhenFull) {
  asio::io_context loop0, loop1;
  auto pool = make(2, 2000ms, 2);
  Borrow a;
  borrow(pool, loop0, 0, a);
  settle(loop0);
  auto* on_loop0 = a.result->connection.get();
  pool.release(std::move(a.result->connection), true);

  // Below the pool size, loop 1 opens its own rather than re-homing loop 0's socket.
  Borrow b;
  borrow(pool, loop1, 1, b);
  settle(loop1);
  ASSERT_TRUE(b.result && b.result->connection);
  EXPECT_NE(b.result->connection.get(), on_loop0);
  EXPECT_EQ(upstream_.attempts, 2);

  // At the pool size, loop 1 takes loop 0's idle connection, moved onto its own loop.
  Borrow c;
  borrow(pool, loop1, 1, c);
  settle(loop1);
  ASSERT_TRUE(c.result && c.result->connection);
  EXPECT_EQ(c.result->connection.get(), on_loop0);
  EXPECT_EQ(c.result->connection->homeLoop(), 1);
  EXPECT_TRUE(c.result->connection->socket().get_executor() == loop1.get_executor());
  EXPECT_FALSE(c.result->connection->broken());
  EXPECT_EQ(upstream_.attempts, 2);

  // Released, it is idle on loop 1 now, where loop 1 finds it first.
  pool.release(std::move(c.result->connection), true);
  Borrow d;
  borrow(pool, loop1, 1, d);
  settle(loop1);
  ASSERT_TRUE(d.result && d.result->connection);
  EXPECT_EQ(d.result->connection.get(), on_loop0);
}

TEST_F(UpstreamPool, CloseIdleClosesOnlyIdleConnections) {
  asio::io_context io;
  auto pool = make(2);
  Borrow a, b;
  borrow(pool, io, 0, a);
  borrow(pool, io, 0, b);
  settle(io);
  pool.release(std::move(a.result->connection), true);
  pool.closeIdle();
  EXPECT_EQ(pool.stats().idle, 0);
  EXPECT_EQ(pool.stats().open, 1);
  EXPECT_FALSE(b.result->connection->broken());
}

}  // namespace
}  // namespace pgro::upstream
