// An ordered byte stream to one socket. Producers append whole messages; one write is in
// flight at a time. The first attempt is a non-blocking write_some on the caller's stack (the
// common case: the kernel buffer has room), the rest goes to an async writer. Producers that
// can outrun the peer (a large result, a slow client) wait in waitBelow(): that is the
// backpressure that keeps buffering bounded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <string_view>

namespace pgro::session {

namespace asio = boost::asio;

class Outbound {
 public:
  explicit Outbound(asio::any_io_executor executor) : executor_(executor), event_(executor) {}

  // `owner` is kept alive while a write is in flight.
  void attach(asio::ip::tcp::socket* socket, std::weak_ptr<void> owner) {
    socket_ = socket;
    owner_ = std::move(owner);
    failed_ = false;
  }
  void detach() { socket_ = nullptr; }

  void append(std::string_view bytes);

  // While corked, appends only queue; uncork() writes everything queued with one syscall.
  // A producer that emits several messages from one input batch corks around it.
  void cork() { corked_ = true; }
  void uncork() {
    corked_ = false;
    kick();
  }
  // Takes ownership of a buffer (no copy when nothing is queued).
  void appendOwned(std::string&& bytes);

  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::size_t queued() const { return pending_.size() + inflight_.size(); }
  [[nodiscard]] bool idle() const { return queued() == 0; }

  // Suspends until at most `limit` bytes are queued, or the stream failed.
  asio::awaitable<void> waitBelow(std::size_t limit);

  // Releases buffer memory when idle (idle clients hold no buffers).
  void trim();

 private:
  void kick();
  asio::awaitable<void> writeLoop(std::shared_ptr<void> keepalive);
  void notify();

  asio::any_io_executor executor_;
  asio::ip::tcp::socket* socket_ = nullptr;
  std::weak_ptr<void> owner_;
  std::string pending_;
  std::string inflight_;
  bool writing_ = false;
  bool corked_ = false;
  bool failed_ = false;
  std::size_t wait_limit_ = 0;
  bool waiting_ = false;
  asio::steady_timer event_;
};

}  // namespace pgro::session
