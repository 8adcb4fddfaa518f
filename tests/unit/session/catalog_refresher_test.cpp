// CatalogRefresher: look-ups of unknown function names run one at a time, spaced out, shared
// by every caller waiting, and each caller is answered by a look-up that started after it asked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "session/catalog_refresher.hpp"

namespace pgro::session {
namespace {

using namespace std::chrono_literals;
using Outcome = CatalogRefresher::Outcome;

// A look-up that records what it was asked and how many ran at once.
struct FakeLookup {
  std::mutex mu;
  std::vector<std::vector<std::string>> calls;
  std::atomic<int> running{0};
  std::atomic<int> most_at_once{0};
  std::chrono::milliseconds takes{20};
  Outcome outcome = Outcome::Unchanged;

  CatalogRefresher::Lookup function() {
    return [this](const std::vector<std::string>& names) {
      const int now = ++running;
      int seen = most_at_once.load();
      while (now > seen && !most_at_once.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(takes);
      {
        std::lock_guard lock(mu);
        calls.push_back(names);
      }
      --running;
      return outcome;
    };
  }
};

std::future<Outcome> ask(CatalogRefresher& refresher, std::vector<std::string> names) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  refresher.request(std::move(names), [promise](Outcome o) { promise->set_value(o); });
  return future;
}

TEST(CatalogRefresher, ManyCallersShareFewLookupsOneAtATime) {
  FakeLookup fake;
  CatalogRefresher refresher(fake.function(), 10ms, 50ms);
  std::vector<std::future<Outcome>> answers;
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto answer = ask(refresher, {"f" + std::to_string(i)});
      std::lock_guard lock(mu);
      answers.push_back(std::move(answer));
    });
  }
  for (auto& t : threads) t.join();
  for (auto& answer : answers) EXPECT_EQ(answer.get(), Outcome::Unchanged);
  EXPECT_EQ(fake.most_at_once.load(), 1);
  EXPECT_EQ(refresher.lookups(), fake.calls.size());
  EXPECT_LE(fake.calls.size(), 50U);
  std::size_t names = 0;
  for (const auto& call : fake.calls) names += call.size();
  EXPECT_EQ(names, 50U);  // every name asked about once
  EXPECT_EQ(refresher.refreshes(), 0U);
}

TEST(CatalogRefresher, ACallerWaitsForALookupThatStartedAfterItAsked) {
  FakeLookup fake;
  fake.takes = 100ms;
  fake.outcome = Outcome::Refreshed;
  CatalogRefresher refresher(fake.function(), 1ms, 1ms);
  auto first = ask(refresher, {"a"});
  while (fake.running.load() == 0) std::this_thread::sleep_for(1ms);
  auto second = ask(refresher, {"b"});  // the look-up for "a" is under way already
  EXPECT_EQ(first.get(), Outcome::Refreshed);
  EXPECT_EQ(second.get(), Outcome::Refreshed);
  ASSERT_EQ(fake.calls.size(), 2U);
  EXPECT_EQ(fake.calls[0], std::vector<std::string>{"a"});
  EXPECT_EQ(fake.calls[1], std::vector<std::string>{"b"});
  EXPECT_EQ(refresher.refreshes(), 2U);
}

TEST(CatalogRefresher, StopAnswersWhoeverStillWaits) {
  FakeLookup fake;
  fake.takes = 50ms;
  auto refresher = std::make_unique<CatalogRefresher>(fake.function(), 10s, 10s);
  auto first = ask(*refresher, {"a"});
  EXPECT_EQ(first.get(), Outcome::Unchanged);
  auto second = ask(*refresher, {"b"});  // waits 10 s for its turn
  refresher->stop();
  EXPECT_EQ(second.get(), Outcome::Failed);
  auto third = ask(*refresher, {"c"});  // after stop(): answered at once
  EXPECT_EQ(third.get(), Outcome::Failed);
  refresher.reset();
  EXPECT_EQ(fake.calls.size(), 1U);
}

// The catalog counts as checked for the check interval after a look-up starts (the first
// catalog was read just before construction); 0 means never: every caller asks.
TEST(CatalogRefresher, CheckedRecentlyForTheIntervalAfterALookupStarts) {
  FakeLookup fake;
  fake.takes = 1ms;
  CatalogRefresher refresher(fake.function(), 1ms, 1ms, 200ms);
  EXPECT_TRUE(refresher.checkedRecently());
  std::this_thread::sleep_for(250ms);
  EXPECT_FALSE(refresher.checkedRecently());
  EXPECT_EQ(ask(refresher, {}).get(), Outcome::Unchanged);  // a check of pg_proc alone
  EXPECT_TRUE(refresher.checkedRecently());
  ASSERT_EQ(fake.calls.size(), 1U);
  EXPECT_TRUE(fake.calls[0].empty());

  CatalogRefresher strict(fake.function(), 1ms, 1ms, 0ms);
  EXPECT_FALSE(strict.checkedRecently());
  EXPECT_EQ(ask(strict, {}).get(), Outcome::Unchanged);
  EXPECT_FALSE(strict.checkedRecently());
}

}  // namespace
}  // namespace pgro::session
