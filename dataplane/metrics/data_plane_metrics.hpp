// The metric families the data path observes into directly. Everything the data plane
// already counts in its own atomics (cache, pool, clients, queries) is read at scrape time by
// a collector over AdminTarget::stats() instead (controlplane/stats_metrics.hpp).
#pragma once

#include "metrics/instruments.hpp"
#include "metrics/registry.hpp"

namespace pgro::metrics {

// Histograms the data path observes into; null members (a default-constructed struct, as in
// unit tests without a registry) mean "not measured": use observe() below.
struct DataPlaneMetrics {
  Histogram* query_duration_forwarded =
      nullptr;  // pgro_query_duration_seconds{outcome="forwarded"}
  Histogram* query_duration_cache_hit =
      nullptr;                     // pgro_query_duration_seconds{outcome="cache_hit"}
  Histogram* pool_wait = nullptr;  // pgro_pool_wait_duration_seconds
};

// Registers the families above in `registry` (once per registry: std::logic_error on a second
// call) and returns their children.
DataPlaneMetrics registerDataPlaneHistograms(Registry& registry);

inline void observe(Histogram* h, double seconds) noexcept {
  if (h != nullptr) h->observe(seconds);
}

}  // namespace pgro::metrics
