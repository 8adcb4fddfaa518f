// A real Prometheus server scrapes the exposer; the Grafana dashboard uses only metric names
// the exposer produces.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "controlplane_fixture.hpp"
#include "support/run_command.hpp"

namespace pgro::test {
namespace {

using Json = nlohmann::json;

TEST(Dashboard, EveryMetricNameExistsInAScrape) {
  const std::string text = slurp(dashboardPath());
  ControlPlaneFixture f;
  const auto names = sampleNames(httpGet(f.plane->metricsPort(), "/metrics").body);
  const std::set<std::string> used = dashboardMetricNames();
  ASSERT_GE(used.size(), 10u);
  for (const auto& name : used) {
    EXPECT_TRUE(names.count(name)) << name << " is used by the dashboard but not exported";
  }
  for (const char* needed : {"histogram_quantile", "pgro_query_duration_seconds_bucket",
                             "pgro_queries_total", "pgro_queries_refused_total"}) {
    EXPECT_NE(text.find(needed), std::string::npos) << needed;
  }
}

TEST(Prometheus, ScrapesTheExposer) {
  ControlPlaneFixture f;
  const std::string dir = makeTempDir("pgro-cp-prom-");
  const uint16_t web_port = freeLoopbackPort();
  {
    std::ofstream cfg(dir + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: pgro\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << f.plane->metricsPort() << "']\n";
  }
  SpawnOptions o{
      .argv = {"prometheus", "--config.file=" + dir + "/prometheus.yml",
               "--storage.tsdb.path=" + dir + "/data",
               "--web.listen-address=127.0.0.1:" + std::to_string(web_port), "--log.level=warn"},
      .inherit_env = true,
      .cwd = dir,
      .output_file = dir + "/prometheus.log"};
  const pid_t pid = spawnProcess(o);
  struct Kill {
    pid_t pid;
    ~Kill() { killAndReap(pid); }
  } kill{pid};

  Json result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitForExit(pid, std::chrono::milliseconds(0))) {
      FAIL() << "prometheus exited: " << readFile(dir + "/prometheus.log");
    }
    try {
      const auto r = httpGet(web_port, "/api/v1/query?query=pgro_build_info");
      if (r.status == 200) {
        const Json j = Json::parse(r.body);
        if (j["status"] == "success" && !j["data"]["result"].empty()) {
          result = j["data"]["result"];
          break;
        }
      }
    } catch (const std::exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_FALSE(result.is_null()) << "no pgro series within 60s: "
                                 << readFile(dir + "/prometheus.log");
  EXPECT_EQ(result[0]["metric"]["__name__"], "pgro_build_info");
  EXPECT_EQ(result[0]["metric"]["version"], "0.1.0-test");
  EXPECT_EQ(result[0]["value"][1], "1");

  // The scrape target is healthy: the exposition parsed without errors.
  const auto targets = Json::parse(httpGet(web_port, "/api/v1/targets").body);
  const auto& active = targets["data"]["activeTargets"];
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0]["health"], "up") << active.dump();
  EXPECT_EQ(active[0]["lastError"], "");

  // A histogram round-trips through PromQL.
  f.histograms.query_duration_forwarded->observe(0.003);
  const auto q =
      Json::parse(httpGet(web_port, "/api/v1/query?query=pgro_query_duration_seconds_count").body);
  EXPECT_EQ(q["status"], "success");
  EXPECT_EQ(q["data"]["result"].size(), 2u) << q.dump();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgro::test
