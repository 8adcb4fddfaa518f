// The gRPC admin API over a fake data plane: each RPC's effect and mapping, the token, TLS,
// and start() refusing what it must.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "controlplane_fixture.hpp"
#include "support/run_command.hpp"

namespace pgro::test {
namespace {

using controlplane::ControlPlane;
using controlplane::ControlPlaneOptions;

std::unique_ptr<grpc::ClientContext> ctx(const std::string& token = {}) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
  return c;
}

TEST(AdminService, ResetCacheReturnsEntriesCleared) {
  ControlPlaneFixture f;
  adminpb::ResetCacheResponse r;
  ASSERT_TRUE(f.stub()->ResetCache(ctx().get(), {}, &r).ok());
  EXPECT_EQ(r.entries_cleared(), 12u);
  EXPECT_EQ(f.target.reset_calls.load(), 1);
}

TEST(AdminService, GetStatsMapsEveryField) {
  ControlPlaneFixture f;
  adminpb::GetStatsResponse r;
  ASSERT_TRUE(f.stub()->GetStats(ctx().get(), {}, &r).ok());
  EXPECT_TRUE(r.cache().enabled());
  EXPECT_EQ(r.cache().ttl_seconds(), 900);
  EXPECT_EQ(r.cache().entries(), 12u);
  EXPECT_EQ(r.cache().bytes(), 3u * 1024 * 1024);
  EXPECT_EQ(r.cache().max_entries(), 10000u);
  EXPECT_EQ(r.cache().max_bytes(), 256u * 1024 * 1024);
  EXPECT_EQ(r.cache().hits(), 300u);
  EXPECT_EQ(r.cache().misses(), 100u);
  EXPECT_EQ(r.cache().evictions(), 7u);
  EXPECT_EQ(r.cache().coalesced(), 5u);
  EXPECT_DOUBLE_EQ(r.cache().hit_ratio(), 0.75);
  EXPECT_EQ(r.queries().forwarded(), 100u);
  EXPECT_EQ(r.queries().cache_hits(), 300u);
  EXPECT_EQ(r.queries().refused(), 4u);
  EXPECT_EQ(r.queries().refused_by_reason().at("write"), 3u);
  EXPECT_EQ(r.queries().refused_by_reason().at("forbidden_function"), 1u);
  EXPECT_EQ(r.queries().protocol_errors(), 2u);
  EXPECT_EQ(r.pool().size(), 5);
  EXPECT_EQ(r.pool().open(), 4);
  EXPECT_EQ(r.pool().idle(), 3);
  EXPECT_EQ(r.pool().busy(), 1);
  EXPECT_EQ(r.pool().waiting(), 0);
  EXPECT_EQ(r.pool().connects(), 9u);
  EXPECT_EQ(r.pool().connect_errors(), 1u);
  EXPECT_EQ(r.clients().current(), 3);
  EXPECT_EQ(r.clients().total(), 42u);
  EXPECT_EQ(r.clients().refused(), 1u);
  EXPECT_EQ(r.clients().auth_failures(), 2u);
  EXPECT_TRUE(r.upstream().up());
  EXPECT_DOUBLE_EQ(r.uptime_seconds(), 3723.5);
  EXPECT_EQ(r.version(), "0.1.0-test");
}

TEST(AdminService, SetCacheTtlAppliesAndValidates) {
  ControlPlaneFixture f;
  auto stub = f.stub();
  adminpb::SetCacheTtlRequest req;
  adminpb::SetCacheTtlResponse r;
  req.set_seconds(60);
  ASSERT_TRUE(stub->SetCacheTtl(ctx().get(), req, &r).ok());
  EXPECT_EQ(r.ttl_seconds(), 60);
  EXPECT_EQ(f.target.ttl_seconds.load(), 60);
  for (int64_t bad : {int64_t{0}, int64_t{-5}, int64_t{1} << 40}) {
    req.set_seconds(bad);
    const auto st = stub->SetCacheTtl(ctx().get(), req, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(f.target.ttl_seconds.load(), 60);
  }
}

TEST(AdminService, SetCacheEnabledToggles) {
  ControlPlaneFixture f;
  auto stub = f.stub();
  adminpb::SetCacheEnabledRequest req;
  adminpb::SetCacheEnabledResponse r;
  req.set_enabled(false);
  ASSERT_TRUE(stub->SetCacheEnabled(ctx().get(), req, &r).ok());
  EXPECT_FALSE(r.enabled());
  EXPECT_FALSE(f.target.cache_enabled.load());
  req.set_enabled(true);
  ASSERT_TRUE(stub->SetCacheEnabled(ctx().get(), req, &r).ok());
  EXPECT_TRUE(f.target.cache_enabled.load());
}

TEST(AdminService, ListSessionsRepairsUtf8AndTruncatesQuery) {
  ControlPlaneFixture f;
  adminpb::ListSessionsResponse r;
  ASSERT_TRUE(f.stub()->ListSessions(ctx().get(), {}, &r).ok());
  ASSERT_EQ(r.sessions_size(), 2);
  const auto& a = r.sessions(0);
  EXPECT_EQ(a.user(), "reader");
  EXPECT_EQ(a.client_address(), "127.0.0.1:40000");
  EXPECT_EQ(a.application_name(), "psql");
  EXPECT_EQ(a.state(), "active");
  EXPECT_EQ(a.query(), "SELECT 1");
  EXPECT_EQ(a.since().seconds(), 1700000000);
  EXPECT_EQ(a.since().nanos(), 250000000);
  const auto& b = r.sessions(1);
  EXPECT_EQ(b.application_name(), "caf\xEF\xBF\xBD");
  EXPECT_EQ(b.query(), std::string(200, 'x'));
}

TEST(AdminService, GetConfigRedactsSecrets) {
  ControlPlaneFixture f;
  adminpb::GetConfigResponse r;
  ASSERT_TRUE(f.stub()->GetConfig(ctx().get(), {}, &r).ok());
  ASSERT_EQ(r.settings_size(), 4);
  EXPECT_EQ(r.settings(0).name(), "LISTEN_PORT");
  EXPECT_EQ(r.settings(0).value(), "5433");
  EXPECT_EQ(r.settings(1).value(), "***");
  EXPECT_EQ(r.settings(2).name(), "ADMIN_TOKEN");
  EXPECT_EQ(r.settings(2).value(), "***");
  EXPECT_EQ(r.settings(3).value(), "900");
}

TEST(AdminService, ReloadPolicyReportsOutcome) {
  ControlPlaneFixture f;
  adminpb::ReloadPolicyResponse r;
  ASSERT_TRUE(f.stub()->ReloadPolicy(ctx().get(), {}, &r).ok());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.message(), "reloaded 2 users");
  f.target.reload_ok = false;
  ASSERT_TRUE(f.stub()->ReloadPolicy(ctx().get(), {}, &r).ok());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "USERS_FILE: bad");
  EXPECT_EQ(f.target.reload_calls.load(), 2);
}

