#include "session/login_guard.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <thread>
#include <vector>

namespace pgro::session {
namespace {

using namespace std::chrono_literals;
using Clock = LoginThrottle::Clock;

TEST(UnauthenticatedLimit, BoundsEachAddressSeparately) {
  UnauthenticatedLimit limit(2);
  UnauthenticatedLimit::Ticket a1, a2, a3, b1;
  EXPECT_TRUE(limit.acquire("10.0.0.1", a1));
  EXPECT_TRUE(limit.acquire("10.0.0.1", a2));
  EXPECT_FALSE(limit.acquire("10.0.0.1", a3));
  EXPECT_TRUE(limit.acquire("10.0.0.2", b1));  // another address is not affected
  EXPECT_EQ(limit.count("10.0.0.1"), 2);
  a1.reset();  // a login (or a close) gives the share back
  EXPECT_EQ(limit.count("10.0.0.1"), 1);
  EXPECT_TRUE(limit.acquire("10.0.0.1", a3));
}

TEST(UnauthenticatedLimit, TicketReleasesOnceWhenMovedAndDestroyed) {
  UnauthenticatedLimit limit(1);
  {
    UnauthenticatedLimit::Ticket t;
    ASSERT_TRUE(limit.acquire("h", t));
    UnauthenticatedLimit::Ticket moved(std::move(t));
    UnauthenticatedLimit::Ticket assigned;
    assigned = std::move(moved);
    EXPECT_EQ(limit.count("h"), 1);
  }
  EXPECT_EQ(limit.count("h"), 0);
}

TEST(UnauthenticatedLimit, ZeroMeansNoLimit) {
  UnauthenticatedLimit limit(0);
  std::vector<UnauthenticatedLimit::Ticket> tickets(1000);
  for (auto& t : tickets) EXPECT_TRUE(limit.acquire("h", t));
}

TEST(AddressKey, Ipv6CountsTheSlash64AndMappedIpv4AsIpv4) {
  using boost::asio::ip::make_address;
  EXPECT_EQ(addressKey(make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(addressKey(make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(addressKey(make_address("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(addressKey(make_address("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
  EXPECT_NE(addressKey(make_address("2001:db8:1:3::1")), "2001:db8:1:2::/64");
}

LoginThrottle::Settings settings() {
  LoginThrottle::Settings s;
  s.free_failures = 3;
  s.first_delay = 100ms;
  s.max_delay = 1000ms;
  s.forget_every = 10s;
  s.max_addresses = 4;
  return s;
}

TEST(LoginThrottle, DelaysGrowAfterTheFreeFailuresUpToTheCap) {
  LoginThrottle t(settings());
  auto now = Clock::now();
  std::vector<long> delays;
  for (int i = 0; i < 9; ++i) {  // one attempt after the other, each answered after its delay
    const auto delay = t.delayFor("a", now);
    delays.push_back(static_cast<long>(delay.count()));
    now += delay;
    t.recordFailure("a", now);
  }
  EXPECT_EQ(delays, (std::vector<long>{0, 0, 0, 0, 100, 200, 400, 800, 1000}));
  EXPECT_EQ(t.delayFor("b", now).count(), 0) << "another address is not throttled";
}

TEST(LoginThrottle, ParallelAttemptsAreAnsweredOneDelayApart) {
  LoginThrottle t(settings());
  const auto now = Clock::now();
  for (int i = 0; i < 20; ++i) t.recordFailure("a", now);
  std::vector<long> waits;
  for (int i = 0; i < 4; ++i) waits.push_back(static_cast<long>(t.delayFor("a", now).count()));
  EXPECT_EQ(waits, (std::vector<long>{1000, 2000, 3000, 4000}));
  // Once the queue has been served, the next attempt waits one delay again.
  EXPECT_EQ(t.delayFor("a", now + 4s).count(), 1000);
  EXPECT_EQ(t.delayFor("b", now).count(), 0);
}

TEST(LoginThrottle, ZeroMaxDelayTurnsItOff) {
  auto s = settings();
  s.max_delay = 0ms;
  LoginThrottle t(s);
  const auto now = Clock::now();
  for (int i = 0; i < 100; ++i) t.recordFailure("a", now);
  EXPECT_EQ(t.delayFor("a", now).count(), 0);
}

TEST(LoginThrottle, FailuresAreForgottenOverTime) {
  LoginThrottle t(settings());
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) t.recordFailure("a", start);
  EXPECT_EQ(t.failures("a", start), 5);
  EXPECT_EQ(t.delayFor("a", start).count(), 200);
  EXPECT_EQ(t.failures("a", start + 10s), 4);
  EXPECT_EQ(t.delayFor("a", start + 25s).count(), 0);  // 3 left: within the free failures
  EXPECT_EQ(t.failures("a", start + 50s), 0);
  EXPECT_EQ(t.addresses(), 0u) << "a forgiven address leaves the table";
}

TEST(LoginThrottle, ManyFailuresStayBoundedAndAreForgivenInBoundedTime) {
  LoginThrottle t(settings());
  const auto start = Clock::now();
  for (int i = 0; i < 100000; ++i) t.recordFailure("a", start);
  EXPECT_EQ(t.delayFor("a", start).count(), 1000);
  EXPECT_LE(t.failures("a", start), 3 + 64);
  EXPECT_EQ(t.failures("a", start + 67 * 10s), 0);
}

TEST(LoginThrottle, TableIsCappedDroppingTheLeastRecentlyFailedAddress) {
  LoginThrottle t(settings());
  const auto now = Clock::now();
  for (const char* a : {"a", "b", "c", "d"}) t.recordFailure(a, now);
  t.recordFailure("a", now);  // "a" is now the most recent; "b" the oldest
  t.recordFailure("e", now);
  EXPECT_EQ(t.addresses(), 4u);
  EXPECT_EQ(t.failures("b", now), 0);
  EXPECT_EQ(t.failures("a", now), 2);
  EXPECT_EQ(t.failures("e", now), 1);
  for (int i = 0; i < 1000; ++i) t.recordFailure("x" + std::to_string(i), now);
  EXPECT_EQ(t.addresses(), 4u);
}

TEST(BufferBudget, RefusesWhatWouldGoOverAndTakesNothingThen) {
  BufferBudget b(1000);
  EXPECT_TRUE(b.tryReserve(600));
  EXPECT_FALSE(b.tryReserve(401));
  EXPECT_EQ(b.used(), 600u);
  EXPECT_TRUE(b.tryReserve(400));
  EXPECT_FALSE(b.tryReserve(1));
  b.release(1000);
  EXPECT_EQ(b.used(), 0u);
  EXPECT_FALSE(b.tryReserve(1001));
  EXPECT_FALSE(b.tryReserve(std::numeric_limits<std::size_t>::max()));
}

TEST(BufferBudget, ZeroIsUnlimitedButCounted) {
  BufferBudget b(0);
  EXPECT_TRUE(b.tryReserve(std::size_t{1} << 40));
  EXPECT_EQ(b.used(), std::size_t{1} << 40);
}

TEST(BufferBudget, ConcurrentReservationsNeverExceedTheLimit) {
  BufferBudget b(10000);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10000; ++j) {
        if (b.tryReserve(7)) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(b.used(), static_cast<std::size_t>(granted.load()) * 7);
  EXPECT_LE(b.used(), 10000u);
  EXPECT_EQ(granted.load(), 10000 / 7);
}

}  // namespace
}  // namespace pgro::session
