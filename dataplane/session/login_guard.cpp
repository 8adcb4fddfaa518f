#include "session/login_guard.hpp"

#include <algorithm>

namespace pgro::session {

std::string addressKey(const boost::asio::ip::address& address) {
  if (address.is_v6()) {
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
      return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    }
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return address.to_string();
}

bool UnauthenticatedLimit::tryAcquire(const std::string& address) {
  std::lock_guard lock(mu_);
  int& n = counts_[address];
  if (per_address_ > 0 && n >= per_address_) return false;
  ++n;
  return true;
}

void UnauthenticatedLimit::release(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(address);
  if (it == counts_.end()) return;
  if (--it->second <= 0) counts_.erase(it);
}

int UnauthenticatedLimit::count(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(address);
  return it == counts_.end() ? 0 : it->second;
}

bool UnauthenticatedLimit::acquire(const std::string& address, Ticket& ticket) {
  if (!tryAcquire(address)) return false;
  ticket = Ticket(this, address);
  return true;
}

bool LoginThrottle::decay(std::unordered_map<std::string, Entry>::iterator it,
                          Clock::time_point now) {
  Entry& e = it->second;
  if (now > e.last && settings_.forget_every.count() > 0) {
    const auto steps = (now - e.last) / settings_.forget_every;
    if (steps >= e.failures) {
      order_.erase(e.order);
      entries_.erase(it);
      return false;
    }
    e.failures -= static_cast<int>(steps);
    e.last += steps * settings_.forget_every;
  }
  return true;
}

std::chrono::milliseconds LoginThrottle::delayFor(const std::string& address,
                                                  Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || !decay(it, now)) return std::chrono::milliseconds(0);
  const int over = it->second.failures - settings_.free_failures;
  if (over <= 0) return std::chrono::milliseconds(0);
  // first_delay * 2^(over-1), capped; the shift is bounded so it cannot overflow.
  const int shift = std::min(over - 1, 20);
  const auto delay = std::min(settings_.first_delay * (int64_t{1} << shift), settings_.max_delay);
  if (delay.count() <= 0) return std::chrono::milliseconds(0);
  Entry& e = it->second;
  e.next_answer = std::max(now, e.next_answer) + delay;
  return std::chrono::ceil<std::chrono::milliseconds>(e.next_answer - now);
}

void LoginThrottle::recordFailure(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it != entries_.end() && decay(it, now)) {
    Entry& e = it->second;
    // Bounded: beyond the point where the delay is at its cap, more failures change nothing
    // but how long the address takes to be forgiven.
    e.failures = std::min(e.failures + 1, settings_.free_failures + 64);
    e.last = now;
    order_.splice(order_.begin(), order_, e.order);
    return;
  }
  if (entries_.size() >= settings_.max_addresses && !order_.empty()) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(address);
  entries_.emplace(address, Entry{.failures = 1, .last = now, .order = order_.begin()});
}

std::size_t LoginThrottle::addresses() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

int LoginThrottle::failures(const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || !decay(it, now)) return 0;
  return it->second.failures;
}

bool BufferBudget::tryReserve(std::size_t bytes) {
  std::size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (limit_ > 0 && (bytes > limit_ || used > limit_ - bytes)) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

}  // namespace pgro::session
