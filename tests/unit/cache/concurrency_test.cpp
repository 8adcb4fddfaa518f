// Threads hammering one cache: overlapping keys, hits checked against the key they were
// stored under, limits and counters checked at the end. Meant to run under ASan/UBSan and
// TSan as well (a fixed number of operations per thread, no sleeps).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/result_cache.hpp"

namespace pgro::cache {
namespace {

using std::chrono::seconds;

constexpr int kThreads = 4;
constexpr int kOpsPerThread = 20000;
constexpr int kKeys = 600;

std::string keyFor(int i) {
  return "db|UTC|SELECT * FROM t WHERE id = " + std::to_string(i);
}

// The value starts with its key, so a reader can tell a reply stored under another key.
std::string valueFor(const std::string& key, std::size_t padding) {
  return key + "|" + std::string(padding, 'r');
}

TEST(ResultCacheConcurrencyTest, OverlappingGetsAndPutsKeepInvariants) {
  auto clock = std::make_shared<ManualClock>();
  const CacheLimits limits{
      .max_entries = 256, .max_bytes = 512 << 10, .max_entry_bytes = 4096, .ttl = seconds(5)};
  ResultCache cache(limits, clock, 8);
  std::atomic<std::uint64_t> gets{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> corrupt{0};
  std::atomic<bool> over_limit{false};

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      // Skewed towards low ids, so some keys are hot and every thread shares them.
      std::geometric_distribution<int> pick(0.01);
      std::uniform_int_distribution<std::size_t> padding(0, 4000);
      for (int op = 0; op < kOpsPerThread; ++op) {
        const std::string key = keyFor(pick(rng) % kKeys);
        ++gets;
        if (const auto reply = cache.get(key)) {
          ++hits;
          if (reply->bytes.compare(0, key.size() + 1, key + "|") != 0) {
            ++corrupt;
          }
        } else {
          (void)cache.put(key, valueFor(key, padding(rng)), std::chrono::microseconds(op));
        }
        if (t == 0 && op % 500 == 0) {
          clock->advance(seconds(1));  // entries expire while others read them
          const auto stats = cache.stats();
          if (stats.entries > limits.max_entries || stats.bytes > limits.max_bytes) {
            over_limit = true;
          }
        }
        if (t == 1 && op % 5000 == 4999) {
          (void)cache.clear();
          cache.setTtl(seconds(3 + op % 4));
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_FALSE(over_limit.load());
  const auto stats = cache.stats();
  EXPECT_LE(stats.entries, limits.max_entries);
  EXPECT_LE(stats.bytes, limits.max_bytes);
  EXPECT_EQ(stats.hits, hits.load());
  EXPECT_EQ(stats.hits + stats.misses, gets.load());
  EXPECT_GT(stats.hits, 0u);
  EXPECT_GT(stats.inserts, 0u);

  // The charged bytes match what is left.
  std::uint64_t charged = 0;
  std::uint64_t live = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = keyFor(i);
    if (const auto reply = cache.get(key)) {
      charged += key.size() + reply->bytes.size() + ResultCache::kEntryOverheadBytes;
      ++live;
    }
  }
  EXPECT_EQ(cache.stats().entries, live);
  EXPECT_EQ(cache.stats().bytes, charged);
}

// Enable/disable and clear racing with readers and writers: nothing may crash or leak, and
// a cache left disabled holds nothing.
TEST(ResultCacheConcurrencyTest, ToggleAndClearWhileInUse) {
  ResultCache cache({.max_entries = 128}, std::make_shared<ManualClock>(), 4);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ops{0};
  std::vector<std::thread> workers;
  workers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string key = keyFor(static_cast<int>((i * 7 + t) % 300));
        if (!cache.get(key)) {
          (void)cache.put(key, valueFor(key, 64), {});
        }
        ops.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Toggle until the workers did a fair amount of work meanwhile, however they are scheduled.
  for (int i = 0; i < 2000 || ops.load(std::memory_order_relaxed) < 30000; ++i) {
    cache.setEnabled(i % 2 == 0);
    if (i % 7 == 0) {
      (void)cache.clear();
    }
    (void)cache.stats();
  }
  cache.setEnabled(false);
  stop = true;
  for (auto& worker : workers) {
    worker.join();
  }
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

}  // namespace
}  // namespace pgro::cache
