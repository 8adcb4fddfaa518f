#include "session/catalog_refresher.hpp"

#include <algorithm>
#include <utility>

namespace pgro::session {

CatalogRefresher::CatalogRefresher(Lookup lookup, std::chrono::milliseconds min_interval,
                                   std::chrono::milliseconds refresh_interval,
                                   std::chrono::milliseconds check_interval)
    : lookup_(std::move(lookup)),
      min_interval_(min_interval),
      refresh_interval_(refresh_interval),
      check_interval_(check_interval),
      last_start_(std::chrono::steady_clock::now().time_since_epoch().count()),
      thread_([this] { run(); }) {}

CatalogRefresher::~CatalogRefresher() {
  stop();
}

void CatalogRefresher::request(std::vector<std::string> names, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      waiting_.push_back({std::move(names), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(Outcome::Failed);
}

void CatalogRefresher::stop() {
  std::vector<Waiter> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    left.swap(waiting_);
  }
  for (Waiter& waiter : left) waiter.done(Outcome::Failed);
}

void CatalogRefresher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    // Whoever asks in the meantime joins this look-up (they asked before it started).
    if (cv_.wait_until(lock, next_start_, [this] { return stopping_; })) return;
    std::vector<Waiter> batch;
    std::vector<std::string> names;
    std::size_t taken = 0;
    for (; taken < waiting_.size(); ++taken) {
      if (taken > 0 && names.size() + waiting_[taken].names.size() > kMaxNamesPerLookup) break;
      for (const std::string& name : waiting_[taken].names) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
    batch.assign(std::make_move_iterator(waiting_.begin()),
                 std::make_move_iterator(waiting_.begin() + static_cast<std::ptrdiff_t>(taken)));
    waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(taken));
    const auto started = std::chrono::steady_clock::now();
    last_start_.store(started.time_since_epoch().count(), std::memory_order_release);
    lock.unlock();
    const Outcome outcome = lookup_(names);
    lookups_.fetch_add(1, std::memory_order_relaxed);
    if (outcome == Outcome::Refreshed) refreshes_.fetch_add(1, std::memory_order_relaxed);
    for (Waiter& waiter : batch) waiter.done(outcome);
    lock.lock();
    next_start_ = started + (outcome == Outcome::Refreshed ? refresh_interval_ : min_interval_);
  }
}

}  // namespace pgro::session
