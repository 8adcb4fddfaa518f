// Cost of the result cache (DESIGN.md section 8, "<= 10 us proxy CPU per hit"): get() on a
// hit with a 1 KiB value, from one thread and from two (distinct keys, shared cache), a miss,
// and put() of a 1 KiB value: evicting from a full cache, refused by admission, replacing.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cache/result_cache.hpp"

namespace {

using pgro::cache::CacheLimits;
using pgro::cache::ManualClock;
using pgro::cache::ResultCache;
using pgro::cache::SteadyClock;

constexpr std::size_t kValueBytes = 1024;
constexpr int kKeys = 4096;

// A key shaped like the session's: database, settings, query text.
std::string keyFor(int i) {
  return "app\x1fsearch_path=public\x1fTimeZone=UTC\x1fSELECT region, sum(amount) FROM sales "
         "WHERE day >= $1 GROUP BY region ORDER BY 2 DESC LIMIT " +
         std::to_string(i);
}

std::vector<std::string> makeKeys() {
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(keyFor(i));
  }
  return keys;
}

// Shared by the threads of one benchmark run; filled once.
ResultCache& warmCache() {
  static ResultCache cache(CacheLimits{}, std::make_shared<const SteadyClock>());
  static const bool filled = [] {
    for (const auto& key : makeKeys()) {
      (void)cache.get(key);
      cache.put(key, std::string(kValueBytes, 'r'), std::chrono::microseconds(500));
    }
    return true;
  }();
  (void)filled;
  return cache;
}

void BM_GetHit(benchmark::State& state) {
  ResultCache& cache = warmCache();
  const std::vector<std::string> keys = makeKeys();
  // Each thread walks its own stride of keys, so threads meet on shards, not on one entry.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    auto reply = cache.get(keys[i % kKeys]);
    benchmark::DoNotOptimize(reply);
    i += 7;
  }
  if (state.thread_index() == 0 && cache.stats().entries != kKeys) {
    state.SkipWithError("not every key is cached");
  }
}
BENCHMARK(BM_GetHit)->Threads(1)->Threads(2)->UseRealTime();

// Every thread reads the same key: the worst case for its shard's mutex.
void BM_GetHitSameKey(benchmark::State& state) {
  ResultCache& cache = warmCache();
  const std::string key = keyFor(1);
  for (auto _ : state) {
    auto reply = cache.get(key);
    benchmark::DoNotOptimize(reply);
  }
}
BENCHMARK(BM_GetHitSameKey)->Threads(1)->Threads(2)->UseRealTime();

void BM_GetMiss(benchmark::State& state) {
  ResultCache& cache = warmCache();
  const std::string key = keyFor(kKeys + 1);
  for (auto _ : state) {
    auto reply = cache.get(key);
    benchmark::DoNotOptimize(reply);
  }
}
BENCHMARK(BM_GetMiss);

// put() into a full cache of 1 KiB values, evicting one entry per put. The clock moves past
// the TTL before each put, so the LRU victim has always expired and is dropped without an
// admission contest (the same unlinking as an eviction). The value copy is part of the cost;
// the session moves its recording buffer in instead.
void BM_PutEvicting(benchmark::State& state) {
  auto clock = std::make_shared<ManualClock>();
  ResultCache cache(CacheLimits{.max_entries = 1024, .ttl = std::chrono::seconds(1)}, clock);
  const std::vector<std::string> keys = makeKeys();
  const std::string value(kValueBytes, 'r');
  std::size_t i = 0;
  for (auto _ : state) {
    clock->advance(std::chrono::seconds(1));
    benchmark::DoNotOptimize(cache.put(keys[i++ % kKeys], value, std::chrono::microseconds(1)));
  }
  const auto stats = cache.stats();
  state.counters["inserted"] = static_cast<double>(stats.inserts);
  state.counters["rejected"] = static_cast<double>(stats.admissions_rejected);
}
BENCHMARK(BM_PutEvicting);

// put() refused by TinyLFU: every key was requested equally often, and ties go to the
// resident entries. The reply is built before the shard lock is taken, so a refusal costs
// about as much as an insert.
void BM_PutRejected(benchmark::State& state) {
  ResultCache cache(CacheLimits{.max_entries = 1024}, std::make_shared<const SteadyClock>());
  const std::string value(kValueBytes, 'r');
  for (int i = 0; i < 1024; ++i) {
    (void)cache.get(keyFor(i));
    cache.put(keyFor(i), value, std::chrono::microseconds(1));
  }
  // Requested once each, like every resident; never resident themselves.
  std::vector<std::string> newcomers;
  for (int i = 0; i < kKeys; ++i) {
    newcomers.push_back(keyFor(1024 + i));
    (void)cache.get(newcomers.back());
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        cache.put(newcomers[i++ % kKeys], value, std::chrono::microseconds(1)));
  }
  // A few newcomers get in where the sketch overestimates them (count-min collisions).
  const auto stats = cache.stats();
  state.counters["rejected_share"] = static_cast<double>(stats.admissions_rejected) /
                                     static_cast<double>(stats.admissions_rejected + stats.inserts);
}
BENCHMARK(BM_PutRejected);

// put() with room to spare: the cost of a first insert (or a replacement).
void BM_PutReplace(benchmark::State& state) {
  ResultCache cache(CacheLimits{}, std::make_shared<const SteadyClock>());
  const std::vector<std::string> keys = makeKeys();
  const std::string value(kValueBytes, 'r');
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.put(keys[i++ % kKeys], value, std::chrono::microseconds(1)));
  }
}
BENCHMARK(BM_PutReplace);

}  // namespace

BENCHMARK_MAIN();
