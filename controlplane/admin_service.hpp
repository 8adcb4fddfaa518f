// The gRPC service pgro.admin.v1.Admin over AdminTarget (synchronous API: gRPC's own threads
// run the handlers; every AdminTarget method is thread-safe and cheap).
#pragma once

#include <string>

#include "pgro/admin/v1/admin.grpc.pb.h"
#include "server/admin_target.hpp"

namespace pgro::controlplane {

namespace adminpb = ::pgro::admin::v1;

class AdminService final : public adminpb::Admin::Service {
 public:
  // `token` empty: no authentication (the listener is loopback-only then).
  AdminService(server::AdminTarget& target, std::string token)
      : target_(target), token_(std::move(token)) {}

  grpc::Status ResetCache(grpc::ServerContext* ctx, const adminpb::ResetCacheRequest* req,
                          adminpb::ResetCacheResponse* resp) override;
  grpc::Status GetStats(grpc::ServerContext* ctx, const adminpb::GetStatsRequest* req,
                        adminpb::GetStatsResponse* resp) override;
  grpc::Status SetCacheTtl(grpc::ServerContext* ctx, const adminpb::SetCacheTtlRequest* req,
                           adminpb::SetCacheTtlResponse* resp) override;
  grpc::Status SetCacheEnabled(grpc::ServerContext* ctx, const adminpb::SetCacheEnabledRequest* req,
                               adminpb::SetCacheEnabledResponse* resp) override;
  grpc::Status ListSessions(grpc::ServerContext* ctx, const adminpb::ListSessionsRequest* req,
                            adminpb::ListSessionsResponse* resp) override;
  grpc::Status GetConfig(grpc::ServerContext* ctx, const adminpb::GetConfigRequest* req,
                         adminpb::GetConfigResponse* resp) override;
  grpc::Status ReloadPolicy(grpc::ServerContext* ctx, const adminpb::ReloadPolicyRequest* req,
                            adminpb::ReloadPolicyResponse* resp) override;
  grpc::Status AddCacheRule(grpc::ServerContext* ctx, const adminpb::AddCacheRuleRequest* req,
                            adminpb::AddCacheRuleResponse* resp) override;
  grpc::Status ListCacheRules(grpc::ServerContext* ctx, const adminpb::ListCacheRulesRequest* req,
                              adminpb::ListCacheRulesResponse* resp) override;
  grpc::Status RemoveCacheRule(grpc::ServerContext* ctx, const adminpb::RemoveCacheRuleRequest* req,
                               adminpb::RemoveCacheRuleResponse* resp) override;
  grpc::Status GetQueryStats(grpc::ServerContext* ctx, const adminpb::GetQueryStatsRequest* req,
                             adminpb::GetQueryStatsResponse* resp) override;
  grpc::Status ResetQueryStats(grpc::ServerContext* ctx, const adminpb::ResetQueryStatsRequest* req,
                               adminpb::ResetQueryStatsResponse* resp) override;

 private:
  // Checks the bearer token, then runs `fn` (which returns the call's Status); an exception
  // from the data plane becomes INTERNAL with its message.
  template <typename Fn>
  grpc::Status guarded(grpc::ServerContext* ctx, const char* method, Fn&& fn);

  server::AdminTarget& target_;
  const std::string token_;
};

// AdminTarget views to messages (also used by tests).
void toProto(const server::StatsSnapshot& s, adminpb::GetStatsResponse& out);
void toProto(const server::SessionView& s, adminpb::Session& out);
void toProto(const server::CacheRuleView& r, adminpb::CacheRule& out);
void toProto(const server::ShapeStatsView& s, adminpb::GetQueryStatsResponse& out);

}  // namespace pgro::controlplane
