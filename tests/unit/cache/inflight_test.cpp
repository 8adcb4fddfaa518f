// InFlight: one leader per key, every waiter called exactly once with the leader's reply,
// outside the lock, and a fresh flight after finish().
#include "cache/inflight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgro::cache {
namespace {

std::shared_ptr<const CachedReply> makeReply(std::string bytes) {
  return std::make_shared<const CachedReply>(CachedReply{.bytes = std::move(bytes)});
}

InFlight::Waiter unexpected() {
  return
      [](const std::shared_ptr<const CachedReply>&) { ADD_FAILURE() << "leader's waiter called"; };
}

TEST(InFlightTest, OneLeaderManyWaitersGetTheLeadersReply) {
  InFlight flights;
  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  std::vector<std::shared_ptr<const CachedReply>> got(10);
  std::vector<int> calls(10, 0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(flights.joinOrLead("k", [&, i](std::shared_ptr<const CachedReply> reply) {
      ++calls[i];
      got[i] = std::move(reply);
    }));
  }
  EXPECT_EQ(flights.size(), 1u);
  EXPECT_EQ(flights.coalesced(), 0u);
  const auto reply = makeReply("rows");
  flights.finish("k", reply);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(calls[i], 1);
    EXPECT_EQ(got[i], reply);
  }
  EXPECT_EQ(flights.size(), 0u);
  EXPECT_EQ(flights.coalesced(), 10u);
  flights.finish("k", reply);  // not in flight any more: ignored
  EXPECT_EQ(calls[0], 1);
}

TEST(InFlightTest, FailedLeaderGivesWaitersNull) {
  InFlight flights;
  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  int nulls = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(flights.joinOrLead(
        "k", [&](const std::shared_ptr<const CachedReply>& reply) { nulls += reply == nullptr; }));
  }
  flights.finish("k", nullptr);
  EXPECT_EQ(nulls, 3);
}

TEST(InFlightTest, JoinAfterFinishStartsNewFlight) {
  InFlight flights;
  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  flights.finish("k", makeReply("first"));
  EXPECT_TRUE(flights.joinOrLead("k", unexpected()));
  EXPECT_EQ(flights.size(), 1u);
  std::string seen;
  ASSERT_FALSE(flights.joinOrLead("k", [&](auto reply) { seen = reply->bytes; }));
  flights.finish("k", makeReply("second"));
  EXPECT_EQ(seen, "second");
}

TEST(InFlightTest, KeysAreIndependent) {
  InFlight flights(4);
  ASSERT_TRUE(flights.joinOrLead("a", unexpected()));
  ASSERT_TRUE(flights.joinOrLead("b", unexpected()));
  std::string a_seen, b_seen;
  ASSERT_FALSE(flights.joinOrLead("a", [&](auto reply) { a_seen = reply->bytes; }));
  ASSERT_FALSE(flights.joinOrLead("b", [&](auto reply) { b_seen = reply->bytes; }));
  EXPECT_EQ(flights.size(), 2u);
  flights.finish("b", makeReply("B"));
  EXPECT_EQ(a_seen, "");
  EXPECT_EQ(b_seen, "B");
  flights.finish("a", makeReply("A"));
  EXPECT_EQ(a_seen, "A");
}

// Waiters run outside the lock: one may start the next flight for the same key at once.
TEST(InFlightTest, WaiterMayLeadTheNextFlight) {
  InFlight flights(1);
  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  bool led = false;
  ASSERT_FALSE(flights.joinOrLead("k", [&](auto) {
    led = flights.joinOrLead("k", unexpected());
    EXPECT_EQ(flights.size(), 1u);
  }));
  flights.finish("k", nullptr);
  EXPECT_TRUE(led);
  flights.finish("k", nullptr);
  EXPECT_EQ(flights.size(), 0u);
}

TEST(InFlightTest, ThrowingWaiterDoesNotStrandTheOthers) {
  InFlight flights;
  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  int called = 0;
  ASSERT_FALSE(flights.joinOrLead("k", [&](auto) { ++called; }));
  ASSERT_FALSE(flights.joinOrLead("k", [&](auto) {
    ++called;
    throw std::runtime_error("waiter failed");
  }));
  ASSERT_FALSE(flights.joinOrLead("k", [&](auto) { ++called; }));
  EXPECT_THROW(flights.finish("k", nullptr), std::runtime_error);
  EXPECT_EQ(called, 3);
  EXPECT_EQ(flights.size(), 0u);
}

TEST(InFlightTest, LeaderGuardFinishesOnEveryPath) {
  InFlight flights;
  std::vector<std::shared_ptr<const CachedReply>> got;
  auto record = [&](const std::shared_ptr<const CachedReply>& reply) { got.push_back(reply); };
  {
    ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
    InFlight::Leader leader(flights, "k");
    ASSERT_FALSE(flights.joinOrLead("k", record));
  }  // dropped without finish: the waiter hears of the failure
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], nullptr);

  ASSERT_TRUE(flights.joinOrLead("k", unexpected()));
  InFlight::Leader leader(flights, "k");
  ASSERT_FALSE(flights.joinOrLead("k", record));
  InFlight::Leader moved = std::move(leader);
  EXPECT_FALSE(leader.active());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  const auto reply = makeReply("rows");
  moved.finish(reply);
  moved.finish(makeReply("ignored"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], reply);
  EXPECT_EQ(flights.size(), 0u);
}

// Threads racing for one key: exactly one leads; it finishes once all the others joined.
TEST(InFlightTest, ConcurrentMissesHaveExactlyOneLeader) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  InFlight flights;
  std::atomic<int> leaders{0};
  std::atomic<int> served{0};
  std::atomic<int> wrong{0};
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "q" + std::to_string(round);
    const auto reply = makeReply(key);
    std::barrier joined(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        const bool lead = flights.joinOrLead(key, [&](const std::shared_ptr<const CachedReply>& r) {
          ++served;
          wrong += r != reply;
        });
        joined.arrive_and_wait();
        if (lead) {
          ++leaders;
          flights.finish(key, reply);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }
  EXPECT_EQ(leaders.load(), kRounds);
  EXPECT_EQ(served.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(flights.coalesced(), static_cast<std::uint64_t>(kRounds * (kThreads - 1)));
  EXPECT_EQ(flights.size(), 0u);
}

}  // namespace
}  // namespace pgro::cache
