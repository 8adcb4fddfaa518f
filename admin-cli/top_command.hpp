// `pgro-admin top` and `pgro-admin top reset`: the query-shape statistics (GetQueryStats,
// ResetQueryStats) as JSON and as a table.
#pragma once

#include <string>

#include "admin_client.hpp"
#include "pgro/admin/v1/admin.pb.h"

namespace pgro::admincli {

Json queryStatsJson(const ::pgro::admin::v1::GetQueryStatsResponse& r);
// The table `pgro-admin top` prints: one row per shape, in the daemon's order.
std::string topText(const Json& data);

}  // namespace pgro::admincli
