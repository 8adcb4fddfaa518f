// Metric descriptions and the per-thread shard index shared by the instruments.
// Names follow Prometheus conventions: `pgro_` prefix, units in the name, `_total` counters.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

namespace pgro::metrics {

enum class MetricType { Counter, Gauge, Histogram };

// One metric family as a module declares it: one line in its metric list.
struct MetricDesc {
  std::string name;
  std::string help;
  MetricType type = MetricType::Counter;
  std::vector<std::string> label_names;  // empty: a single unlabelled series
};

// Hot-path instruments spread their atomics over this many cache-line-sized shards; a thread
// always writes the same shard, the exposition sums them. Two threads share a shard only when
// more than kShards threads write, which costs contention, never correctness.
inline constexpr std::size_t kShards = 16;

namespace detail {
std::size_t assignShard() noexcept;
}  // namespace detail

inline std::size_t shardIndex() noexcept {
  thread_local const std::size_t index = detail::assignShard();
  return index;
}

// Throws std::invalid_argument unless `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*.
void validateMetricName(const std::string& name);
// Throws std::invalid_argument unless `name` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start
// with "__" (reserved by Prometheus).
void validateLabelName(const std::string& name);

}  // namespace pgro::metrics
