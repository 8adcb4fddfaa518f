#include "admin_client.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "pgro/admin/v1/admin.grpc.pb.h"
#include "top_command.hpp"

namespace pgro::admincli {

namespace pb = ::pgro::admin::v1;

namespace {

const char* codeName(grpc::StatusCode c) {
  // gRPC status codes are 0..16 (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

std::string oneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

Json cacheJson(const pb::CacheStats& c) {
  return {
      {"enabled", c.enabled()},     {"ttl_seconds", c.ttl_seconds()}, {"entries", c.entries()},
      {"bytes", c.bytes()},         {"max_entries", c.max_entries()}, {"max_bytes", c.max_bytes()},
      {"hits", c.hits()},           {"misses", c.misses()},           {"hit_ratio", c.hit_ratio()},
      {"evictions", c.evictions()}, {"coalesced", c.coalesced()}};
}

Json statsJson(const pb::GetStatsResponse& s) {
  Json refused = Json::object();
  // Protobuf maps are unordered: sort for stable output.
  std::map<std::string, uint64_t> reasons(s.queries().refused_by_reason().begin(),
                                          s.queries().refused_by_reason().end());
  for (const auto& [k, v] : reasons) refused[k] = v;
  const auto& q = s.queries();
  const auto& p = s.pool();
  const auto& c = s.clients();
  return {{"version", s.version()},
          {"uptime_seconds", s.uptime_seconds()},
          {"upstream", {{"up", s.upstream().up()}}},
          {"clients",
           {{"current", c.current()},
            {"total", c.total()},
            {"refused", c.refused()},
            {"auth_failures", c.auth_failures()}}},
          {"queries",
           {{"forwarded", q.forwarded()},
            {"cache_hits", q.cache_hits()},
            {"refused", q.refused()},
            {"refused_by_reason", refused},
            {"protocol_errors", q.protocol_errors()}}},
          {"pool",
           {{"size", p.size()},
            {"open", p.open()},
            {"idle", p.idle()},
            {"busy", p.busy()},
            {"waiting", p.waiting()},
            {"connects", p.connects()},
            {"connect_errors", p.connect_errors()},
            {"timeouts", p.timeouts()},
            {"tripwire_trips", p.tripwire_trips()}}},
          {"cache", cacheJson(s.cache())}};
}

std::string rfc3339(const google::protobuf::Timestamp& t) {
  const std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json sessionsJson(const pb::ListSessionsResponse& r) {
  Json list = Json::array();
  for (const auto& s : r.sessions()) {
    list.push_back({{"user", s.user()},
                    {"client_address", s.client_address()},
                    {"application_name", s.application_name()},
                    {"state", s.state()},
                    {"since", rfc3339(s.since())},
                    {"query", s.query()}});
  }
  return {{"sessions", list}};
}

Json configJson(const pb::GetConfigResponse& r) {
  Json settings = Json::object();
  for (const auto& s : r.settings()) settings[s.name()] = s.value();
  return {{"settings", settings}};
}

Json ruleJson(const pb::CacheRule& r) {
  Json out = {{"fingerprint", r.fingerprint()}};
  out["ttl_ms"] = r.has_ttl_ms() ? Json(r.ttl_ms()) : Json();
  out["swr_percent"] = r.has_swr_percent() ? Json(r.swr_percent()) : Json();
  out["stale_if_error_seconds"] =
      r.has_stale_if_error_seconds() ? Json(r.stale_if_error_seconds()) : Json();
  out["nocache"] = r.nocache();
  out["matched"] = r.matched();
  out["hits"] = r.hits();
  out["sample"] = r.sample();
  return out;
}

std::shared_ptr<grpc::Channel> makeChannel(const Options& o, const std::string& addr,
                                           std::string& error) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca_file.empty()) {
      std::ifstream in(o.ca_file);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) {
        error = "cannot read --ca " + o.ca_file;
        return nullptr;
      }
      ssl.pem_root_certs = text.str();
    }
    if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(addr, creds, args);
}

}  // namespace

