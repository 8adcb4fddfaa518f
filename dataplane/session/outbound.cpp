#include "session/outbound.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace pgro::session {

namespace {
constexpr std::size_t kKeepCapacity = 16 * 1024;
}

void Outbound::append(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  (stream_ != nullptr && stream_->encrypted() ? plain_ : pending_).append(bytes);
  kick();
}

void Outbound::appendOwned(std::string&& bytes) {
  if (failed_ || bytes.empty()) return;
  if (stream_ != nullptr && stream_->encrypted()) {
    plain_.append(bytes);
  } else if (pending_.empty()) {
    pending_.swap(bytes);
  } else {
    pending_.append(bytes);
  }
  kick();
}

void Outbound::kick() {
  if (corked_ || stream_ == nullptr) return;
  if (!plain_.empty() || stream_->hasWirePending()) {
    if (!stream_->seal(plain_, pending_)) {
      failed_ = true;
      plain_.clear();
      pending_.clear();
      notify();
      return;
    }
    plain_.clear();
  }
  if (writing_ || pending_.empty()) return;
  auto& socket = stream_->socket();
  boost::system::error_code ec;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  const std::size_t n = socket.write_some(asio::buffer(pending_), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    failed_ = true;
    pending_.clear();
    notify();
    return;
  }
  if (n == pending_.size()) {
    pending_.clear();
    notify();
    return;
  }
  pending_.erase(0, n);
  writing_ = true;
  asio::co_spawn(executor_, writeLoop(owner_.lock()), asio::detached);
}

asio::awaitable<void> Outbound::writeLoop(std::shared_ptr<void> keepalive) {
  // keepalive holds the owner (the session) until the last write completes.
  (void)keepalive;
  while (!pending_.empty() && stream_ != nullptr && !failed_) {
    inflight_.swap(pending_);
    pending_.clear();
    boost::system::error_code ec;
    co_await asio::async_write(stream_->socket(), asio::buffer(inflight_),
                               asio::redirect_error(asio::use_awaitable, ec));
    inflight_.clear();
    if (ec) {
      failed_ = true;
      pending_.clear();
    }
    notify();
  }
  writing_ = false;
  notify();
}

void Outbound::notify() {
  if (waiting_ && (queued() <= wait_limit_ || failed_)) event_.cancel();
}

asio::awaitable<void> Outbound::waitBelow(std::size_t limit) {
  while (queued() > limit && !failed_) {
    waiting_ = true;
    wait_limit_ = limit;
    auto& event = event_.get(executor_);
    event.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await event.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    waiting_ = false;
  }
}

void Outbound::release() {
  if (!idle()) return;
  std::string().swap(pending_);
  std::string().swap(plain_);
  std::string().swap(inflight_);
}

void Outbound::trim() {
  if (!idle()) return;
  if (pending_.capacity() > kKeepCapacity) std::string().swap(pending_);
  if (plain_.capacity() > kKeepCapacity) std::string().swap(plain_);
  if (inflight_.capacity() > kKeepCapacity) std::string().swap(inflight_);
}

}  // namespace pgro::session
