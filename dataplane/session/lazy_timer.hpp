// A steady_timer made on first use. A session has several timers (statement, idle, read-back,
// backpressure) that most sessions never arm; an idle client should not carry 112 bytes for
// each of them, only this pointer.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace pgro::session {

class LazyTimer {
 public:
  // The timer, made on `executor` the first time.
  boost::asio::steady_timer& get(const boost::asio::any_io_executor& executor) {
    if (timer_ == nullptr) timer_ = std::make_unique<boost::asio::steady_timer>(executor);
    return *timer_;
  }
  // Cancels its waits, if it was ever made.
  void cancel() {
    if (timer_ != nullptr) timer_->cancel();
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace pgro::session
