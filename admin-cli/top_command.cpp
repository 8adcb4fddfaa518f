#include "top_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "human_output.hpp"

namespace pgro::admincli {

namespace {

constexpr std::size_t kQueryColumn = 60;

std::string ms(double v) {
  if (v >= 10000) return fmt::format("{:.1f}s", v / 1000);
  if (v >= 100) return fmt::format("{:.0f}ms", v);
  return fmt::format("{:.2f}ms", v);
}

// One line of at most `width` characters (UTF-8 sequences are not cut).
std::string oneLine(const std::string& text, std::size_t width) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() <= width) return out;
  std::size_t cut = width - 3;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  return out.substr(0, cut) + "...";
}

}  // namespace

Json queryStatsJson(const ::pgro::admin::v1::GetQueryStatsResponse& r) {
  Json shapes = Json::array();
  for (const auto& q : r.shapes()) {
    Json logins = Json::object();
    for (const auto& l : q.logins()) logins[l.login()] = l.calls();
    shapes.push_back({{"fingerprint", q.fingerprint()},
                      {"text", q.text()},
                      {"calls", q.calls()},
                      {"calls_error", q.calls_error()},
                      {"rows", q.rows()},
                      {"bytes", q.bytes()},
                      {"refused", q.refused()},
                      {"errors", q.errors()},
                      {"cache",
                       {{"hits", q.cache_hits()},
                        {"misses", q.cache_misses()},
                        {"coalesced", q.cache_coalesced()},
                        {"stale", q.cache_stale()}}},
                      {"upstream",
                       {{"calls", q.upstream_calls()},
                        {"total_ms", q.upstream_total_ms()},
                        {"mean_ms", q.upstream_mean_ms()},
                        {"p50_ms", q.upstream_p50_ms()},
                        {"p99_ms", q.upstream_p99_ms()}}},
                      {"saved_ms", q.saved_ms()},
                      {"logins", logins},
                      {"other_login_calls", q.other_login_calls()}});
  }
  return {{"enabled", r.enabled()},
          {"top_k", r.top_k()},
          {"statements", r.statements()},
          {"unfingerprinted", r.unfingerprinted()},
          {"shapes_tracked", r.shapes_tracked()},
          {"evictions", r.evictions()},
          {"shapes", shapes}};
}

std::string topText(const Json& data) {
  if (!data["enabled"].get<bool>()) {
    return "query statistics are off (QUERY_STATS_TOP_K=0)\n";
  }
  std::string out = fmt::format(
      "{} statements, {} shapes tracked (top {} per worker), {} evicted, {} without a shape\n",
      data["statements"].get<uint64_t>(), data["shapes_tracked"].get<uint64_t>(),
      data["top_k"].get<uint64_t>(), data["evictions"].get<uint64_t>(),
      data["unfingerprinted"].get<uint64_t>());
  Rows rows = {{"CALLS", "TOTAL", "MEAN", "P50", "P99", "ROWS", "BYTES", "HITS", "SAVED", "REFUSED",
                "LOGINS", "QUERY"}};
  for (const auto& s : data["shapes"]) {
    const auto& up = s["upstream"];
    const auto& cache = s["cache"];
    const uint64_t answered = cache["hits"].get<uint64_t>() + cache["coalesced"].get<uint64_t>() +
                              cache["stale"].get<uint64_t>();
    std::string logins;
    for (const auto& [login, calls] : s["logins"].items()) {
      logins += (logins.empty() ? "" : ",") + login;
    }
    if (s["other_login_calls"].get<uint64_t>() > 0) logins += ",...";
    std::string calls = std::to_string(s["calls"].get<uint64_t>());
    if (s["calls_error"].get<uint64_t>() > 0) calls += "+";
    rows.push_back({calls, ms(up["total_ms"].get<double>()), ms(up["mean_ms"].get<double>()),
                    ms(up["p50_ms"].get<double>()), ms(up["p99_ms"].get<double>()),
                    std::to_string(s["rows"].get<uint64_t>()),
                    formatBytes(s["bytes"].get<uint64_t>()), std::to_string(answered),
                    ms(s["saved_ms"].get<double>()), std::to_string(s["refused"].get<uint64_t>()),
                    oneLine(logins, 24), oneLine(s["text"].get<std::string>(), kQueryColumn)});
  }
  return out + table(rows);
}

}  // namespace pgro::admincli
