#include "fleet/l2_cache.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

namespace pgro::fleet {

namespace {

constexpr std::string_view kKeyPrefix = "pgro:r:";

std::string hexSha256(std::string_view a, std::string_view b) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  EVP_DigestUpdate(md, a.data(), a.size());
  EVP_DigestUpdate(md, "\0", 1);
  EVP_DigestUpdate(md, b.data(), b.size());
  EVP_DigestFinal_ex(md, digest, &length);
  EVP_MD_CTX_free(md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// The generation a key (from keyFor) was made under, -1 if it is not one.
int64_t keyGeneration(std::string_view key) {
  if (!key.starts_with(kKeyPrefix)) return -1;
  key.remove_prefix(kKeyPrefix.size());
  int64_t value = -1;
  const auto r = std::from_chars(key.data(), key.data() + key.size(), value);
  return r.ec == std::errc() ? value : -1;
}

}  // namespace

L2Cache::L2Cache(L2Settings settings, std::vector<asio::any_io_executor> loops,
                 std::function<void()> on_fleet_reset)
    : settings_(std::move(settings)),
      loops_(std::move(loops)),
      on_fleet_reset_(std::move(on_fleet_reset)) {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    RedisClient::Options options;
    options.url = settings_.url;
    options.timeout = settings_.timeout;
    const std::string where = settings_.url.host + ":" + std::to_string(settings_.url.port);
    options.on_error = [this, i, where](std::string_view why) {
      if (i == 0) {
        // The generation is read on loop 0's connection: without it, a reset elsewhere
        // would go unseen, so L2 is not used until it is read again.
        connected_.store(false, std::memory_order_relaxed);
        generation_.store(-1, std::memory_order_release);
      }
      failed("connection to " + where + ": " + std::string(why));
    };
    if (i == 0) {
      options.on_ready = [this, where] {
        connected_.store(true, std::memory_order_relaxed);
        spdlog::info("fleet cache: connected to {}", where);
        pollGeneration();
      };
    }
    clients_.push_back(std::make_shared<RedisClient>(loops_[i], std::move(options)));
  }
}

L2Cache::~L2Cache() {
  stop();
}

void L2Cache::start() {
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    asio::post(loops_[i], [client = clients_[i]] { client->start(); });
  }
  poll_timer_ = std::make_shared<asio::steady_timer>(loops_[0]);
  asio::post(loops_[0], [this] { armPoll(); });
}

void L2Cache::armPoll() {
  poll_timer_->expires_after(settings_.generation_poll);
  poll_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || poll_timer_ == nullptr) return;
    pollGeneration();
    armPoll();
  });
}

void L2Cache::stop() {
  // Only once the loops no longer run (ProxyServer's destructor): the clients and the timer
  // belong to them, and must go before the loops' io_contexts do.
  if (poll_timer_) poll_timer_->cancel();
  poll_timer_.reset();
  for (auto& client : clients_) client->stop();
  clients_.clear();
}

std::string L2Cache::keyFor(std::string_view local_key) const {
  const int64_t generation = generation_.load(std::memory_order_acquire);
  if (generation < 0) return {};
  std::string key(kKeyPrefix);
  key += std::to_string(generation);
  key.push_back(':');
  std::lock_guard lock(scope_mu_);
  key += hexSha256(scope_, local_key);
  return key;
}

bool L2Cache::current(std::string_view key) const {
  const int64_t generation = generation_.load(std::memory_order_acquire);
  return generation >= 0 && keyGeneration(key) == generation;
}

asio::awaitable<L2Cache::Lookup> L2Cache::fetch(std::size_t loop, std::string key) {
  // Built outside the co_await: GCC 12 miscompiles nested braced lists in one.
  std::vector<std::vector<std::string>> commands;
  commands.push_back({"GET", key});
  commands.push_back({"PTTL", key});
  auto replies = co_await clients_[loop]->call(std::move(commands));
  const RedisReply& value = replies[0];
  const RedisReply& ttl = replies[1];
  Lookup out;
  if (value.failed() || ttl.failed()) {
    out.failed = true;
    failed("GET: " + (value.failed() ? value.str : ttl.str));
    co_return out;
  }
  // PTTL below 1: the key expired between the two (or has no expiry, which pgro never sets).
  if (value.type == RedisReply::Type::String && ttl.type == RedisReply::Type::Integer &&
      ttl.integer >= 1) {
    out.found = Found{std::move(replies[0].str), std::chrono::milliseconds(ttl.integer)};
  }
  co_return out;
}

asio::awaitable<L2Cache::Lookup> L2Cache::get(std::size_t loop, std::string key) {
  auto lookup = co_await fetch(loop, std::move(key));
  if (lookup.found) {
    hits_.fetch_add(1, std::memory_order_relaxed);
  } else if (!lookup.failed) {
    misses_.fetch_add(1, std::memory_order_relaxed);
  }
  co_return lookup;
}

