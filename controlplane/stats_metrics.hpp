// The data plane's metrics for Prometheus: the families filled at scrape time from
// AdminTarget::stats() (one call per scrape), plus the histograms the data path observes into.
#pragma once

#include "metrics/data_plane_metrics.hpp"
#include "metrics/registry.hpp"
#include "server/admin_target.hpp"

namespace pgro::controlplane {

// Registers every pgro_* family of the data plane in `registry` (once per registry) and
// returns the histograms for the data path. `target` must outlive the registry's scrapes.
metrics::DataPlaneMetrics registerDataPlaneMetrics(metrics::Registry& registry,
                                                   server::AdminTarget& target);

}  // namespace pgro::controlplane
