// The session's side of the fleet cache (fleet/l2_cache.hpp): after a local miss that this
// session leads (the local coalescing made it the one to ask), L2 is asked before upstream;
// a fill is written through.
#include <algorithm>
#include <chrono>
#include <cstdint>

#include <spdlog/spdlog.h>

#include "protocol/framing.hpp"
#include "session/client_session.hpp"

namespace pgro::session {

namespace {

// What L2 returned is replayed to the client byte for byte, so it must be what a fill stores:
// whole backend messages, none of them a ReadyForQuery (pgro adds its own) or a frame
// longer than what is left. Anything else (a corrupt or foreign value) is a miss.
bool wellFormedReply(std::string_view bytes) {
  while (!bytes.empty()) {
    if (bytes.size() < protocol::kTypedHeaderSize || bytes[0] == 'Z') return false;
    const std::uint32_t length = protocol::typedLength(bytes);
    if (length == 0 || length - 4 > bytes.size() - protocol::kTypedHeaderSize) return false;
    bytes.remove_prefix(std::size_t{length} + 1);
  }
  return true;
}

}  // namespace

std::string ClientSession::fleetKey(std::string_view key) const {
  if (ctx_->l2 == nullptr) return {};
  // The local key is database \0 policy-generation \0 settings... (cacheKey()). The policy
  // generation counts this process's reloads; L2Cache puts the catalog fingerprint, which
  // all replicas share, in its place.
  const auto first = key.find('\0');
  const auto second = first == std::string_view::npos ? first : key.find('\0', first + 1);
  if (second == std::string_view::npos) return {};
  std::string material;
  material.reserve(key.size());
  material.append(key.substr(0, first + 1));
  material.append(key.substr(second + 1));
  return ctx_->l2->keyFor(material);
}

asio::awaitable<std::shared_ptr<const cache::CachedReply>> ClientSession::fleetLookup(
    const std::string& key, const CachePlan& plan, FleetClaim& claim) {
  claim = {};
  if (ctx_->l2 == nullptr) co_return nullptr;
  claim.key = fleetKey(key);
  if (claim.key.empty()) co_return nullptr;
  const std::size_t loop = static_cast<std::size_t>(loop_);
  auto lookup = co_await ctx_->l2->get(loop, claim.key);
  if (state_ == State::Closing) co_return nullptr;
  if (!lookup.found && !lookup.failed && ctx_->config->cache_l2_lease_ms > 0) {
    // Missing everywhere: one replica runs it, the others wait for its fill.
    if (co_await ctx_->l2->lease(loop, claim.key)) {
      claim.lease = true;
    } else if (state_ != State::Closing) {
      lookup.found = co_await ctx_->l2->awaitFill(loop, claim.key);
    }
  }
  if (!lookup.found || state_ == State::Closing) co_return nullptr;
  if (!wellFormedReply(lookup.found->bytes)) {
    spdlog::warn("fleet cache: ignored a malformed entry ({} bytes) from L2",
                 lookup.found->bytes.size());
    co_return nullptr;
  }
  // Kept here for what is left of its TTL (or less, by this statement's rule or hint).
  auto ttl = lookup.found->ttl;
  if (plan.policy.ttl) ttl = std::min(ttl, *plan.policy.ttl);
  const auto now = std::chrono::steady_clock::now();
  auto reply = std::make_shared<cache::CachedReply>();
  reply->bytes = std::move(lookup.found->bytes);
  reply->stored = now;
  reply->expires = now + ttl;
  if (ctx_->l2->current(claim.key)) {  // not from before a reset that came meanwhile
    cache::EntryPolicy policy = plan.policy;
    policy.ttl = ttl;
    ctx_->cache->put(key, reply->bytes, std::chrono::microseconds(0), policy);
  }
  claim = {};  // nothing to write back
  co_return reply;
}

void ClientSession::fleetFill(const FleetClaim& claim, const cache::CachedReply* reply) {
  if (ctx_->l2 == nullptr || claim.key.empty()) return;
  const std::size_t loop = static_cast<std::size_t>(loop_);
  if (reply == nullptr || !ctx_->l2->current(claim.key)) {
    if (claim.lease) ctx_->l2->release(loop, claim.key);
    return;
  }
  const auto ttl =
      std::chrono::duration_cast<std::chrono::milliseconds>(reply->expires - reply->stored);
  ctx_->l2->put(loop, claim.key, reply->bytes, ttl);
}

}  // namespace pgro::session
