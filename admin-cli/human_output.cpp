#include "human_output.hpp"

#include "top_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>
#include <vector>

namespace pgro::admincli {

std::string table(const Rows& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

namespace {

std::string num(const Json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string percent(double ratio) {
  return fmt::format("{:.1f}%", ratio * 100);
}

std::string flat(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return s;
}

Rows cacheRows(const Json& c) {
  return {{"enabled", num(c["enabled"])},
          {"ttl", num(c["ttl_seconds"]) + "s"},
          {"entries", num(c["entries"]) + " / " + num(c["max_entries"])},
          {"bytes", formatBytes(c["bytes"].get<uint64_t>()) + " / " +
                        formatBytes(c["max_bytes"].get<uint64_t>())},
          {"hits", num(c["hits"])},
          {"misses", num(c["misses"])},
          {"hit ratio", percent(c["hit_ratio"].get<double>())},
          {"evictions", num(c["evictions"])},
          {"coalesced", num(c["coalesced"])}};
}

std::string statsText(const Json& s) {
  const Json& cl = s["clients"];
  const Json& q = s["queries"];
  const Json& p = s["pool"];
  const Json& c = s["cache"];
  std::string reasons;
  for (const auto& [k, v] : q["refused_by_reason"].items()) {
    reasons += (reasons.empty() ? "" : ", ") + k + " " + num(v);
  }
  Rows rows = {
      {"version", num(s["version"])},
      {"uptime", formatDuration(s["uptime_seconds"].get<double>())},
      {"upstream", s["upstream"]["up"].get<bool>() ? "up" : "DOWN"},
      {"clients", fmt::format("{} open, {} total, {} refused, {} auth failures", num(cl["current"]),
                              num(cl["total"]), num(cl["refused"]), num(cl["auth_failures"]))},
      {"queries", fmt::format("{} forwarded, {} cache hits, {} refused, {} protocol errors",
                              num(q["forwarded"]), num(q["cache_hits"]), num(q["refused"]),
                              num(q["protocol_errors"]))},
      {"refused by", reasons.empty() ? "-" : reasons},
      {"pool", fmt::format("{} size, {} open, {} idle, {} busy, {} waiting", num(p["size"]),
                           num(p["open"]), num(p["idle"]), num(p["busy"]), num(p["waiting"]))},
      {"upstream conns",
       fmt::format("{} opened, {} errors, {} wait timeouts, {} tripwire", num(p["connects"]),
                   num(p["connect_errors"]), num(p["timeouts"]), num(p["tripwire_trips"]))},
      {"cache", fmt::format("{}, ttl {}s, {} entries ({}), hit ratio {}",
                            c["enabled"].get<bool>() ? "on" : "off", num(c["ttl_seconds"]),
                            num(c["entries"]), formatBytes(c["bytes"].get<uint64_t>()),
                            percent(c["hit_ratio"].get<double>()))},
  };
  return table(rows);
}

std::string sessionsText(const Json& data) {
  const Json& list = data["sessions"];
  if (list.empty()) return "no sessions\n";
  Rows rows = {{"USER", "CLIENT", "APPLICATION", "STATE", "FOR", "QUERY"}};
  const std::time_t now = std::time(nullptr);
  for (const auto& s : list) {
    std::string since = s["since"].get<std::string>();
    std::tm tm{};
    std::string age = "-";
    if (strptime(since.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr) {
      age = formatDuration(std::max(0.0, std::difftime(now, timegm(&tm))));
    }
    std::string query = flat(s["query"].get<std::string>());
    if (query.size() > 80) query = query.substr(0, 77) + "...";
    rows.push_back({flat(s["user"].get<std::string>()),
                    flat(s["client_address"].get<std::string>()),
                    flat(s["application_name"].get<std::string>()),
                    flat(s["state"].get<std::string>()), age, query});
  }
  return table(rows);
}

}  // namespace

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string formatDuration(double seconds) {
  auto s = static_cast<int64_t>(seconds);
  const int64_t d = s / 86400;
  const int64_t h = s % 86400 / 3600;
  const int64_t m = s % 3600 / 60;
  s %= 60;
  if (d > 0) return fmt::format("{}d{}h", d, h);
  if (h > 0) return fmt::format("{}h{:02}m", h, m);
  if (m > 0) return fmt::format("{}m{:02}s", m, s);
  return fmt::format("{}s", s);
}

std::string durationText(const Json& ms) {
  const int64_t v = ms.get<int64_t>();
  if (v % 1000 != 0) return std::to_string(v) + "ms";
  return std::to_string(v / 1000) + "s";
}

// One row per rule: what it sets, its counters, then its sample (cut to one line).
std::string rulesText(const Json& rules) {
  Rows rows = {{"FINGERPRINT", "TTL", "SWR", "STALE", "NOCACHE", "MATCHED", "HITS", "SAMPLE"}};
  for (const auto& r : rules) {
    std::string sample = flat(r["sample"].get<std::string>());
    if (sample.size() > 60) sample = sample.substr(0, 57) + "...";
    rows.push_back(
        {r["fingerprint"].get<std::string>(),
         r["ttl_ms"].is_null() ? "-" : durationText(r["ttl_ms"]),
         r["swr_percent"].is_null() ? "-" : num(r["swr_percent"]) + "%",
         r["stale_if_error_seconds"].is_null() ? "-" : num(r["stale_if_error_seconds"]) + "s",
         r["nocache"].get<bool>() ? "yes" : "-", num(r["matched"]), num(r["hits"]), sample});
  }
  return table(rows);
}

std::string renderHuman(Command command, const Json& data) {
  switch (command) {
    case Command::CacheReset:
      return "cache reset: " + num(data["entries_cleared"]) + " entries cleared\n";
    case Command::CacheStats:
      return table(cacheRows(data));
    case Command::CacheTtl:
      return "cache TTL set to " + num(data["ttl_seconds"]) +
             "s (for results cached from now on)\n";
    case Command::CacheEnable:
    case Command::CacheDisable:
      return std::string("cache ") + (data["enabled"].get<bool>() ? "enabled" : "disabled") + "\n";
    case Command::Stats:
      return statsText(data);
    case Command::Sessions:
      return sessionsText(data);
    case Command::Config: {
      Rows rows = {{"NAME", "VALUE"}};
      for (const auto& [k, v] : data["settings"].items()) rows.push_back({k, flat(num(v))});
      return table(rows);
    }
    case Command::CacheRuleAdd:
      return "cache rule set:\n" + rulesText(Json::array({data["rule"]}));
    case Command::CacheRuleList:
      return data["rules"].empty() ? "no cache rules\n" : rulesText(data["rules"]);
    case Command::CacheRuleRemove:
      return "cache rule " + data["removed"].get<std::string>() + " removed\n";
    case Command::Reload:
      return "reload: " + std::string(data["ok"].get<bool>() ? "ok" : "FAILED") +
             (data["message"].get<std::string>().empty()
                  ? ""
                  : ": " + flat(data["message"].get<std::string>())) +
             "\n";
    case Command::Top:
      return topText(data);
    case Command::TopReset:
      return "query statistics reset: " + num(data["shapes_dropped"]) + " shapes dropped\n";
  }
  return data.dump(2) + "\n";
}

}  // namespace pgro::admincli