DaemonResult runCommand(const Options& o, const std::string& addr) {
  DaemonResult out;
  out.addr = addr;
  std::string error;
  auto channel = makeChannel(o, addr, error);
  if (!channel) {
    out.exit_code = kUsage;
    out.status = "INVALID_ARGUMENT";
    out.error = error;
    return out;
  }
  auto stub = pb::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + o.timeout);
  if (!o.token.empty()) ctx.AddMetadata("authorization", "Bearer " + o.token);

  grpc::Status st;
  switch (o.command) {
    case Command::CacheReset: {
      pb::ResetCacheResponse r;
      st = stub->ResetCache(&ctx, {}, &r);
      out.data = {{"entries_cleared", r.entries_cleared()}};
      break;
    }
    case Command::CacheStats:
    case Command::Stats: {
      pb::GetStatsResponse r;
      st = stub->GetStats(&ctx, {}, &r);
      out.data = o.command == Command::Stats ? statsJson(r) : cacheJson(r.cache());
      break;
    }
    case Command::CacheTtl: {
      pb::SetCacheTtlRequest req;
      req.set_seconds(o.ttl_seconds);
      pb::SetCacheTtlResponse r;
      st = stub->SetCacheTtl(&ctx, req, &r);
      out.data = {{"ttl_seconds", r.ttl_seconds()}};
      break;
    }
    case Command::CacheEnable:
    case Command::CacheDisable: {
      pb::SetCacheEnabledRequest req;
      req.set_enabled(o.command == Command::CacheEnable);
      pb::SetCacheEnabledResponse r;
      st = stub->SetCacheEnabled(&ctx, req, &r);
      out.data = {{"enabled", r.enabled()}};
      break;
    }
    case Command::Sessions: {
      pb::ListSessionsResponse r;
      st = stub->ListSessions(&ctx, {}, &r);
      out.data = sessionsJson(r);
      break;
    }
    case Command::Config: {
      pb::GetConfigResponse r;
      st = stub->GetConfig(&ctx, {}, &r);
      out.data = configJson(r);
      break;
    }
    case Command::CacheRuleAdd: {
      pb::AddCacheRuleRequest req;
      req.set_query(o.rule.query);
      auto& rule = *req.mutable_rule();
      rule.set_fingerprint(o.rule.fingerprint);
      rule.set_sample(o.rule.sample);
      if (o.rule.ttl_ms) rule.set_ttl_ms(*o.rule.ttl_ms);
      if (o.rule.swr_percent) rule.set_swr_percent(*o.rule.swr_percent);
      if (o.rule.stale_seconds) rule.set_stale_if_error_seconds(*o.rule.stale_seconds);
      rule.set_nocache(o.rule.nocache);
      pb::AddCacheRuleResponse r;
      st = stub->AddCacheRule(&ctx, req, &r);
      out.data = {{"rule", ruleJson(r.rule())}};
      break;
    }
    case Command::CacheRuleList: {
      pb::ListCacheRulesResponse r;
      st = stub->ListCacheRules(&ctx, {}, &r);
      Json rules = Json::array();
      for (const auto& rule : r.rules()) rules.push_back(ruleJson(rule));
      out.data = {{"rules", rules}};
      break;
    }
    case Command::CacheRuleRemove: {
      pb::RemoveCacheRuleRequest req;
      req.set_fingerprint(o.rule.fingerprint);
      pb::RemoveCacheRuleResponse r;
      st = stub->RemoveCacheRule(&ctx, req, &r);
      out.data = {{"removed", o.rule.fingerprint}};
      break;
    }
    case Command::Reload: {
      pb::ReloadPolicyResponse r;
      st = stub->ReloadPolicy(&ctx, {}, &r);
      out.data = {{"ok", r.ok()}, {"message", r.message()}};
      if (st.ok() && !r.ok()) {
        out.exit_code = kServerError;
        out.status = "RELOAD_FAILED";
        out.error = "reload failed: " + oneLine(r.message());
      }
      break;
    }
    case Command::Top: {
      pb::GetQueryStatsRequest req;
      req.set_order_by(o.top_by);
      req.set_user(o.top_user);
      req.set_limit(o.top_limit);
      pb::GetQueryStatsResponse r;
      st = stub->GetQueryStats(&ctx, req, &r);
      out.data = queryStatsJson(r);
      break;
    }
    case Command::TopReset: {
      pb::ResetQueryStatsResponse r;
      st = stub->ResetQueryStats(&ctx, {}, &r);
      out.data = {{"shapes_dropped", r.shapes_dropped()}};
      break;
    }
  }
  if (!st.ok()) {
    out.data = Json();
    out.status = codeName(st.error_code());
    out.error = oneLine(st.error_message());
    switch (st.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        out.exit_code = kUnreachable;
        if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          out.error = "no answer within the --timeout";
        }
        break;
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        out.exit_code = kUnauthenticated;
        break;
      default:
        out.exit_code = kServerError;
    }
  }
  return out;
}

}  // namespace pgro::admincli
