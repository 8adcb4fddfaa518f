// Stale-if-error (DESIGN.md section 4): which upstream failures let the session answer from
// an expired cache entry (ResultCache::getStale()), and the NOTICE that says so.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace pgro::cache {

// Upstream could not answer at all, so a stale result is better than an error: connection
// failures (class 08: refused, reset, closed), the server shutting down or starting up
// (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now) and no connection
// to be had (53300 too_many_connections, also pgro's pool wait timeout). Never an error about
// the query itself.
inline bool upstreamUnavailable(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "53300";
}

// The NOTICE's message for a result `age` old (rounded down to whole seconds), served
// because of `reason` (the upstream error's message).
inline std::string staleNoticeMessage(std::chrono::steady_clock::duration age,
                                      std::string_view reason) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(age).count();
  return "pgro: upstream unavailable, answered from a cached result " + std::to_string(seconds) +
         " s old (CACHE_STALE_IF_ERROR_SECONDS): " + std::string(reason);
}

}  // namespace pgro::cache
