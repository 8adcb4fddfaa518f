#include "session/governor.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <limits>
#include <optional>

namespace pgro::session {

namespace {

// The per-login overrides: name -> member.
const std::array<std::pair<std::string_view, int GovernorLimits::*>, 5> kOverrides = {{
    {"query_timeout_seconds", &GovernorLimits::query_timeout_seconds},
    {"idle_transaction_timeout_seconds", &GovernorLimits::idle_transaction_timeout_seconds},
    {"client_idle_timeout_seconds", &GovernorLimits::client_idle_timeout_seconds},
    {"max_user_connections", &GovernorLimits::max_user_connections},
    {"max_user_active_queries", &GovernorLimits::max_user_active_queries},
}};

// The per-login result limits: name -> member (64-bit: byte counts pass 2^31).
const std::array<std::pair<std::string_view, std::int64_t GovernorLimits::*>, 2> kResultOverrides =
    {{
        {"max_result_rows", &GovernorLimits::max_result_rows},
        {"max_result_bytes", &GovernorLimits::max_result_bytes},
    }};

constexpr int kMaxOverride = 2147483;
constexpr std::int64_t kMaxResultOverride = std::numeric_limits<std::int64_t>::max();

std::optional<std::int64_t> resultOverrideValue(std::string_view value) {
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || out < 0) return std::nullopt;
  return out;
}

std::optional<int> overrideValue(std::string_view value) {
  int out = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || end != value.data() + value.size() || out < 0 || out > kMaxOverride) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

GovernorLimits GovernorLimits::forLogin(const config::Config& config,
                                        const auth::UserStore::Settings* overrides) {
  GovernorLimits limits;
  limits.query_timeout_seconds = config.query_timeout_seconds;
  limits.idle_transaction_timeout_seconds = config.idle_transaction_timeout_seconds;
  limits.client_idle_timeout_seconds = config.client_idle_timeout_seconds;
  limits.max_user_connections = config.max_user_connections;
  limits.max_user_active_queries = config.max_user_active_queries;
  limits.max_result_rows = config.max_result_rows;
  limits.max_result_bytes = config.max_result_bytes;
  if (overrides == nullptr) return limits;
  for (const auto& [name, member] : kOverrides) {
    auto it = overrides->find(name);
    if (it == overrides->end()) continue;
    if (auto value = overrideValue(it->second)) limits.*member = *value;  // checked at load
  }
  for (const auto& [name, member] : kResultOverrides) {
    auto it = overrides->find(name);
    if (it == overrides->end()) continue;
    if (auto value = resultOverrideValue(it->second)) limits.*member = *value;
  }
  return limits;
}

std::string GovernorLimits::checkOverride(std::string_view name, std::string_view value) {
  for (const auto& [known, member] : kOverrides) {
    if (known != name) continue;
    if (!overrideValue(value)) {
      return "expected an integer in 0.." + std::to_string(kMaxOverride) + ", got \"" +
             std::string(value) + "\"";
    }
    return {};
  }
  for (const auto& [known, member] : kResultOverrides) {
    if (known != name) continue;
    if (!resultOverrideValue(value)) {
      return "expected an integer in 0.." + std::to_string(kMaxResultOverride) + ", got \"" +
             std::string(value) + "\"";
    }
    return {};
  }
  std::string names;
  for (const auto& [known, member] : kOverrides) {
    names += (names.empty() ? "" : ", ") + std::string(known);
  }
  for (const auto& [known, member] : kResultOverrides) names += ", " + std::string(known);
  return "unknown setting (per-login settings: " + names + ")";
}

std::string_view limitName(GovernorLimit limit) {
  switch (limit) {
    case GovernorLimit::PgSleep:
      return "pg_sleep";
    case GovernorLimit::QueryTimeout:
      return "query_timeout";
    case GovernorLimit::IdleTransactionTimeout:
      return "idle_transaction_timeout";
    case GovernorLimit::ClientIdleTimeout:
      return "client_idle_timeout";
    case GovernorLimit::UserConnections:
      return "user_connections";
    case GovernorLimit::UserActiveQueries:
      return "user_active_queries";
    case GovernorLimit::ResultRows:
      return "result_rows";
    case GovernorLimit::ResultBytes:
      return "result_bytes";
  }
  return "unknown";
}

std::optional<ResultCut> cutResult(std::string_view reply, const GovernorLimits& limits) {
  if (limits.max_result_rows <= 0 && limits.max_result_bytes <= 0) return std::nullopt;
  ResultMeter meter;
  std::size_t pos = 0;
  while (reply.size() - pos >= 5) {
    const auto* u = reinterpret_cast<const unsigned char*>(reply.data() + pos + 1);
    const std::size_t total = ((std::size_t{u[0]} << 24) | (std::size_t{u[1]} << 16) |
                               (std::size_t{u[2]} << 8) | std::size_t{u[3]}) +
                              1;
    const char type = reply[pos];
    if (type == 'D' || type == 'd') {
      if (auto limit = meter.add(total, limits)) return ResultCut{pos, *limit};
    } else if (type != 'N' && type != 'S' && type != 'A') {
      meter.reset();  // a result ends (or begins) at every other message
    }
    pos += total;
  }
  return std::nullopt;
}

std::string resultLimitMessage(GovernorLimit limit, const GovernorLimits& limits) {
  if (limit == GovernorLimit::ResultRows) {
    return "result exceeds MAX_RESULT_ROWS (" + std::to_string(limits.max_result_rows) + " rows)";
  }
  return "result exceeds MAX_RESULT_BYTES (" + std::to_string(limits.max_result_bytes) + " bytes)";
}

void GovernorCounters::add(GovernorLimit limit, const std::string& user) {
  std::lock_guard lock(mu_);
  ++counts_[{limit, user}];
}

std::map<std::string, std::map<std::string, std::uint64_t>> GovernorCounters::snapshot() const {
  std::map<std::string, std::map<std::string, std::uint64_t>> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts_) out[std::string(limitName(key.first))][key.second] = n;
  return out;
}

