#include "metrics/instruments.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace pgro::metrics {
namespace {

TEST(Counter, ConcurrentIncrementsSum) {
  Counter c;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < kPerThread; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), static_cast<uint64_t>(kThreads) * kPerThread);
  c.inc(5);
  EXPECT_EQ(c.value(), static_cast<uint64_t>(kThreads) * kPerThread + 5);
}

TEST(Gauge, SetAddAndRaiiIncrement) {
  Gauge g;
  g.set(10);
  g.add(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 12.5);
  {
    GaugeIncrement a(g);
    GaugeIncrement b(g);
    EXPECT_DOUBLE_EQ(g.value(), 14.5);
    GaugeIncrement moved(std::move(b));
    EXPECT_DOUBLE_EQ(g.value(), 14.5);
  }
  EXPECT_DOUBLE_EQ(g.value(), 12.5);
}

TEST(Gauge, ConcurrentIncDecBalance) {
  Gauge g;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&g] {
      for (int i = 0; i < 50000; ++i) {
        GaugeIncrement in_flight(g);
      }
      for (int i = 0; i < 1000; ++i) g.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(g.value(), 4000);
}

TEST(Histogram, BucketsAreInclusiveAndCumulative) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 100.0, 1000.0}) h.observe(v);
  const auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.05, 0.1 (le is inclusive)
  EXPECT_EQ(s.cumulative[1], 4u);  // + 0.5, 1.0
  EXPECT_EQ(s.cumulative[2], 5u);  // + 5.0
  EXPECT_EQ(s.cumulative[3], 7u);  // +Inf
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 0.05 + 0.1 + 0.5 + 1.0 + 5.0 + 100.0 + 1000.0);
}

TEST(Histogram, NanGoesToInf) {
  Histogram h({1});
  h.observe(std::nan(""));
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 0u);
  EXPECT_EQ(s.count, 1u);
}

TEST(Histogram, RejectsBadBounds) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  EXPECT_NO_THROW(Histogram({}));
}

TEST(Histogram, ConcurrentObservationsSum) {
  Histogram h(latencyBuckets());
  constexpr int kThreads = 6;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPerThread; ++i) h.observe(t % 2 == 0 ? 0.001 : 2.0);
    });
  }
  for (auto& t : threads) t.join();
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_NEAR(s.sum, 3 * kPerThread * 0.001 + 3 * kPerThread * 2.0, 1e-6);
}

}  // namespace
}  // namespace pgro::metrics
