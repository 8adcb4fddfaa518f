#include "controlplane/admin_service.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

#include "controlplane/admin_security.hpp"

namespace pgro::controlplane {

namespace {

constexpr std::size_t kQueryChars = 200;
constexpr uint64_t kDefaultShapes = 20;
// Ten years: far beyond any useful TTL, and far from overflowing a clock's time_point.
constexpr int64_t kMaxTtlSeconds = 10LL * 365 * 24 * 3600;

std::string peerOf(const grpc::ServerContext* ctx) {
  return ctx->peer();
}

}  // namespace

template <typename Fn>
grpc::Status AdminService::guarded(grpc::ServerContext* ctx, const char* method, Fn&& fn) {
  if (!token_.empty()) {
    const auto& md = ctx->client_metadata();
    const auto it = md.find("authorization");
    const bool ok = it != md.end() &&
                    bearerMatches(std::string_view(it->second.data(), it->second.size()), token_);
    if (!ok) {
      spdlog::warn("admin: {} from {} refused: {} bearer token", method, peerOf(ctx),
                   it == md.end() ? "no" : "wrong");
      return {grpc::StatusCode::UNAUTHENTICATED,
              "missing or wrong admin token (metadata authorization: Bearer <ADMIN_TOKEN>)"};
    }
  }
  try {
    return fn();
  } catch (const std::exception& e) {
    spdlog::error("admin: {} from {} failed: {}", method, peerOf(ctx), e.what());
    return {grpc::StatusCode::INTERNAL, validUtf8(e.what())};
  }
}

void toProto(const server::StatsSnapshot& s, adminpb::GetStatsResponse& out) {
  auto& c = *out.mutable_cache();
  c.set_enabled(s.cache.enabled);
  c.set_ttl_seconds(s.cache.ttl_seconds);
  c.set_entries(s.cache.entries);
  c.set_bytes(s.cache.bytes);
  c.set_max_entries(s.cache.max_entries);
  c.set_max_bytes(s.cache.max_bytes);
  c.set_hits(s.cache.hits);
  c.set_misses(s.cache.misses);
  c.set_evictions(s.cache.evictions);
  c.set_coalesced(s.cache.coalesced);
  c.set_hit_ratio(s.cache.hit_ratio);
  auto& q = *out.mutable_queries();
  q.set_forwarded(s.queries.forwarded);
  q.set_cache_hits(s.queries.cache_hits);
  q.set_refused(s.queries.refused);
  for (const auto& [reason, n] : s.queries.refused_by_reason) {
    (*q.mutable_refused_by_reason())[validUtf8(reason)] = n;
  }
  q.set_protocol_errors(s.queries.protocol_errors);
  auto& p = *out.mutable_pool();
  p.set_size(s.pool.size);
  p.set_open(s.pool.open);
  p.set_idle(s.pool.idle);
  p.set_busy(s.pool.busy);
  p.set_waiting(s.pool.waiting);
  p.set_connects(s.pool.connects);
  p.set_connect_errors(s.pool.connect_errors);
  p.set_timeouts(s.pool.timeouts);
  p.set_tripwire_trips(s.pool.tripwire_trips);
  auto& cl = *out.mutable_clients();
  cl.set_current(s.clients_current);
  cl.set_total(s.clients_total);
  cl.set_refused(s.clients_refused);
  cl.set_auth_failures(s.auth_failures);
  out.mutable_upstream()->set_up(s.upstream_up);
  out.set_uptime_seconds(s.uptime_seconds);
  out.set_version(validUtf8(s.version));
}

void toProto(const server::SessionView& s, adminpb::Session& out) {
  out.set_user(validUtf8(s.user));
  out.set_client_address(validUtf8(s.client_address));
  out.set_application_name(validUtf8(s.application_name));
  out.set_state(validUtf8(s.state));
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(s.since.time_since_epoch());
  const auto secs = std::chrono::floor<std::chrono::seconds>(ns);
  out.mutable_since()->set_seconds(secs.count());
  out.mutable_since()->set_nanos(static_cast<int32_t>((ns - secs).count()));
  out.set_query(truncateUtf8(validUtf8(s.query), kQueryChars));
}

void toProto(const server::ShapeStatsView& s, adminpb::GetQueryStatsResponse& out) {
  out.set_enabled(s.enabled);
  out.set_top_k(s.top_k);
  out.set_statements(s.statements);
  out.set_unfingerprinted(s.unfingerprinted);
  out.set_shapes_tracked(s.shapes_tracked);
  out.set_evictions(s.evictions);
  for (const auto& v : s.shapes) {
    auto& q = *out.add_shapes();
    q.set_fingerprint(v.fingerprint);
    q.set_text(validUtf8(v.text));
    q.set_calls(v.calls);
    q.set_calls_error(v.calls_error);
    q.set_rows(v.rows);
    q.set_bytes(v.bytes);
    q.set_refused(v.refused);
    q.set_errors(v.errors);
    q.set_cache_hits(v.cache_hits);
    q.set_cache_misses(v.cache_misses);
    q.set_cache_coalesced(v.cache_coalesced);
    q.set_cache_stale(v.cache_stale);
    q.set_upstream_calls(v.upstream_calls);
    q.set_upstream_total_ms(v.upstream_total_ms);
    q.set_upstream_mean_ms(v.upstream_mean_ms);
    q.set_upstream_p50_ms(v.upstream_p50_ms);
    q.set_upstream_p99_ms(v.upstream_p99_ms);
    q.set_saved_ms(v.saved_ms);
    for (const auto& [login, calls] : v.logins) {
      auto& l = *q.add_logins();
      l.set_login(validUtf8(login));
      l.set_calls(calls);
    }
    q.set_other_login_calls(v.other_login_calls);
  }
}

grpc::Status AdminService::ResetCache(grpc::ServerContext* ctx, const adminpb::ResetCacheRequest*,
                                      adminpb::ResetCacheResponse* resp) {
  return guarded(ctx, "ResetCache", [&] {
    resp->set_entries_cleared(target_.resetCache());
    spdlog::info("admin: cache reset by {}: {} entries cleared", peerOf(ctx),
                 resp->entries_cleared());
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::GetStats(grpc::ServerContext* ctx, const adminpb::GetStatsRequest*,
                                    adminpb::GetStatsResponse* resp) {
  return guarded(ctx, "GetStats", [&] {
    toProto(target_.stats(), *resp);
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::SetCacheTtl(grpc::ServerContext* ctx,
                                       const adminpb::SetCacheTtlRequest* req,
                                       adminpb::SetCacheTtlResponse* resp) {
  return guarded(ctx, "SetCacheTtl", [&] {
    if (req->seconds() <= 0 || req->seconds() > kMaxTtlSeconds) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "cache TTL must be 1.." + std::to_string(kMaxTtlSeconds) +
                              " seconds, got " + std::to_string(req->seconds()));
    }
    target_.setCacheTtl(std::chrono::seconds(req->seconds()));
    resp->set_ttl_seconds(req->seconds());
    spdlog::info("admin: cache TTL set to {}s by {}", req->seconds(), peerOf(ctx));
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::SetCacheEnabled(grpc::ServerContext* ctx,
                                           const adminpb::SetCacheEnabledRequest* req,
                                           adminpb::SetCacheEnabledResponse* resp) {
  return guarded(ctx, "SetCacheEnabled", [&] {
    target_.setCacheEnabled(req->enabled());
    resp->set_enabled(req->enabled());
    spdlog::info("admin: cache {} by {}", req->enabled() ? "enabled" : "disabled", peerOf(ctx));
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::ListSessions(grpc::ServerContext* ctx,
                                        const adminpb::ListSessionsRequest*,
                                        adminpb::ListSessionsResponse* resp) {
  return guarded(ctx, "ListSessions", [&] {
    for (const auto& s : target_.sessions()) toProto(s, *resp->add_sessions());
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::GetConfig(grpc::ServerContext* ctx, const adminpb::GetConfigRequest*,
                                     adminpb::GetConfigResponse* resp) {
  return guarded(ctx, "GetConfig", [&] {
    for (const auto& [name, value] : target_.config()) {
      auto& s = *resp->add_settings();
      s.set_name(validUtf8(name));
      // The data plane redacts already; a secret that slipped through is redacted here too.
      s.set_value(isSecretSetting(name) && !value.empty() ? "***" : validUtf8(value));
    }
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::ReloadPolicy(grpc::ServerContext* ctx,
                                        const adminpb::ReloadPolicyRequest*,
                                        adminpb::ReloadPolicyResponse* resp) {
  return guarded(ctx, "ReloadPolicy", [&] {
    const auto r = target_.reload();
    resp->set_ok(r.ok);
    resp->set_message(validUtf8(r.message));
    spdlog::info("admin: reload requested by {}: {}", peerOf(ctx), r.ok ? "ok" : r.message);
    return grpc::Status::OK;
  });
}

void toProto(const server::CacheRuleView& r, adminpb::CacheRule& out) {
  out.set_fingerprint(validUtf8(r.fingerprint));
  out.set_sample(validUtf8(r.sample));
  if (r.ttl_ms) out.set_ttl_ms(*r.ttl_ms);
  if (r.swr_percent) out.set_swr_percent(*r.swr_percent);
  if (r.stale_if_error_seconds) out.set_stale_if_error_seconds(*r.stale_if_error_seconds);
  out.set_nocache(r.nocache);
  out.set_matched(r.matched);
  out.set_hits(r.hits);
}

namespace {

grpc::Status statusOf(const server::CacheRuleResult& r) {
  using Status = server::CacheRuleResult::Status;
  switch (r.status) {
    case Status::Ok:
      return grpc::Status::OK;
    case Status::Invalid:
      return {grpc::StatusCode::INVALID_ARGUMENT, validUtf8(r.message)};
    case Status::NotFound:
      return {grpc::StatusCode::NOT_FOUND, validUtf8(r.message)};
    case Status::Failed:
      break;
  }
  return {grpc::StatusCode::FAILED_PRECONDITION, validUtf8(r.message)};
}

}  // namespace

grpc::Status AdminService::AddCacheRule(grpc::ServerContext* ctx,
                                        const adminpb::AddCacheRuleRequest* req,
                                        adminpb::AddCacheRuleResponse* resp) {
  return guarded(ctx, "AddCacheRule", [&] {
    const auto& rule = req->rule();
    if (!req->query().empty() && !rule.fingerprint().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "give the shape by a query or by a fingerprint, not both");
    }
    const int64_t max_ms = kMaxTtlSeconds * 1000;
    if (rule.has_ttl_ms() && (rule.ttl_ms() <= 0 || rule.ttl_ms() > max_ms)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "ttl must be 1.." + std::to_string(max_ms) + " ms");
    }
    if (rule.has_stale_if_error_seconds() &&
        (rule.stale_if_error_seconds() < 0 || rule.stale_if_error_seconds() > kMaxTtlSeconds)) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "stale-if-error must be 0.." + std::to_string(kMaxTtlSeconds) + " seconds");
    }
    server::CacheRuleView view;
    view.fingerprint = rule.fingerprint();
    view.sample = rule.sample();
    if (rule.has_ttl_ms()) view.ttl_ms = rule.ttl_ms();
    if (rule.has_swr_percent()) view.swr_percent = rule.swr_percent();
    if (rule.has_stale_if_error_seconds()) {
      view.stale_if_error_seconds = rule.stale_if_error_seconds();
    }
    view.nocache = rule.nocache();
    const auto result = target_.addCacheRule(req->query(), std::move(view));
    if (result.status == server::CacheRuleResult::Status::Ok) {
      toProto(result.rule, *resp->mutable_rule());
      spdlog::info("admin: cache rule {} set by {}", result.rule.fingerprint, peerOf(ctx));
    }
    return statusOf(result);
  });
}

grpc::Status AdminService::ListCacheRules(grpc::ServerContext* ctx,
                                          const adminpb::ListCacheRulesRequest*,
                                          adminpb::ListCacheRulesResponse* resp) {
  return guarded(ctx, "ListCacheRules", [&] {
    for (const auto& rule : target_.cacheRules()) toProto(rule, *resp->add_rules());
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::GetQueryStats(grpc::ServerContext* ctx,
                                         const adminpb::GetQueryStatsRequest* req,
                                         adminpb::GetQueryStatsResponse* resp) {
  return guarded(ctx, "GetQueryStats", [&] {
    server::ShapeStatsRequest request;
    request.order = req->order_by().empty() ? "time" : req->order_by();
    if (request.order != "time" && request.order != "calls" && request.order != "saved" &&
        request.order != "bytes") {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "order_by must be time, calls, saved or bytes, got '" + validUtf8(request.order) + "'");
    }
    request.user = req->user();
    request.limit = req->all() ? 0 : req->limit() == 0 ? kDefaultShapes : req->limit();
    toProto(target_.queryStats(request), *resp);
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::RemoveCacheRule(grpc::ServerContext* ctx,
                                           const adminpb::RemoveCacheRuleRequest* req,
                                           adminpb::RemoveCacheRuleResponse*) {
  return guarded(ctx, "RemoveCacheRule", [&] {
    const auto result = target_.removeCacheRule(req->fingerprint());
    if (result.status == server::CacheRuleResult::Status::Ok) {
      spdlog::info("admin: cache rule {} removed by {}", req->fingerprint(), peerOf(ctx));
    }
    return statusOf(result);
  });
}

grpc::Status AdminService::ResetQueryStats(grpc::ServerContext* ctx,
                                           const adminpb::ResetQueryStatsRequest*,
                                           adminpb::ResetQueryStatsResponse* resp) {
  return guarded(ctx, "ResetQueryStats", [&] {
    resp->set_shapes_dropped(target_.resetQueryStats());
    spdlog::info("admin: query statistics reset by {}: {} shapes dropped", peerOf(ctx),
                 resp->shapes_dropped());
    return grpc::Status::OK;
  });
}

}  // namespace pgro::controlplane
