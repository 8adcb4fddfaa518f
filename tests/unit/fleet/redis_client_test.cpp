// RedisClient on a real io_context against local sockets: a port nobody listens on (Redis
// down) and a listener that accepts and never answers (Redis hung). Either way a command
// fails within the timeout and the loop is never blocked.
#include "fleet/redis_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

namespace pgro::fleet {
namespace {

using namespace std::chrono_literals;

uint16_t closedPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes
}

TEST(RedisClientTest, DownRedisFailsAtOnceAndIsReported) {
  asio::io_context io;
  std::vector<std::string> errors;
  RedisClient::Options options;
  options.url.host = "127.0.0.1";
  options.url.port = closedPort();
  options.timeout = 50ms;
  options.on_error = [&](std::string_view why) { errors.emplace_back(why); };
  auto client = std::make_shared<RedisClient>(io.get_executor(), options);
  client->start();
  io.run_for(300ms);  // refused, then reconnects with a backoff: reported once per outage
  EXPECT_FALSE(client->ready());
  EXPECT_EQ(errors.size(), 1u);

  bool called = false;
  client->command({"GET", "k"}, [&](const RedisReply& reply) {
    called = true;
    EXPECT_TRUE(reply.failed());
    EXPECT_EQ(reply.str, "not connected");
  });
  EXPECT_TRUE(called);  // at once, not after a timeout
  client->stop();
}

TEST(RedisClientTest, HungRedisIsGivenUpAfterTheHandshakeTimeout) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<asio::ip::tcp::socket> accepted;
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      accepted.push_back(std::move(s));  // never answers
      accept();
    });
  };
  accept();
  std::vector<std::string> errors;
  RedisClient::Options options;
  options.url.host = "127.0.0.1";
  options.url.port = acceptor.local_endpoint().port();
  options.url.password = "secret";
  options.timeout = 40ms;
  options.on_error = [&](std::string_view why) { errors.emplace_back(why); };
  auto client = std::make_shared<RedisClient>(io.get_executor(), options);
  client->start();
  io.run_for(200ms);
  EXPECT_FALSE(client->ready());  // AUTH and PING never answered
  EXPECT_GE(accepted.size(), 1u);
  io.run_for(1200ms);  // the handshake's second passes: given up, connected again later
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("no answer"), std::string::npos) << errors[0];

  // call() is bounded by the timeout whatever happens.
  auto start = std::chrono::steady_clock::now();
  auto future = asio::co_spawn(io, client->call({{"GET", "k"}}), asio::use_future);
  io.run_for(200ms);
  ASSERT_EQ(future.wait_for(0s), std::future_status::ready);
  auto replies = future.get();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].failed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  client->stop();
}

}  // namespace
}  // namespace pgro::fleet
