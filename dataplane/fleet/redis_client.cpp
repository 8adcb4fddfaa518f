#include "fleet/redis_client.hpp"

#include <async.h>
#include <hiredis.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgro::fleet {

namespace {
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kHandshakeTimeout = std::chrono::milliseconds(1000);

RedisReply convert(const redisReply* r) {
  RedisReply out;
  if (r == nullptr) {
    out.str = "connection lost";
    return out;
  }
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = RedisReply::Type::Nil;
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;  // not used by pgro: elements are not kept
      break;
    default:
      out.type = RedisReply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
  }
  return out;
}
}  // namespace

// The adapter between hiredis and the loop. hiredis says when it wants to read or write
// (addRead/delRead/addWrite/delWrite) and when the context goes (cleanup); a wait is kept
// armed on the socket while hiredis wants it, and its completion calls redisAsyncHandleRead
// or redisAsyncHandleWrite. Those may free the context (a lost connection): cleanup then
// clears `context` first, so a completion never touches a freed context. The descriptor is
// released, not closed, at cleanup: the socket is hiredis's, which closes it.
struct RedisClient::Watch : std::enable_shared_from_this<RedisClient::Watch> {
  Watch(const asio::any_io_executor& executor, int fd, redisAsyncContext* ac)
      : descriptor(executor, fd), context(ac) {}

  asio::posix::stream_descriptor descriptor;
  redisAsyncContext* context;
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;

  void armRead() {
    if (read_armed || context == nullptr || !want_read) return;
    read_armed = true;
    descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            self->read_armed = false;
                            if (ec || self->context == nullptr || !self->want_read) return;
                            redisAsyncHandleRead(self->context);
                            self->armRead();
                          });
  }
  void armWrite() {
    if (write_armed || context == nullptr || !want_write) return;
    write_armed = true;
    descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            self->write_armed = false;
                            if (ec || self->context == nullptr || !self->want_write) return;
                            redisAsyncHandleWrite(self->context);
                            self->armWrite();
                          });
  }

  static void addRead(void* data) {
    auto* w = static_cast<Watch*>(data);
    w->want_read = true;
    w->armRead();
  }
  static void delRead(void* data) { static_cast<Watch*>(data)->want_read = false; }
  static void addWrite(void* data) {
    auto* w = static_cast<Watch*>(data);
    w->want_write = true;
    w->armWrite();
  }
  static void delWrite(void* data) { static_cast<Watch*>(data)->want_write = false; }
  static void cleanup(void* data) {
    auto* w = static_cast<Watch*>(data);
    w->context = nullptr;
    w->want_read = w->want_write = false;
    boost::system::error_code ec;
    w->descriptor.cancel(ec);
    (void)w->descriptor.release();
  }
};

struct RedisClient::Request {
  RedisClient* client;
  Callback callback;
  bool counted;  // in pending_ (commands of callers, not the handshake's)
};

RedisClient::RedisClient(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      reconnect_timer_(executor_),
      handshake_timer_(executor_) {}

RedisClient::~RedisClient() {
  stop();
}

void RedisClient::start() {
  stopped_ = false;
  connect();
}

void RedisClient::stop() {
  stopped_ = true;
  reconnect_timer_.cancel();
  handshake_timer_.cancel();
  if (redisAsyncContext* ac = std::exchange(context_, nullptr)) {
    ac->data = nullptr;  // no onDisconnect work for a client that is going away
    redisAsyncFree(ac);  // pending callbacks are called with no reply
  }
  watch_.reset();
  ready_ = false;
}

void RedisClient::connect() {
  if (stopped_ || context_ != nullptr) return;
  redisAsyncContext* ac = redisAsyncConnect(options_.url.host.c_str(), options_.url.port);
  if (ac == nullptr) {
    lost("out of memory");
    return;
  }
  if (ac->err != 0) {
    const std::string why = ac->errstr;
    redisAsyncFree(ac);
    lost(why);
    return;
  }
  context_ = ac;
  ac->data = this;
  watch_ = std::make_shared<Watch>(executor_, ac->c.fd, ac);
  ac->ev.data = watch_.get();
  ac->ev.addRead = &Watch::addRead;
  ac->ev.delRead = &Watch::delRead;
  ac->ev.addWrite = &Watch::addWrite;
  ac->ev.delWrite = &Watch::delWrite;
  ac->ev.cleanup = &Watch::cleanup;
  redisAsyncSetConnectCallback(ac, &RedisClient::onConnect);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::onDisconnect);

  // The handshake, queued now and sent once connected. Only PING's reply makes the client
  // ready; a failed AUTH or SELECT drops the connection (tried again after the backoff).
  auto send = [this, ac](std::vector<std::string> args, Callback callback) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* request = new Request{this, std::move(callback), false};
    if (redisAsyncCommandArgv(ac, &RedisClient::onReply, request, static_cast<int>(argv.size()),
                              argv.data(), lens.data()) != REDIS_OK) {
      delete request;
    }
  };
  auto check = [this, ac](std::string what) {
    return [this, ac, what = std::move(what)](const RedisReply& reply) {
      if (!reply.failed() || context_ != ac) return;
      lost(what + " failed: " + reply.str);
    };
  };
  const RedisUrl& url = options_.url;
  if (!url.password.empty()) {
    if (url.user.empty()) {
      send({"AUTH", url.password}, check("AUTH"));
    } else {
      send({"AUTH", url.user, url.password}, check("AUTH"));
    }
  }
  if (url.db != 0) send({"SELECT", std::to_string(url.db)}, check("SELECT"));
  send({"PING"}, [this, ac](const RedisReply& reply) {
    if (context_ != ac || reply.failed()) return;
    ready_ = true;
    reported_ = false;
    backoff_ = std::chrono::milliseconds(100);
    handshake_timer_.cancel();
    if (options_.on_ready) options_.on_ready();
  });
  handshake_timer_.expires_after(kHandshakeTimeout);
  handshake_timer_.async_wait([weak = weak_from_this(), ac](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->context_ != ac || self->ready_) return;
    self->lost("no answer within " + std::to_string(kHandshakeTimeout.count()) + " ms");
  });
}

