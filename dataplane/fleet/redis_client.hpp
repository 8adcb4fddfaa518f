// One connection to Redis (or Valkey) owned by one Asio event loop: hiredis's asynchronous
// context (redisAsyncContext) with a small adapter of our own, so that the socket is waited
// on by the loop (posix::stream_descriptor::async_wait) like every other socket; no thread
// of its own, no thread per request. hiredis's adapter API is five callbacks (addRead,
// delRead, addWrite, delWrite, cleanup); see Watch in redis_client.cpp.
//
// Connecting: AUTH (when the URL has a password), SELECT (when it has a database) and PING
// are queued right after the non-blocking connect; the client is ready when PING answers.
// Until then, and whenever the connection is lost, every command fails at once (a Redis
// that is down costs a caller nothing), and the client connects again with a backoff
// doubling from 100 ms to 5 s. A handshake that does not finish within a second is given up.
//
// Everything here runs on the owning loop: start(), command() and call() must be called
// from it, and callbacks are called on it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/redis_url.hpp"

struct redisAsyncContext;

namespace pgro::fleet {

namespace asio = boost::asio;

struct RedisReply {
  enum class Type : uint8_t { Error, Nil, String, Integer, Status, Array };
  Type type = Type::Error;
  std::string str;  // String, Status, Error (the server's message, or why there was none)
  long long integer = 0;

  [[nodiscard]] bool failed() const { return type == Type::Error; }
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  struct Options {
    RedisUrl url;
    std::chrono::milliseconds timeout{50};  // call()'s bound
    std::size_t max_pending = 4096;         // commands awaiting replies; beyond: failed at once
    // Told why the connection failed or was lost (already deduplicated per outage).
    std::function<void(std::string_view)> on_error;
    std::function<void()> on_ready;  // connected and authenticated
  };
  using Callback = std::function<void(const RedisReply&)>;

  RedisClient(asio::any_io_executor executor, Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();
  // Drops the connection, fails what is pending, and connects no more.
  void stop();

  // Sends `args` (binary-safe); `callback` is called exactly once with the reply, or with an
  // Error when the client is not ready, too many commands are pending or the connection is
  // lost first. It may be called before command() returns.
  void command(const std::vector<std::string_view>& args, Callback callback);

  // Sends the commands back to back and waits for their replies, for at most the timeout:
  // the replies in order, an Error in place of each not there in time.
  asio::awaitable<std::vector<RedisReply>> call(std::vector<std::vector<std::string>> commands);

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] const asio::any_io_executor& executor() const { return executor_; }

 private:
  struct Watch;
  struct Request;

  void connect();
  void lost(std::string_view why);
  void scheduleReconnect();
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);

  asio::any_io_executor executor_;
  Options options_;
  redisAsyncContext* context_ = nullptr;
  std::shared_ptr<Watch> watch_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer handshake_timer_;
  std::chrono::milliseconds backoff_{100};
  std::size_t pending_ = 0;
  bool ready_ = false;
  bool stopped_ = false;
  bool reported_ = false;  // the current outage was reported through on_error
};

}  // namespace pgro::fleet
