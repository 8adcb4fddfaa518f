#include "metrics/instruments.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace pgro::metrics {

namespace detail {
std::size_t assignShard() noexcept {
  static std::atomic<std::size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) % kShards;
}
}  // namespace detail

namespace {
bool validName(const std::string& name, bool colon_ok) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}
}  // namespace

void validateMetricName(const std::string& name) {
  if (!validName(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
}

void validateLabelName(const std::string& name) {
  if (!validName(name, false) || name.starts_with("__")) {
    throw std::invalid_argument("invalid label name '" + name + "'");
  }
}

uint64_t Counter::value() const noexcept {
  uint64_t total = 0;
  for (const auto& s : shards_) total += s.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    }
  }
  // Eight slots of padding after each shard's buckets keep two shards' arrays off one cache
  // line even when the allocator places them back to back.
  for (auto& s : shards_) {
    s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1 + 8);
  }
}

void Histogram::observe(double v) noexcept {
  // `le` is inclusive: the first bound >= v. NaN lands in +Inf.
  std::size_t i = 0;
  while (i < bounds_.size() && !(v <= bounds_[i])) ++i;
  Shard& s = shards_[shardIndex()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.bounds = bounds_;
  out.cumulative.assign(bounds_.size() + 1, 0);
  for (const auto& s : shards_) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      out.cumulative[i] += s.buckets[i].load(std::memory_order_relaxed);
    }
    out.sum += s.sum.load(std::memory_order_relaxed);
  }
  for (std::size_t i = 1; i < out.cumulative.size(); ++i)
    out.cumulative[i] += out.cumulative[i - 1];
  out.count = out.cumulative.back();
  return out;
}

std::vector<double> latencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

}  // namespace pgro::metrics