void RedisClient::lost(std::string_view why) {
  ready_ = false;
  handshake_timer_.cancel();
  if (redisAsyncContext* ac = std::exchange(context_, nullptr)) {
    // Still ours (not being freed by hiredis): free it; its pending callbacks fail.
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  watch_.reset();
  if (!reported_ && options_.on_error) options_.on_error(why);
  reported_ = true;
  scheduleReconnect();
}

void RedisClient::scheduleReconnect() {
  if (stopped_) return;
  reconnect_timer_.expires_after(backoff_);
  backoff_ =
      std::min(backoff_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
  reconnect_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->connect();
  });
}

void RedisClient::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (status == REDIS_OK || self == nullptr) return;
  // hiredis frees the context after this callback: it is not ours to free.
  const std::string why = ac->errstr;
  self->context_ = nullptr;
  self->lost(why);
}

void RedisClient::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (self == nullptr) return;
  const std::string why = status == REDIS_OK ? "closed" : ac->errstr;
  self->context_ = nullptr;  // being freed by hiredis
  // Reconnecting is posted: hiredis is still inside its own free.
  asio::post(self->executor_, [weak = self->weak_from_this(), why] {
    if (auto client = weak.lock()) client->lost(why);
  });
  self->ready_ = false;
}

void RedisClient::onReply(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<Request> request(static_cast<Request*>(privdata));
  if (request->counted) --request->client->pending_;
  request->callback(convert(static_cast<const redisReply*>(reply)));
}

void RedisClient::command(const std::vector<std::string_view>& args, Callback callback) {
  RedisReply refused;
  if (!ready_ || context_ == nullptr) {
    refused.str = "not connected";
    callback(refused);
    return;
  }
  if (pending_ >= options_.max_pending) {
    refused.str = "too many commands pending";
    callback(refused);
    return;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* request = new Request{this, std::move(callback), true};
  ++pending_;
  if (redisAsyncCommandArgv(context_, &RedisClient::onReply, request, static_cast<int>(argv.size()),
                            argv.data(), lens.data()) != REDIS_OK) {
    --pending_;
    std::unique_ptr<Request> owned(request);
    refused.str = "connection closing";
    owned->callback(refused);
  }
}

asio::awaitable<std::vector<RedisReply>> RedisClient::call(
    std::vector<std::vector<std::string>> commands) {
  struct Wait {
    explicit Wait(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::vector<RedisReply> replies;
    std::size_t remaining = 0;
  };
  auto wait = std::make_shared<Wait>(executor_);
  wait->replies.resize(commands.size());
  wait->remaining = commands.size();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    std::vector<std::string_view> args(commands[i].begin(), commands[i].end());
    command(args, [wait, i](const RedisReply& reply) {
      wait->replies[i] = reply;
      if (--wait->remaining == 0) wait->timer.cancel();
    });
  }
  if (wait->remaining > 0) {
    wait->timer.expires_after(options_.timeout);
    boost::system::error_code ec;
    co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::vector<RedisReply> out = wait->replies;
  if (wait->remaining > 0) {
    // Late replies still land in `wait` (kept alive by their callbacks), not in `out`.
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].failed() && out[i].str.empty()) out[i].str = "timed out";
    }
  }
  co_return out;
}

}  // namespace pgro::fleet