bool UserGate::addConnection(const std::string& user, int max) {
  std::lock_guard lock(mu_);
  Login& login = logins_[user];
  if (max > 0 && login.connections >= max) {
    forgetIfUnused(logins_.find(user));
    return false;
  }
  ++login.connections;
  return true;
}

void UserGate::removeConnection(const std::string& user) {
  std::lock_guard lock(mu_);
  auto it = logins_.find(user);
  if (it == logins_.end()) return;
  --it->second.connections;
  forgetIfUnused(it);
}

boost::asio::awaitable<bool> UserGate::acquireActive(boost::asio::any_io_executor executor,
                                                     const std::string& user, int max,
                                                     std::chrono::milliseconds timeout) {
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mu_);
    Login& login = logins_[user];
    if (login.active < max) {
      ++login.active;
      co_return true;
    }
    waiter = std::make_shared<Waiter>(executor);
    login.waiters.push_back(waiter);
  }
  waiter->timer.expires_after(timeout);
  boost::system::error_code ec;
  co_await waiter->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  std::lock_guard lock(mu_);
  if (waiter->served) co_return true;  // releaseActive() handed its slot over
  auto it = logins_.find(user);
  if (it != logins_.end()) {
    std::erase(it->second.waiters, waiter);
    forgetIfUnused(it);
  }
  co_return false;
}

void UserGate::releaseActive(const std::string& user) {
  std::lock_guard lock(mu_);
  auto it = logins_.find(user);
  if (it == logins_.end()) return;
  Login& login = it->second;
  if (!login.waiters.empty()) {
    // The slot goes to the first waiter as it is: the count stays.
    auto waiter = login.waiters.front();
    login.waiters.pop_front();
    waiter->served = true;
    boost::asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
    return;
  }
  --login.active;
  forgetIfUnused(it);
}

void UserGate::forgetIfUnused(std::map<std::string, Login>::iterator it) {
  if (it != logins_.end() && it->second.connections <= 0 && it->second.active <= 0 &&
      it->second.waiters.empty()) {
    logins_.erase(it);
  }
}

}  // namespace pgro::session