void L2Cache::put(std::size_t loop, const std::string& key, std::string_view bytes,
                  std::chrono::milliseconds ttl) {
  if (bytes.size() > settings_.max_entry_bytes) {
    too_large_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (ttl.count() < 1) return;
  const std::string px = std::to_string(ttl.count());
  clients_[loop]->command({"SET", key, bytes, "PX", px}, [this](const RedisReply& reply) {
    if (reply.failed()) {
      failed("SET: " + reply.str);
    } else {
      writes_.fetch_add(1, std::memory_order_relaxed);
    }
  });
}

asio::awaitable<bool> L2Cache::lease(std::size_t loop, std::string key) {
  key += ":lease";
  std::vector<std::vector<std::string>> commands;
  commands.push_back({"SET", key, "1", "NX", "PX", std::to_string(settings_.lease.count())});
  auto replies = co_await clients_[loop]->call(std::move(commands));
  if (replies[0].failed()) {
    failed("SET NX (lease): " + replies[0].str);
    co_return true;
  }
  co_return replies[0].type != RedisReply::Type::Nil;
}

asio::awaitable<std::optional<L2Cache::Found>> L2Cache::awaitFill(std::size_t loop,
                                                                  std::string key) {
  lease_waits_.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = std::chrono::steady_clock::now() + settings_.lease;
  asio::steady_timer timer(loops_[loop]);
  while (std::chrono::steady_clock::now() < deadline && current(key)) {
    timer.expires_after(settings_.lease_poll);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto lookup = co_await fetch(loop, key);
    if (lookup.failed) break;
    if (lookup.found) {
      lease_filled_.fetch_add(1, std::memory_order_relaxed);
      hits_.fetch_add(1, std::memory_order_relaxed);
      co_return std::move(lookup.found);
    }
  }
  co_return std::nullopt;
}

void L2Cache::release(std::size_t loop, const std::string& key) {
  clients_[loop]->command({"DEL", key + ":lease"}, [this](const RedisReply& reply) {
    if (reply.failed()) failed("DEL (lease): " + reply.str);
  });
}

void L2Cache::reset() {
  generation_.store(-1, std::memory_order_release);
  asio::post(loops_[0], [this] {
    if (clients_.empty()) return;
    reset_owed_ = true;
    incrementGeneration();
  });
}

void L2Cache::incrementGeneration() {
  // Loop 0. Owed until INCR answers: a reset while Redis is down is made when it is back,
  // before L2 is used again (the generation stays unknown meanwhile).
  if (!reset_owed_ || !clients_[0]->ready()) return;
  ++resets_pending_;
  clients_[0]->command({"INCR", kGenerationKey}, [this](const RedisReply& reply) {
    --resets_pending_;
    if (reply.failed() || reply.type != RedisReply::Type::Integer) {
      failed("INCR " + std::string(kGenerationKey) + ": " + reply.str);
      return;
    }
    reset_owed_ = false;
    spdlog::info("fleet cache: reset, generation {}", reply.integer);
    generationSeen(reply.integer);
  });
}

void L2Cache::pollGeneration() {
  // Loop 0.
  if (clients_.empty() || !clients_[0]->ready()) return;
  if (reset_owed_) {
    if (resets_pending_ == 0) incrementGeneration();
    return;
  }
  if (resets_pending_ > 0) return;
  clients_[0]->command({"GET", kGenerationKey}, [this](const RedisReply& reply) {
    long long generation = 0;  // no key yet: generation 0
    if (reply.type == RedisReply::Type::String) {
      const auto r =
          std::from_chars(reply.str.data(), reply.str.data() + reply.str.size(), generation);
      if (r.ec != std::errc() || generation < 0) {
        failed(std::string(kGenerationKey) + " is not a generation: " + reply.str);
        return;
      }
    } else if (reply.type != RedisReply::Type::Nil) {
      failed("GET " + std::string(kGenerationKey) + ": " + reply.str);
      return;
    }
    // A reset asked for since the GET was sent is not undone by its answer.
    if (reset_owed_ || resets_pending_ > 0) return;
    generationSeen(generation);
  });
}

void L2Cache::generationSeen(long long generation) {
  if (seen_ >= 0 && generation != seen_) {
    resets_.fetch_add(1, std::memory_order_relaxed);
    if (on_fleet_reset_) on_fleet_reset_();
    spdlog::info("fleet cache: generation {} -> {}: local cache cleared", seen_, generation);
  }
  seen_ = generation;
  generation_.store(generation, std::memory_order_release);
}

void L2Cache::setScope(std::string scope) {
  std::lock_guard lock(scope_mu_);
  scope_ = std::move(scope);
}

void L2Cache::failed(std::string_view what) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(log_mu_);
  if (last_log_ != std::chrono::steady_clock::time_point{} && now - last_log_ < kLogInterval) {
    ++unlogged_;
    return;
  }
  spdlog::warn(
      "fleet cache (CACHE_L2_URL): {}; going on with the local cache ({} more errors not logged "
      "since the last message)",
      what, unlogged_);
  unlogged_ = 0;
  last_log_ = now;
}

L2Cache::Stats L2Cache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.writes = writes_.load(std::memory_order_relaxed);
  s.too_large = too_large_.load(std::memory_order_relaxed);
  s.lease_waits = lease_waits_.load(std::memory_order_relaxed);
  s.lease_filled = lease_filled_.load(std::memory_order_relaxed);
  s.resets = resets_.load(std::memory_order_relaxed);
  s.connected = connected_.load(std::memory_order_relaxed);
  s.generation = generation_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace pgro::fleet
