// The fleet cache (CACHE_L2_URL): a second-level result cache on Redis or Valkey that every
// pgro replica of a fleet shares, behind each replica's own ResultCache.
//
// Keys: the session's local cache key without the replica's own policy generation (a
// counter that differs between processes), with instead the catalog fingerprint (pg_proc,
// pg_namespace, pg_operator as loaded; equal on replicas of one database) and the fleet's
// key-space generation:
//   pgro:r:<generation>:<hex SHA-256 of (catalog fingerprint, local key)>
// so two sessions share an entry exactly when they would share one locally, on any replica.
// Values are the reply bytes as the local cache stores them, with the same TTL (SET PX).
//
// Reset: INCR pgro:generation. Every key carries the generation, so the old entries are
// never read again and expire on their own (no SCAN+DEL). The resetting replica stops using
// L2 until INCR answers; every replica reads the generation every
// kGenerationPoll (and when it connects) and clears its local cache when the generation
// moved, so a reset anywhere is seen everywhere within kGenerationPoll + the timeout.
//
// Coalescing across replicas: a replica that misses locally and in L2 takes a lease
// (SET <key>:lease NX PX CACHE_L2_LEASE_MS). The holder runs the query and fills; the others
// read the key every kLeasePoll until the lease time is over, then run it themselves.
//
// Failure: every round trip is bounded by CACHE_L2_TIMEOUT_MS; a timeout, an error or a
// Redis that is down is a miss (pgro goes upstream and keeps its local cache), counted in
// the errors, and logged at most once per kLogInterval.
//
// Threads: one RedisClient per event loop; get/put/lease/awaitFill are called on loop
// `loop` with that index. reset(), setScope() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/redis_client.hpp"
#include "fleet/redis_url.hpp"

namespace pgro::fleet {

struct L2Settings {
  RedisUrl url;
  std::chrono::milliseconds timeout{30};
  std::size_t max_entry_bytes = 1 << 20;  // larger replies stay local
  std::chrono::milliseconds lease{2000};
  std::chrono::milliseconds generation_poll{1000};
  std::chrono::milliseconds lease_poll{10};
};

class L2Cache {
 public:
  static constexpr std::string_view kGenerationKey = "pgro:generation";
  static constexpr auto kLogInterval = std::chrono::seconds(10);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t errors = 0;        // timeouts, lost connections, error replies
    uint64_t writes = 0;        // fills written through
    uint64_t too_large = 0;     // fills over CACHE_L2_MAX_ENTRY_BYTES, kept local
    uint64_t lease_waits = 0;   // misses that waited for another replica's fill
    uint64_t lease_filled = 0;  // ... and were answered by it
    uint64_t resets = 0;        // generation changes seen (this replica's and others')
    bool connected = false;     // loop 0's connection is ready
    int64_t generation = -1;    // in use; -1: none (not connected yet, or a reset pending)
  };

  struct Found {
    std::string bytes;
    std::chrono::milliseconds ttl;  // what is left of it
  };
  struct Lookup {
    std::optional<Found> found;
    bool failed = false;  // no answer (counted in the errors): not worth a lease either
  };

  // `loops`: one executor per event loop, by index. `on_fleet_reset` runs (on loop 0) when
  // the generation moved: the local cache must be cleared.
  L2Cache(L2Settings settings, std::vector<asio::any_io_executor> loops,
          std::function<void()> on_fleet_reset);
  ~L2Cache();
  L2Cache(const L2Cache&) = delete;
  L2Cache& operator=(const L2Cache&) = delete;

  // Connects every loop's client and starts reading the generation (posted to the loops).
  void start();
  // Drops the connections. Only once the loops no longer run, before their io_contexts go.
  void stop();

  // The Redis key for a local cache key (without its policy generation), or empty when L2
  // cannot be used now (no generation known: not connected, or a reset not yet confirmed).
  [[nodiscard]] std::string keyFor(std::string_view local_key) const;
  // Whether `key` (from keyFor) is still of the generation in force.
  [[nodiscard]] bool current(std::string_view key) const;

  asio::awaitable<Lookup> get(std::size_t loop, std::string key);
  // Fire and forget: SET key bytes PX ttl, unless over max_entry_bytes.
  void put(std::size_t loop, const std::string& key, std::string_view bytes,
           std::chrono::milliseconds ttl);
  // true: the caller runs the query (it holds the lease, or L2 could not say).
  asio::awaitable<bool> lease(std::size_t loop, std::string key);
  // The lease holder's query gave nothing to fill: the others need not wait any longer.
  void release(std::size_t loop, const std::string& key);
  // After lease() returned false: the holder's fill, read every lease_poll until the lease
  // time is over; nullopt: run the query.
  asio::awaitable<std::optional<Found>> awaitFill(std::size_t loop, std::string key);

  // A cache reset on this replica: INCR the generation (L2 is not used until it answers).
  void reset();
  // The catalog fingerprint keys are made with (see above).
  void setScope(std::string scope);

  [[nodiscard]] Stats stats() const;

 private:
  asio::awaitable<Lookup> fetch(std::size_t loop, std::string key);
  void failed(std::string_view what);
  void armPoll();
  void pollGeneration();
  void incrementGeneration();
  void generationSeen(long long generation);

  const L2Settings settings_;
  std::vector<asio::any_io_executor> loops_;
  std::vector<std::shared_ptr<RedisClient>> clients_;
  std::function<void()> on_fleet_reset_;
  std::shared_ptr<asio::steady_timer> poll_timer_;  // loop 0's

  std::atomic<int64_t> generation_{-1};
  long long seen_ = -1;      // loop 0 only: the last generation read
  int resets_pending_ = 0;   // loop 0 only: INCRs not answered yet
  bool reset_owed_ = false;  // loop 0 only: a reset not yet made in Redis
  mutable std::mutex scope_mu_;
  std::string scope_;

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> too_large_{0};
  std::atomic<uint64_t> lease_waits_{0};
  std::atomic<uint64_t> lease_filled_{0};
  std::atomic<uint64_t> resets_{0};
  std::atomic<bool> connected_{false};
  std::mutex log_mu_;
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t unlogged_ = 0;
};

}  // namespace pgro::fleet
