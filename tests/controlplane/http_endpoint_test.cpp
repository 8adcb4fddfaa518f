// /metrics, /healthz, /readyz over HTTP, and the exposition checked by promtool.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <set>

#include "controlplane_fixture.hpp"
#include "support/run_command.hpp"

namespace pgro::test {
namespace {

TEST(HttpEndpoint, HealthzReadyzAndUnknownPaths) {
  ControlPlaneFixture f;
  const uint16_t port = f.plane->metricsPort();
  auto h = httpGet(port, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  EXPECT_EQ(httpGet(port, "/readyz").status, 200);
  f.target.ready = false;
  EXPECT_EQ(httpGet(port, "/readyz").status, 503);
  EXPECT_EQ(httpGet(port, "/healthz").status, 200);
  EXPECT_EQ(httpGet(port, "/").status, 404);
  EXPECT_EQ(httpGet(port, "/metricsx").status, 404);
  EXPECT_EQ(httpGet(port, "/metrics?name[]=x").status, 200);
}

TEST(HttpEndpoint, MetricsHasContentTypeAndEveryFamily) {
  ControlPlaneFixture f;
  f.histograms.query_duration_forwarded->observe(0.003);
  f.histograms.query_duration_cache_hit->observe(0.00004);
  f.histograms.pool_wait->observe(0.5);
  const auto r = httpGet(f.plane->metricsPort(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.content_type.starts_with("text/plain; version=0.0.4")) << r.content_type;
  const std::string& m = r.body;
  for (const char* line : {
           "pgro_build_info{version=\"0.1.0-test\"} 1\n",
           "pgro_uptime_seconds 3723.5\n",
           "pgro_client_connections 3\n",
           "pgro_client_connections_total 42\n",
           "pgro_client_connections_refused_total{reason=\"too_many\"} 1\n",
           "pgro_client_connections_refused_total{reason=\"auth_failed\"} 2\n",
           "pgro_client_connections_refused_total{reason=\"unauthenticated_limit\"} 6\n",
           "pgro_client_connections_refused_total{reason=\"auth_timeout\"} 7\n",
           "pgro_client_connections_refused_total{reason=\"buffer_budget\"} 9\n",
           "pgro_auth_throttled_total 8\n",
           "pgro_queries_total{outcome=\"forwarded\"} 100\n",
           "pgro_queries_total{outcome=\"cache_hit\"} 300\n",
           "pgro_queries_total{outcome=\"refused\"} 4\n",
           "pgro_queries_refused_total{reason=\"write\"} 3\n",
           "pgro_queries_refused_total{reason=\"forbidden_function\"} 1\n",
           "pgro_protocol_errors_total 2\n",
           "pgro_cache_entries 12\n",
           "pgro_cache_bytes 3145728\n",
           "pgro_cache_hits_total 300\n",
           "pgro_cache_misses_total 100\n",
           "pgro_cache_evictions_total 7\n",
           "pgro_cache_coalesced_total 5\n",
           "pgro_cache_stale_served_total 2\n",
           "pgro_cache_refreshes_total 3\n",
           "pgro_cache_admissions_refused_total{reason=\"outranked\"} 11\n",
           "pgro_cache_admissions_refused_total{reason=\"below_min_cost\"} 13\n",
           "pgro_cache_saved_seconds_total 2.5\n",
           "pgro_cache_enabled 1\n",
           "pgro_cache_ttl_seconds 900\n",
           "pgro_pool_size 5\n",
           "pgro_pool_connections{state=\"idle\"} 3\n",
           "pgro_pool_connections{state=\"busy\"} 1\n",
           "pgro_pool_waiting_clients 0\n",
           "pgro_upstream_up 1\n",
           "pgro_upstream_connect_errors_total 1\n",
           "pgro_upstream_tripwire_total 0\n",
           "pgro_query_duration_seconds_bucket{outcome=\"forwarded\",le=\"0.005\"} 1\n",
           "pgro_query_duration_seconds_bucket{outcome=\"cache_hit\",le=\"5e-05\"} 1\n",
           "pgro_query_duration_seconds_count{outcome=\"cache_hit\"} 1\n",
           "pgro_pool_wait_duration_seconds_bucket{le=\"+Inf\"} 1\n",
           "pgro_pool_wait_duration_seconds_sum 0.5\n",
       }) {
    EXPECT_NE(m.find(line), std::string::npos) << "missing: " << line << "in\n" << m;
  }
  // Live values: a change in the data plane shows in the next scrape.
  f.target.cache_enabled = false;
  f.target.ttl_seconds = 60;
  const auto again = httpGet(f.plane->metricsPort(), "/metrics").body;
  EXPECT_NE(again.find("pgro_cache_enabled 0\n"), std::string::npos);
  EXPECT_NE(again.find("pgro_cache_ttl_seconds 60\n"), std::string::npos);
}

TEST(HttpEndpoint, OnlyGet) {
  ControlPlaneFixture f;
  const auto r = runCommand({"python3", "-c",
                             "import http.client,sys\n"
                             "c=http.client.HTTPConnection('127.0.0.1',int(sys.argv[1]))\n"
                             "c.request('POST','/metrics',body='x')\n"
                             "print(c.getresponse().status)\n",
                             std::to_string(f.plane->metricsPort())});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "405\n");
}

TEST(HttpEndpoint, SlowClientDoesNotBlockOthers) {
  ControlPlaneFixture f;
  // A connection that never sends a request must not hold up the single HTTP thread.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket idle(io);
  idle.connect({boost::asio::ip::make_address("127.0.0.1"), f.plane->metricsPort()});
  EXPECT_EQ(httpGet(f.plane->metricsPort(), "/healthz").status, 200);
}

TEST(HttpEndpoint, PromtoolAcceptsTheExposition) {
  ControlPlaneFixture f;
  f.histograms.query_duration_forwarded->observe(0.02);
  const auto body = httpGet(f.plane->metricsPort(), "/metrics").body;
  SpawnOptions o{.argv = {"promtool", "check", "metrics"}, .inherit_env = true};
  const auto r = runCommand(o, std::chrono::seconds(60), body);
  ASSERT_NE(r.exit_code, 127) << "promtool not found: run deploy/install-deps.sh --test";
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out + r.err, "") << r.describe();
}

TEST(HttpEndpoint, PromtoolAcceptsAnIdleDataPlane) {
  // A fresh daemon: no refusals yet, nothing observed.
  FakeAdminTarget target;
  metrics::Registry registry;
  controlplane::registerDataPlaneMetrics(registry, target);
  SpawnOptions o{.argv = {"promtool", "check", "metrics"}, .inherit_env = true};
  const auto r = runCommand(o, std::chrono::seconds(60), registry.render());
  EXPECT_EQ(r.exit_code, 0) << r.describe();
}

}  // namespace
}  // namespace pgro::test