TEST(AdminService, TokenRequiredOnEveryCall) {
  auto opts = ControlPlaneFixture::defaultOptions();
  opts.admin_token = "s3cret-token";
  ControlPlaneFixture f(opts);
  auto stub = f.stub();
  for (const std::string& token : {std::string(), std::string("wrong"), std::string("s3cret-toke"),
                                   std::string("s3cret-token2")}) {
    adminpb::ResetCacheResponse r1;
    EXPECT_EQ(stub->ResetCache(ctx(token).get(), {}, &r1).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << token;
    adminpb::GetStatsResponse r2;
    EXPECT_EQ(stub->GetStats(ctx(token).get(), {}, &r2).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    adminpb::SetCacheTtlRequest q3;
    q3.set_seconds(5);
    adminpb::SetCacheTtlResponse r3;
    EXPECT_EQ(stub->SetCacheTtl(ctx(token).get(), q3, &r3).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    adminpb::SetCacheEnabledResponse r4;
    EXPECT_EQ(stub->SetCacheEnabled(ctx(token).get(), {}, &r4).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    adminpb::ListSessionsResponse r5;
    EXPECT_EQ(stub->ListSessions(ctx(token).get(), {}, &r5).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    adminpb::GetConfigResponse r6;
    EXPECT_EQ(stub->GetConfig(ctx(token).get(), {}, &r6).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    adminpb::ReloadPolicyResponse r7;
    EXPECT_EQ(stub->ReloadPolicy(ctx(token).get(), {}, &r7).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(f.target.reset_calls.load(), 0);
  EXPECT_EQ(f.target.stats_calls.load(), 0);
  EXPECT_EQ(f.target.ttl_seconds.load(), 900);
  EXPECT_EQ(f.target.reload_calls.load(), 0);

  adminpb::ResetCacheResponse ok;
  EXPECT_TRUE(stub->ResetCache(ctx("s3cret-token").get(), {}, &ok).ok());
  auto lower = ctx();
  lower->AddMetadata("authorization", "bearer s3cret-token");
  EXPECT_TRUE(stub->ResetCache(lower.get(), {}, &ok).ok());
  EXPECT_EQ(f.target.reset_calls.load(), 2);
}

TEST(AdminService, TlsWhenCertificateGiven) {
  const auto cert = makeSelfSignedCert();
  auto opts = ControlPlaneFixture::defaultOptions();
  opts.tls_cert_file = cert.cert_file;
  opts.tls_key_file = cert.key_file;
  ControlPlaneFixture f(opts);

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = cert.cert_pem;
  auto secure =
      adminpb::Admin::NewStub(grpc::CreateChannel(f.adminAddr(), grpc::SslCredentials(ssl)));
  adminpb::GetStatsResponse r;
  const auto st = secure->GetStats(ctx().get(), {}, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(r.version(), "0.1.0-test");

  // Plaintext against the TLS port fails.
  auto c = ctx();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  EXPECT_FALSE(f.stub()->GetStats(c.get(), {}, &r).ok());
}

TEST(ControlPlaneStart, RefusesNonLoopbackAdminWithoutToken) {
  FakeAdminTarget target;
  metrics::Registry registry;
  for (const char* addr : {"0.0.0.0:0", "[::]:0", "10.1.2.3:0"}) {
    ControlPlane plane(target, registry, {.admin_listen = addr, .metrics_listen = "127.0.0.1:0"});
    try {
      plane.start();
      FAIL() << addr << " started without a token";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("ADMIN_TOKEN"), std::string::npos) << e.what();
    }
    EXPECT_EQ(plane.metricsPort(), 0);
  }
  // With a token, every interface is allowed.
  ControlPlane plane(target, registry,
                     {.admin_listen = "0.0.0.0:0", .admin_token = "t", .metrics_listen = ""});
  EXPECT_NO_THROW(plane.start());
  EXPECT_NE(plane.adminPort(), 0);
  plane.stop();
}

TEST(ControlPlaneStart, PortInUseAndBadFilesAreOneLineErrors) {
  ControlPlaneFixture first;
  FakeAdminTarget target;
  metrics::Registry registry;
  auto expectError = [&](ControlPlaneOptions o, const std::string& needle) {
    ControlPlane plane(target, registry, std::move(o));
    try {
      plane.start();
      ADD_FAILURE() << "started; expected an error with " << needle;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    EXPECT_EQ(plane.adminPort(), 0);
    EXPECT_EQ(plane.metricsPort(), 0);
  };
  expectError({.admin_listen = first.adminAddr(), .metrics_listen = "127.0.0.1:0"},
              "Address already in use");
  expectError({.admin_listen = "127.0.0.1:0",
               .metrics_listen = "127.0.0.1:" + std::to_string(first.plane->metricsPort())},
              "METRICS_LISTEN");
  expectError({.admin_listen = "127.0.0.1:0",
               .tls_cert_file = "/nonexistent/cert.pem",
               .tls_key_file = "/nonexistent/key.pem"},
              "ADMIN_TLS_");
  expectError({.admin_listen = "127.0.0.1:0", .tls_cert_file = "/x.pem"}, "together");
  const std::string dir = makeTempDir("pgro-cp-badpem-");
  {
    std::ofstream(dir + "/cert.pem") << "not a certificate\n";
    std::ofstream(dir + "/key.pem") << "not a key\n";
  }
  expectError({.admin_listen = "127.0.0.1:0",
               .tls_cert_file = dir + "/cert.pem",
               .tls_key_file = dir + "/key.pem"},
              "ADMIN_TLS_CERT_FILE");
  expectError({.admin_listen = "no-port"}, "ADMIN_LISTEN");
  expectError({.admin_listen = "", .metrics_listen = "127.0.0.1:http"}, "METRICS_LISTEN");
}

TEST(ControlPlaneStart, StopIsIdempotentAndFreesPorts) {
  FakeAdminTarget target;
  metrics::Registry registry;
  ControlPlane plane(target, registry, ControlPlaneFixture::defaultOptions());
  plane.start();
  const uint16_t admin = plane.adminPort();
  const uint16_t http = plane.metricsPort();
  EXPECT_TRUE(canConnect("127.0.0.1", admin));
  EXPECT_TRUE(canConnect("127.0.0.1", http));
  const auto t0 = std::chrono::steady_clock::now();
  plane.stop();
  plane.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_FALSE(canConnect("127.0.0.1", admin));
  EXPECT_FALSE(canConnect("127.0.0.1", http));
}

}  // namespace
}  // namespace pgro::test
