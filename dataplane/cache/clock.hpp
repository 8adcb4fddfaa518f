// The time source of the result cache, injected through constructors so tests can move time
// by hand instead of sleeping (STYLE.md: fakes through constructors, no test-only setters).
#pragma once

#include <atomic>
#include <chrono>

namespace pgro::cache {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
};

// The production clock.
class SteadyClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
};

// A clock that moves only when told to. Thread-safe, so a concurrency test can advance time
// while other threads read it.
class ManualClock final : public Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1))
      : ticks_(start.time_since_epoch().count()) {}

  [[nodiscard]] time_point now() const override {
    return time_point{duration{ticks_.load(std::memory_order_acquire)}};
  }
  void set(time_point t) { ticks_.store(t.time_since_epoch().count(), std::memory_order_release); }
  void advance(duration d) { ticks_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<duration::rep> ticks_;
};

}  // namespace pgro::cache
