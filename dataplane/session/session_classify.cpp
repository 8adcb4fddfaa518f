// Classification as a step of the session: the verdict cache on the loop, long texts parsed
// on the classification pool, and names the function catalog does not know looked up in
// pg_proc before the statement is judged again (DESIGN.md section 3, layer 3).
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "session/client_session.hpp"
#include "session/statement_gate.hpp"

namespace pgro::session {

namespace {

// Texts at least this long are parsed on the classification pool: parse time grows with the
// text (3.5 MB of IN list took seconds in a debug build), and on the loop it would delay every
// other session there. Shorter texts stay on the loop, where the hop would cost more than the
// parse. (parser_stack.cpp bounds nesting, and may start a big-stack thread, from 8 KB.)
constexpr std::size_t kOffLoopBytes = 16 * 1024;
// The longest a statement waits for a catalog look-up before it is refused (fail closed).
constexpr auto kCatalogLookupWait = std::chrono::seconds(15);

}  // namespace

asio::awaitable<std::shared_ptr<const policy::Verdict>> ClientSession::classifyText(
    std::string_view sql) {
  auto verdict = co_await judgeText(sql);
  // A verdict that calls extension or user functions holds while pg_proc is as the catalog
  // read it: once per CATALOG_CHECK_INTERVAL_MS a look-up checks that (shared by every
  // session), and a function replaced or overloaded since is judged again.
  if (verdict->calls_user_functions && ctx_->catalog_refresher &&
      !ctx_->catalog_refresher->checkedRecently() && state_ != State::Closing) {
    const auto generation = ctx_->policy_generation.load(std::memory_order_acquire);
    co_await flushToServer();  // what the client pipelined before goes on meanwhile
    const auto outcome = co_await awaitCatalogLookup({});
    if (outcome == CatalogRefresher::Outcome::Failed) {
      spdlog::warn(
          "function catalog check failed: the statement runs on the judgement made "
          "when pg_proc was last read");
    }
    if (state_ != State::Closing &&
        ctx_->policy_generation.load(std::memory_order_acquire) != generation) {
      verdict = co_await judgeText(sql);
    }
  }
  co_return verdict;
}

asio::awaitable<std::shared_ptr<const policy::Verdict>> ClientSession::judgeText(
    std::string_view sql) {
  // Copied: the search_path may change while this coroutine waits (it does not today, but
  // the view would dangle if it did).
  const std::string search_path(effectiveSearchPath());
  VerdictLookup lookup = findVerdict(*ctx_, sql, search_path);
  if (lookup.verdict) co_return lookup.verdict;
  auto verdict = co_await runClassifier(sql, lookup.options);
  if (!verdict->unknown_functions.empty() && ctx_->catalog_refresher && state_ != State::Closing) {
    co_await flushToServer();  // what the client pipelined before goes on meanwhile
    const auto outcome = co_await awaitCatalogLookup(verdict->unknown_functions);
    if (state_ != State::Closing &&
        (outcome == CatalogRefresher::Outcome::Refreshed ||
         ctx_->policy_generation.load(std::memory_order_acquire) != lookup.generation)) {
      lookup = findVerdict(*ctx_, sql, search_path);
      if (lookup.verdict) co_return lookup.verdict;
      verdict = co_await runClassifier(sql, lookup.options);
    }
    if (!verdict->unknown_functions.empty()) {
      spdlog::info("unknown function(s) after a catalog look-up ({}): {}",
                   outcome == CatalogRefresher::Outcome::Failed ? "look-up failed" : "not found",
                   verdict->message);
    }
  }
  keepVerdict(*ctx_, sql, search_path, lookup, verdict);
  co_return verdict;
}

asio::awaitable<std::shared_ptr<const policy::Verdict>> ClientSession::runClassifier(
    std::string_view sql, std::shared_ptr<const policy::ClassifierOptions> options) {
  if (sql.size() < kOffLoopBytes || !ctx_->classify_executor) {
    co_return std::make_shared<const policy::Verdict>(policy::classify(sql, *options));
  }
  co_await flushToServer();  // what the client pipelined before goes on meanwhile
  struct Wait {
    explicit Wait(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::shared_ptr<const policy::Verdict> verdict;
  };
  auto ex = client_.socket().get_executor();
  auto wait = std::make_shared<Wait>(ex);
  // `sql` views into in_, which only clientLoop changes, and it is suspended here until the
  // verdict is back (this waits for it whatever happens to the session meanwhile); `self`
  // keeps the buffer alive. One classification per session is in flight at a time, so the
  // pool's queue holds at most one text per session, none of them copied.
  asio::post(
      *ctx_->classify_executor, [self = shared_from_this(), sql, options, wait, ex]() mutable {
        auto verdict = std::make_shared<const policy::Verdict>(policy::classify(sql, *options));
        // `self` goes back with it: the session is never destroyed on the pool's thread.
        asio::post(ex, [wait, verdict = std::move(verdict), self = std::move(self)]() mutable {
          wait->verdict = std::move(verdict);
          wait->timer.cancel();
        });
      });
  wait->timer.expires_at(asio::steady_timer::time_point::max());
  boost::system::error_code ec;
  while (wait->verdict == nullptr) {
    co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return wait->verdict;
}

asio::awaitable<CatalogRefresher::Outcome> ClientSession::awaitCatalogLookup(
    const std::vector<std::string>& names) {
  struct Wait {
    explicit Wait(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::optional<CatalogRefresher::Outcome> outcome;
  };
  auto ex = client_.socket().get_executor();
  auto wait = std::make_shared<Wait>(ex);
  ctx_->catalog_refresher->request(names, [wait, ex](CatalogRefresher::Outcome outcome) {
    asio::post(ex, [wait, outcome] {
      wait->outcome = outcome;
      wait->timer.cancel();
    });
  });
  const auto deadline = std::chrono::steady_clock::now() + kCatalogLookupWait;
  wait->timer.expires_at(deadline);
  boost::system::error_code ec;
  while (!wait->outcome && state_ != State::Closing &&
         std::chrono::steady_clock::now() < deadline) {
    co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return wait->outcome.value_or(CatalogRefresher::Outcome::Failed);
}

}  // namespace pgro::session
