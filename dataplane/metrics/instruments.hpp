// Counter, Gauge and Histogram: the instruments the data path updates. Updates are lock-free
// (relaxed atomics on a per-thread shard); reads, done by the exposition, sum the shards.
// Instruments are owned by a Registry and live as long as it: keep references to them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/metric.hpp"

namespace pgro::metrics {

// Monotonic count of events.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept {
    shards_[shardIndex()].value.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const noexcept;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::array<Shard, kShards> shards_{};
};

// A value that goes up and down (connections open, bytes held). One atomic: gauges are set
// or moved far less often than counters are bumped.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// RAII in-flight gauge: +1 on construction, -1 on destruction (ClickHouse's
// CurrentMetrics::Increment).
class GaugeIncrement {
 public:
  explicit GaugeIncrement(Gauge& gauge) noexcept : gauge_(&gauge) { gauge_->inc(); }
  ~GaugeIncrement() {
    if (gauge_ != nullptr) gauge_->dec();
  }
  GaugeIncrement(GaugeIncrement&& other) noexcept : gauge_(other.gauge_) { other.gauge_ = nullptr; }
  GaugeIncrement(const GaugeIncrement&) = delete;
  GaugeIncrement& operator=(const GaugeIncrement&) = delete;
  GaugeIncrement& operator=(GaugeIncrement&&) = delete;

 private:
  Gauge* gauge_;
};

// Distribution of observed values over fixed upper bounds (`le`, inclusive); the +Inf bucket
// is implicit. observe() is a short scan of the bounds and two relaxed atomic adds.
class Histogram {
 public:
  // `bounds` strictly increasing and finite; throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v) noexcept;
  // Seconds elapsed since `start` on the steady clock.
  void observeSince(std::chrono::steady_clock::time_point start) noexcept {
    observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds_.size() + 1 slots
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

// Prometheus client defaults, widened for a proxy: 50 µs (a cache hit) to 30 s.
std::vector<double> latencyBuckets();

}  // namespace pgro::metrics
