// What keeps the login path and client buffers from being used to lock others out or to grow
// memory (issue 13 section 5). Pure bookkeeping, no sockets: the accept loop and the sessions
// ask it, and the unit tests drive it with their own clock.
//  - UnauthenticatedLimit: connections from one address that have not logged in yet, bounded
//    per address, so half-open connections from one host cannot take every client slot.
//  - LoginThrottle: failed logins per address; after a few, every further attempt from that
//    address waits (exponential, capped, forgotten over time). The table has a fixed cap.
//  - BufferBudget: bytes of partial client messages buffered by all sessions together.
#pragma once

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pgro::session {

// The key a client address is counted under: the IPv4 address, or the /64 prefix of an IPv6
// address (one host usually holds a whole /64, so counting single IPv6 addresses would not
// bound it).
[[nodiscard]] std::string addressKey(const boost::asio::ip::address& address);

class UnauthenticatedLimit {
 public:
  // 0 = no limit.
  explicit UnauthenticatedLimit(int per_address) : per_address_(per_address) {}

  // One more connection from `address` that has not logged in; false (nothing taken) when
  // the address already holds the limit.
  [[nodiscard]] bool tryAcquire(const std::string& address);
  void release(const std::string& address);
  // Connections from `address` currently counted.
  [[nodiscard]] int count(const std::string& address) const;

  // RAII share of the limit, released at login or when the connection ends.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(UnauthenticatedLimit* owner, std::string address)
        : owner_(owner), address_(std::move(address)) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), address_(std::move(other.address_)) {
      other.owner_ = nullptr;
    }
    Ticket& operator=(Ticket&& other) noexcept {
      if (this != &other) {
        reset();
        owner_ = other.owner_;
        address_ = std::move(other.address_);
        other.owner_ = nullptr;
      }
      return *this;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { reset(); }
    void reset() {
      if (owner_ != nullptr) owner_->release(address_);
      owner_ = nullptr;
    }

   private:
    UnauthenticatedLimit* owner_ = nullptr;
    std::string address_;
  };
  // Fills `ticket` with one share; false (ticket untouched) when over the limit.
  [[nodiscard]] bool acquire(const std::string& address, Ticket& ticket);

 private:
  const int per_address_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> counts_;
};

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    int free_failures = 5;  // failures before any delay
    std::chrono::milliseconds first_delay{250};
    std::chrono::milliseconds max_delay{4000};
    // One remembered failure is forgotten per this much time without new ones.
    std::chrono::seconds forget_every{10};
    std::size_t max_addresses = 10000;  // table cap; the least recently failed entry goes
  };
  LoginThrottle() : LoginThrottle(Settings{}) {}
  explicit LoginThrottle(Settings settings) : settings_(settings) {}

  // How long an authentication attempt from `address` waits before it is answered. Attempts
  // of a throttled address are answered one delay apart, however many run at once: parallel
  // connections do not multiply the guessing rate.
  [[nodiscard]] std::chrono::milliseconds delayFor(const std::string& address,
                                                   Clock::time_point now);
  void recordFailure(const std::string& address, Clock::time_point now);
  [[nodiscard]] std::size_t addresses() const;
  [[nodiscard]] int failures(const std::string& address, Clock::time_point now);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last;         // of the last failure, or of the last decay step
    Clock::time_point next_answer;  // when the last throttled attempt is answered
    std::list<std::string>::iterator order;
  };
  // Applies the decay since entry.last; erases the entry when nothing is left.
  bool decay(std::unordered_map<std::string, Entry>::iterator it, Clock::time_point now);

  const Settings settings_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // most recently failed first
};

class BufferBudget {
 public:
  // 0 = unlimited (still counted).
  explicit BufferBudget(std::size_t limit) : limit_(limit) {}
  // Takes `bytes` more; false (nothing taken) when that would go over the budget.
  [[nodiscard]] bool tryReserve(std::size_t bytes);
  void release(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  [[nodiscard]] std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// Everything the login path and the client buffers share, owned by ProxyContext.
struct LoginGuard {
  LoginGuard(int unauthenticated_per_address, LoginThrottle::Settings throttle_settings,
             std::size_t buffer_budget)
      : unauthenticated(unauthenticated_per_address),
        throttle(throttle_settings),
        budget(buffer_budget) {}
  UnauthenticatedLimit unauthenticated;
  LoginThrottle throttle;
  BufferBudget budget;
};

}  // namespace pgro::session
