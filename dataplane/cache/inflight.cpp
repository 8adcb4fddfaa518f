#include "cache/inflight.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace pgro::cache {
namespace {

// Heterogeneous lookup: find() takes the caller's string_view without building a string.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>{}(key);
  }
};

}  // namespace

struct alignas(64) InFlight::Shard {
  mutable std::mutex mutex;  // guards `flights`
  std::unordered_map<std::string, std::vector<Waiter>, KeyHash, std::equal_to<>> flights;
};

InFlight::InFlight(std::size_t shards) {
  const std::size_t n = std::max<std::size_t>(shards, 1);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

InFlight::~InFlight() = default;

InFlight::Shard& InFlight::shardFor(std::size_t hash) const {
  const std::uint64_t high = static_cast<std::uint64_t>(hash) >> 32;
  return *shards_[static_cast<std::size_t>((high * shards_.size()) >> 32)];
}

bool InFlight::joinOrLead(std::string_view key, Waiter waiter) {
  Shard& shard = shardFor(KeyHash{}(key));
  std::lock_guard lock(shard.mutex);
  if (const auto found = shard.flights.find(key); found != shard.flights.end()) {
    found->second.push_back(std::move(waiter));
    return false;
  }
  shard.flights.emplace(std::string(key), std::vector<Waiter>{});
  return true;
}

void InFlight::finish(std::string_view key, const std::shared_ptr<const CachedReply>& reply) {
  std::vector<Waiter> waiters;
  {
    Shard& shard = shardFor(KeyHash{}(key));
    std::lock_guard lock(shard.mutex);
    const auto found = shard.flights.find(key);
    if (found == shard.flights.end()) {
      return;
    }
    waiters = std::move(found->second);
    shard.flights.erase(found);
  }
  coalesced_.fetch_add(waiters.size(), std::memory_order_relaxed);
  std::exception_ptr first_error;
  for (Waiter& waiter : waiters) {
    try {
      waiter(reply);
    } catch (...) {
      if (!first_error) {
        first_error = std::current_exception();
      }
    }
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

std::size_t InFlight::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->flights.size();
  }
  return total;
}

std::uint64_t InFlight::coalesced() const {
  return coalesced_.load(std::memory_order_relaxed);
}

}  // namespace pgro::cache
