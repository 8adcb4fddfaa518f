// Coalescing of concurrent identical cache misses (DESIGN.md section 4): when a dashboard
// refreshes twenty panels at once, one query goes upstream and the others wait for its reply.
//
// Executor-agnostic: the first caller for a key becomes the leader; later callers leave a
// callback, which the leader's finish() runs on the leader's thread, outside every lock. The
// session posts the reply onto the waiting client's own event loop from there.
//
// Keys are sharded over mutexes by hash, like the cache. finish() removes the key before it
// calls anyone, so a waiter (or anyone else) calling joinOrLead() for the same key from
// inside its callback starts a new flight.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/result_cache.hpp"

namespace pgro::cache {

class InFlight {
 public:
  // nullptr: the leader failed or the reply was not cacheable; the waiter should run the
  // query itself. Waiters should not throw (see finish()).
  using Waiter = std::function<void(std::shared_ptr<const CachedReply> reply)>;

  class Leader;

  explicit InFlight(std::size_t shards = 16);
  ~InFlight();
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

  // true: the caller leads (`waiter` is dropped unused) and must call finish(key, ...)
  // exactly once (a Leader does it on every path). false: `waiter` was queued and will be
  // called exactly once, from inside the leader's finish().
  [[nodiscard]] bool joinOrLead(std::string_view key, Waiter waiter);

  // Ends the flight for `key`: calls every waiter once with `reply`, outside the lock, in the
  // order they joined. A key not in flight is ignored. Should a waiter throw, the others are
  // still called, then the first exception is rethrown.
  void finish(std::string_view key, const std::shared_ptr<const CachedReply>& reply);

  [[nodiscard]] std::size_t size() const;         // keys in flight
  [[nodiscard]] std::uint64_t coalesced() const;  // waiters called so far

 private:
  struct Shard;

  [[nodiscard]] Shard& shardFor(std::size_t hash) const;

  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> coalesced_{0};
};

// The leader's side of a flight as an RAII guard, made right after joinOrLead() returned
// true: ends the flight with nullptr when destroyed without finish(), so an early return, an
// error or a destroyed coroutine never strands the waiters. Movable, not copyable. A waiter
// that throws from inside the destructor ends the process, which is one more reason for
// waiters that only post the reply to their own event loop.
class InFlight::Leader {
 public:
  Leader(InFlight& flights, std::string_view key) : flights_(&flights), key_(key) {}
  ~Leader() { finish(nullptr); }
  Leader(Leader&& other) noexcept
      : flights_(std::exchange(other.flights_, nullptr)), key_(std::move(other.key_)) {}
  Leader& operator=(Leader&& other) noexcept {
    if (this != &other) {
      finish(nullptr);
      flights_ = std::exchange(other.flights_, nullptr);
      key_ = std::move(other.key_);
    }
    return *this;
  }
  Leader(const Leader&) = delete;
  Leader& operator=(const Leader&) = delete;

  // Ends the flight once; later calls do nothing.
  void finish(const std::shared_ptr<const CachedReply>& reply) {
    if (InFlight* flights = std::exchange(flights_, nullptr)) {
      flights->finish(key_, reply);
    }
  }
  [[nodiscard]] bool active() const { return flights_ != nullptr; }

 private:
  InFlight* flights_;
  std::string key_;
};

}  // namespace pgro::cache
