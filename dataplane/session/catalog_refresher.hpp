// Looks the function catalog up again when a statement calls a name the loaded snapshot does
// not know (DESIGN.md section 3, layer 3: the catalog fails closed, and functions created after
// pgro started are judged like the others).
//
// The look-up itself is blocking (libpqxx) and comes from main: it asks pg_proc whether any of
// the names exists and, if so, loads the whole catalog and installs it (ProxyContext::
// setCatalog bumps the policy generation, so every loop's verdict cache starts again). This
// class only decides when it runs: on its own thread, one at a time, spaced out, for every
// name requested so far. A caller is answered by the first look-up
// that starts after its request, so a function created before the statement arrived is seen;
// a client sending names that exist nowhere costs the upstream at most one small query per
// interval, however many sessions it opens.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgro::session {

class CatalogRefresher {
 public:
  enum class Outcome : std::uint8_t {
    Failed,     // the upstream could not be asked: nothing was learned
    Unchanged,  // none of the names exists: the loaded catalog stands
    Refreshed,  // a new catalog was loaded and installed
  };
  // Runs on the refresher's thread with the names (lowercase, as the classifier reports them)
  // of every waiting caller, possibly none: every look-up also checks that pg_proc is as the
  // loaded catalog saw it (a function replaced or overloaded since loads it again).
  using Lookup = std::function<Outcome(const std::vector<std::string>& names)>;
  // Runs on the refresher's thread; post to the caller's own loop from it.
  using Done = std::function<void(Outcome)>;

  // A look-up starts at least `min_interval` after the previous one started, and at least
  // `refresh_interval` after one that loaded a new catalog. The catalog counts as current for
  // `check_interval` after a look-up started (CATALOG_CHECK_INTERVAL_MS).
  CatalogRefresher(Lookup lookup, std::chrono::milliseconds min_interval,
                   std::chrono::milliseconds refresh_interval,
                   std::chrono::milliseconds check_interval = std::chrono::seconds(1));
  ~CatalogRefresher();  // stop()
  CatalogRefresher(const CatalogRefresher&) = delete;
  CatalogRefresher& operator=(const CatalogRefresher&) = delete;

  // `done` runs once a look-up that started after this call has finished (or with Failed at
  // stop()).
  void request(std::vector<std::string> names, Done done);
  // Ends the thread; callers still waiting get Failed. Idempotent.
  void stop();

  // When the latest look-up started (construction, right after the first catalog was read,
  // if none did): the installed catalog is at least that fresh.
  [[nodiscard]] std::chrono::steady_clock::time_point lastStart() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_start_.load(std::memory_order_acquire)));
  }

  // Whether a look-up started within the check interval: calls of extension and user
  // functions may run on the loaded judgements without asking pg_proc again.
  [[nodiscard]] bool checkedRecently() const {
    return check_interval_.count() > 0 &&
           std::chrono::steady_clock::now() - lastStart() < check_interval_;
  }

  [[nodiscard]] std::uint64_t lookups() const { return lookups_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t refreshes() const {
    return refreshes_.load(std::memory_order_relaxed);
  }

 private:
  struct Waiter {
    std::vector<std::string> names;
    Done done;
  };
  void run();

  // Names asked about in one look-up at most; more wait for the next one.
  static constexpr std::size_t kMaxNamesPerLookup = 1000;

  Lookup lookup_;
  const std::chrono::milliseconds min_interval_;
  const std::chrono::milliseconds refresh_interval_;
  const std::chrono::milliseconds check_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Waiter> waiting_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_start_{};  // the earliest the next one may start
  std::atomic<std::chrono::steady_clock::rep> last_start_{0};
  std::atomic<std::uint64_t> lookups_{0};
  std::atomic<std::uint64_t> refreshes_{0};
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace pgro::session
