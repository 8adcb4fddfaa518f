#include "metrics/data_plane_metrics.hpp"

namespace pgro::metrics {

DataPlaneMetrics registerDataPlaneHistograms(Registry& registry) {
  auto& query = registry.histogramFamily(
      {.name = "pgro_query_duration_seconds",
       .help = "Time from a statement's arrival to the end of its reply (ReadyForQuery), by "
               "how it was answered.",
       .label_names = {"outcome"}},
      latencyBuckets());
  auto& wait = registry.histogram({.name = "pgro_pool_wait_duration_seconds",
                                   .help = "Time a client waited for a free upstream connection."},
                                  latencyBuckets());
  return DataPlaneMetrics{
      .query_duration_forwarded = &query.labels({"forwarded"}),
      .query_duration_cache_hit = &query.labels({"cache_hit"}),
      .pool_wait = &wait,
  };
}

}  // namespace pgro::metrics
