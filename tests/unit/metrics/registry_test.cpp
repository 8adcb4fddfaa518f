#include "metrics/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "metrics/data_plane_metrics.hpp"

namespace pgro::metrics {
namespace {

TEST(Registry, RendersCountersAndGaugesGolden) {
  Registry r;
  r.counter({.name = "pgro_things_total", .help = "Things seen."}).inc(3);
  auto& by_kind =
      r.counterFamily({.name = "pgro_events_total", .help = "Events.", .label_names = {"kind"}});
  by_kind.labels({"b"}).inc();
  by_kind.labels({"a"}).inc(2);
  r.gauge({.name = "pgro_level", .help = "A level."}).set(0.5);
  EXPECT_EQ(r.render(),
            "# HELP pgro_things_total Things seen.\n"
            "# TYPE pgro_things_total counter\n"
            "pgro_things_total 3\n"
            "# HELP pgro_events_total Events.\n"
            "# TYPE pgro_events_total counter\n"
            "pgro_events_total{kind=\"a\"} 2\n"
            "pgro_events_total{kind=\"b\"} 1\n"
            "# HELP pgro_level A level.\n"
            "# TYPE pgro_level gauge\n"
            "pgro_level 0.5\n");
}

TEST(Registry, RendersHistogramGolden) {
  Registry r;
  auto& h = r.histogramFamily(
      {.name = "pgro_wait_seconds", .help = "Waits.", .label_names = {"pool"}}, {0.1, 1});
  h.labels({"main"}).observe(0.05);
  h.labels({"main"}).observe(0.5);
  h.labels({"main"}).observe(7);
  EXPECT_EQ(r.render(),
            "# HELP pgro_wait_seconds Waits.\n"
            "# TYPE pgro_wait_seconds histogram\n"
            "pgro_wait_seconds_bucket{pool=\"main\",le=\"0.1\"} 1\n"
            "pgro_wait_seconds_bucket{pool=\"main\",le=\"1\"} 2\n"
            "pgro_wait_seconds_bucket{pool=\"main\",le=\"+Inf\"} 3\n"
            "pgro_wait_seconds_sum{pool=\"main\"} 7.55\n"
            "pgro_wait_seconds_count{pool=\"main\"} 3\n");
}

TEST(Registry, UnlabelledHistogramHasOnlyLe) {
  Registry r;
  r.histogram({.name = "pgro_x_seconds", .help = "X."}, {1});
  EXPECT_EQ(r.render(),
            "# HELP pgro_x_seconds X.\n"
            "# TYPE pgro_x_seconds histogram\n"
            "pgro_x_seconds_bucket{le=\"1\"} 0\n"
            "pgro_x_seconds_bucket{le=\"+Inf\"} 0\n"
            "pgro_x_seconds_sum 0\n"
            "pgro_x_seconds_count 0\n");
}

TEST(Registry, EscapesHelpAndLabelValues) {
  Registry r;
  r.gaugeFamily({.name = "pgro_info", .help = "Line one\nback\\slash \"q\"", .label_names = {"v"}})
      .labels({"a\"b\\c\nd"})
      .set(1);
  EXPECT_EQ(r.render(),
            "# HELP pgro_info Line one\\nback\\\\slash \"q\"\n"
            "# TYPE pgro_info gauge\n"
            "pgro_info{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Registry, CollectorCalledOncePerScrapeInRegistrationOrder) {
  Registry r;
  r.counter({.name = "pgro_first_total", .help = "First."});
  std::atomic<int> calls{0};
  r.addCollector(
      {{.name = "pgro_coll_total", .help = "C.", .type = MetricType::Counter},
       {.name = "pgro_coll_state", .help = "S.", .type = MetricType::Gauge, .label_names = {"s"}}},
      [&calls](CollectorSink& sink) {
        const int n = ++calls;
        sink.family("pgro_coll_total").add(n * 10);
        sink.family("pgro_coll_state").add({"idle"}, 2);
        sink.family("pgro_coll_state").add({"busy"}, 3);
      });
  r.gauge({.name = "pgro_last", .help = "Last."});
  const std::string expected_tail =
      "# HELP pgro_coll_state S.\n"
      "# TYPE pgro_coll_state gauge\n"
      "pgro_coll_state{s=\"idle\"} 2\n"
      "pgro_coll_state{s=\"busy\"} 3\n"
      "# HELP pgro_last Last.\n"
      "# TYPE pgro_last gauge\n"
      "pgro_last 0\n";
  const std::string first = r.render();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(first.find("pgro_first_total 0\n# HELP pgro_coll_total C.\n"
                       "# TYPE pgro_coll_total counter\npgro_coll_total 10\n"),
            std::string::npos)
      << first;
  EXPECT_TRUE(first.ends_with(expected_tail)) << first;
  EXPECT_NE(r.render().find("pgro_coll_total 20\n"), std::string::npos);
  EXPECT_EQ(calls.load(), 2);
}

TEST(Registry, ThrowingCollectorLosesOnlyItsSamples) {
  Registry r;
  r.addCollector({{.name = "pgro_bad", .help = "B.", .type = MetricType::Gauge}},
                 [](CollectorSink& sink) {
                   sink.family("pgro_bad").add(1);
                   throw std::runtime_error("snapshot failed");
                 });
  r.gauge({.name = "pgro_good", .help = "G."}).set(4);
  const std::string text = r.render();
  EXPECT_EQ(text.find("pgro_bad 1"), std::string::npos) << text;
  EXPECT_NE(text.find("pgro_good 4\n"), std::string::npos) << text;
}

TEST(Registry, CollectorWritingUndeclaredFamilyIsContained) {
  Registry r;
  r.addCollector({{.name = "pgro_a", .help = "A.", .type = MetricType::Gauge}},
                 [](CollectorSink& sink) { sink.family("pgro_other").add(1); });
  EXPECT_EQ(r.render(), "# HELP pgro_a A.\n# TYPE pgro_a gauge\n");
}

TEST(Registry, RejectsBadAndDuplicateNames) {
  Registry r;
  EXPECT_THROW(r.counter({.name = "9lives", .help = ""}), std::invalid_argument);
  EXPECT_THROW(r.counter({.name = "pgro-dash", .help = ""}), std::invalid_argument);
  EXPECT_THROW(r.counterFamily({.name = "pgro_l", .help = "", .label_names = {"__x"}}),
               std::invalid_argument);
  EXPECT_THROW(r.histogramFamily({.name = "pgro_h", .help = "", .label_names = {"le"}}, {1}),
               std::invalid_argument);
  EXPECT_THROW(r.histogram({.name = "pgro_h2", .help = ""}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.counter({.name = "pgro_c", .help = "", .label_names = {"a"}}),
               std::invalid_argument);
  r.counter({.name = "pgro_dup_total", .help = ""});
  EXPECT_THROW(r.gauge({.name = "pgro_dup_total", .help = ""}), std::logic_error);
  EXPECT_THROW(r.addCollector({{.name = "pgro_dup_total", .help = ""}}, [](CollectorSink&) {}),
               std::logic_error);
  auto& fam = r.counterFamily({.name = "pgro_two", .help = "", .label_names = {"a", "b"}});
  EXPECT_THROW(fam.labels({"only-one"}), std::invalid_argument);
}

TEST(Registry, LabelledChildReferencesAreStable) {
  Registry r;
  auto& fam = r.counterFamily({.name = "pgro_stable_total", .help = "", .label_names = {"k"}});
  Counter& a = fam.labels({"a"});
  for (int i = 0; i < 100; ++i) fam.labels({std::to_string(i)});
  EXPECT_EQ(&a, &fam.labels({"a"}));
}

TEST(Registry, ConcurrentIncrementsWhileScraping) {
  Registry r;
  Counter& c = r.counter({.name = "pgro_hits_total", .help = "Hits."});
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) (void)r.render();
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&c] {
      for (int i = 0; i < 100000; ++i) c.inc();
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  scraper.join();
  EXPECT_NE(r.render().find("pgro_hits_total 400000\n"), std::string::npos);
}

TEST(DataPlaneMetrics, RegistersBothOutcomesAndPoolWait) {
  Registry r;
  DataPlaneMetrics m = registerDataPlaneHistograms(r);
  ASSERT_NE(m.query_duration_forwarded, nullptr);
  ASSERT_NE(m.query_duration_cache_hit, nullptr);
  ASSERT_NE(m.pool_wait, nullptr);
  observe(m.query_duration_cache_hit, 0.00002);
  observe(m.pool_wait, 0.2);
  observe(DataPlaneMetrics{}.pool_wait, 1);  // null: ignored
  const std::string text = r.render();
  EXPECT_NE(text.find("pgro_query_duration_seconds_count{outcome=\"cache_hit\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("pgro_query_duration_seconds_count{outcome=\"forwarded\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("pgro_pool_wait_duration_seconds_bucket{le=\"0.25\"} 1\n"),
            std::string::npos);
  EXPECT_THROW(registerDataPlaneHistograms(r), std::logic_error);
}

}  // namespace
}  // namespace pgro::metrics
