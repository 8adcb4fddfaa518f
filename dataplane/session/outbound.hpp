// An ordered byte stream to one connection. Producers append whole messages; one write is in
// flight at a time. Under TLS, plaintext is queued and sealed into records when written (one
// record per flush, not per message). The first attempt is a non-blocking write_some on the
// caller's stack (the common case: the kernel buffer has room), the rest goes to an async writer.
// Producers that can outrun the peer (a large result, a slow client) wait in waitBelow(): that is
// the backpressure that keeps buffering bounded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "net/stream.hpp"
#include "session/lazy_timer.hpp"

namespace pgro::session {

namespace asio = boost::asio;

class Outbound {
 public:
  explicit Outbound(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // `owner` is kept alive while a write is in flight.
  void attach(net::Stream* stream, std::weak_ptr<void> owner) {
    stream_ = stream;
    owner_ = std::move(owner);
    failed_ = false;
  }
  void detach() { stream_ = nullptr; }

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
  [[nodiscard]] std::size_t queued() const {
    return plain_.size() + pending_.size() + inflight_.size();
  }
  // Writes what TLS produced on its own while reading (see net::Stream::hasWirePending).
  void flush() { kick(); }
  [[nodiscard]] bool idle() const { return queued() == 0; }

  // Suspends until at most `limit` bytes are queued, or the stream failed.
  asio::awaitable<void> waitBelow(std::size_t limit);

  // Releases buffer memory above 16 KiB when idle (a busy session keeps what it reuses).
  void trim();
  // Releases all buffer memory when idle: after the login, so idle clients hold no buffers.
  void release();

 private:
  void kick();
  asio::awaitable<void> writeLoop(std::shared_ptr<void> keepalive);
  void notify();

  asio::any_io_executor executor_;
  net::Stream* stream_ = nullptr;
  std::weak_ptr<void> owner_;
  std::string plain_;    // TLS only: plaintext not yet sealed
  std::string pending_;  // wire bytes not yet written
  std::string inflight_;
  bool writing_ = false;
  bool corked_ = false;
  bool failed_ = false;
  std::size_t wait_limit_ = 0;
  bool waiting_ = false;
  LazyTimer event_;  // waitBelow()'s wake-up
};

}  // namespace pgro::session
