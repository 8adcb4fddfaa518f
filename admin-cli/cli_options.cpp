#include "cli_options.hpp"

#include <charconv>
#include <climits>
#include <cmath>
#include <optional>

namespace pgro::admincli {

namespace {

std::vector<std::string> splitAddrs(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::size_t end = comma == std::string::npos ? text.size() : comma;
    std::string part = text.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool validAddr(const std::string& a) {
  const std::size_t colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= a.size()) return false;
  int port = 0;
  const char* first = a.data() + colon + 1;
  const char* last = a.data() + a.size();
  auto [p, ec] = std::from_chars(first, last, port);
  return ec == std::errc{} && p == last && port > 0 && port <= 65535;
}

std::optional<Command> commandOf(const std::vector<std::string>& words, int64_t& ttl,
                                 std::string& error) {
  const auto n = words.size();
  auto is = [&](std::initializer_list<const char*> w) {
    if (w.size() != n) return false;
    std::size_t i = 0;
    for (const char* s : w) {
      if (words[i++] != s) return false;
    }
    return true;
  };
  if (is({"cache", "reset"})) return Command::CacheReset;
  if (is({"cache", "stats"})) return Command::CacheStats;
  if (is({"cache", "enable"})) return Command::CacheEnable;
  if (is({"cache", "disable"})) return Command::CacheDisable;
  if (is({"stats"})) return Command::Stats;
  if (is({"sessions"})) return Command::Sessions;
  if (is({"config"})) return Command::Config;
  if (is({"reload"})) return Command::Reload;
  if (is({"cache", "rule", "add"})) return Command::CacheRuleAdd;
  if (is({"cache", "rule", "list"})) return Command::CacheRuleList;
  if (n == 4 && words[0] == "cache" && words[1] == "rule" && words[2] == "remove") {
    return Command::CacheRuleRemove;
  }
  if (is({"top"})) return Command::Top;
  if (is({"top", "reset"})) return Command::TopReset;
  if (n == 3 && words[0] == "cache" && words[1] == "ttl") {
    const std::string& v = words[2];
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ttl);
    if (ec != std::errc{} || p != v.data() + v.size() || ttl <= 0) {
      error = "cache ttl: expected a positive whole number of seconds, got '" + v + "'";
      return std::nullopt;
    }
    return Command::CacheTtl;
  }
  if (n == 2 && words[0] == "cache" && words[1] == "ttl") {
    error = "cache ttl: missing SECONDS";
  } else if (n == 0) {
    error = "missing command";
  } else {
    std::string joined;
    for (const auto& w : words) joined += (joined.empty() ? "" : " ") + w;
    error = "unknown command '" + joined + "'";
  }
  return std::nullopt;
}

// "30s", "500ms", "2m", "1h", "30" (seconds) as milliseconds, as pgro's rules file spells
// them; nullopt when not one.
std::optional<int64_t> durationMs(const std::string& v) {
  int64_t value = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc{} || p == v.data() || value < 0) return std::nullopt;
  const std::string unit(p, v.data() + v.size());
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (value > INT64_MAX / 1000 / scale) return std::nullopt;
  return value * scale;
}

// A `cache rule add` option; "" or what is wrong.
std::string ruleOption(const std::string& name, const std::string& v, RuleArgs& rule) {
  rule.any = true;
  if (name == "--query") {
    rule.query = v;
  } else if (name == "--fingerprint") {
    rule.fingerprint = v;
  } else if (name == "--sample") {
    rule.sample = v;
  } else if (name == "--ttl") {
    rule.ttl_ms = durationMs(v);
    if (!rule.ttl_ms || *rule.ttl_ms == 0) {
      return "--ttl: expected a duration like 30s, 500ms or 2m, got '" + v + "'";
    }
  } else if (name == "--stale") {
    const auto ms = durationMs(v);
    if (!ms || *ms % 1000 != 0) return "--stale: expected whole seconds like 300s, got '" + v + "'";
    rule.stale_seconds = *ms / 1000;
  } else {
    int percent = -1;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), percent);
    if (ec != std::errc{} || p != v.data() + v.size() || percent < 0 || percent > 99) {
      return "--swr: expected a percent 0..99, got '" + v + "'";
    }
    rule.swr_percent = percent;
  }
  return {};
}

}  // namespace

ParseResult parseArgs(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) {
  Options o;
  std::string addr_text = "127.0.0.1:50051";
  if (auto it = env.find("PGRO_ADMIN_ADDR"); it != env.end() && !it->second.empty()) {
    addr_text = it->second;
  }
  if (auto it = env.find("PGRO_ADMIN_TOKEN"); it != env.end()) o.token = it->second;
  std::vector<std::string> words;
  bool only_words = false;
  bool top_options = false;  // --by, --user or --limit given
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    // "-5" is a (bad) TTL, not an option: let the command report it.
    const bool negative_number = a.size() > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9';
    if (only_words || a.empty() || a[0] != '-' || a == "-" || negative_number) {
      words.push_back(a);
      continue;
    }
    if (a == "--") {
      only_words = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> value;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    auto take = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (name == "--help" || name == "-h") return ShowHelp{};
    if (name == "--version") return ShowVersion{};
    if (name == "--nocache") {
      if (value) return UsageError{name + " takes no value"};
      o.rule.nocache = o.rule.any = true;
      continue;
    }
    if (name == "--query" || name == "--fingerprint" || name == "--sample" || name == "--ttl" ||
        name == "--swr" || name == "--stale") {
      const auto v = take();
      if (!v) return UsageError{name + " needs a value"};
      if (std::string error = ruleOption(name, *v, o.rule); !error.empty()) {
        return UsageError{error};
      }
      continue;
    }
    if (name == "--json" || name == "--tls") {
      if (value) return UsageError{name + " takes no value"};
      (name == "--json" ? o.json : o.tls) = true;
      continue;
    }
    if (name == "--by" || name == "--user" || name == "--limit") {
      const auto v = take();
      if (!v) return UsageError{name + " needs a value"};
      top_options = true;
      if (name == "--by") {
        if (*v != "time" && *v != "calls" && *v != "saved" && *v != "bytes") {
          return UsageError{"--by: expected time, calls, saved or bytes, got '" + *v + "'"};
        }
        o.top_by = *v;
      } else if (name == "--user") {
        o.top_user = *v;
      } else {
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), o.top_limit);
        if (ec != std::errc{} || p != v->data() + v->size() || o.top_limit == 0) {
          return UsageError{"--limit: expected a positive whole number, got '" + *v + "'"};
        }
      }
      continue;
    }
    if (name == "--addr" || name == "--token" || name == "--timeout" || name == "--ca" ||
        name == "--tls-server-name") {
      const auto v = take();
      if (!v) return UsageError{name + " needs a value"};
      if (name == "--addr") {
        addr_text = *v;
      } else if (name == "--token") {
        o.token = *v;
      } else if (name == "--ca") {
        o.ca_file = *v;
      } else if (name == "--tls-server-name") {
        o.tls_server_name = *v;
      } else {
        double secs = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), secs);
        if (ec != std::errc{} || p != v->data() + v->size() || !(secs > 0) || secs > 3600) {
          return UsageError{"--timeout: expected seconds in (0, 3600], got '" + *v + "'"};
        }
        o.timeout = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(secs * 1000)));
      }
      continue;
    }
    return UsageError{"unknown option '" + name + "'"};
  }
  o.addrs = splitAddrs(addr_text);
  if (o.addrs.empty()) return UsageError{"--addr: no address given"};
  for (const auto& a : o.addrs) {
    if (!validAddr(a)) return UsageError{"--addr: expected host:port, got '" + a + "'"};
  }
  if ((!o.ca_file.empty() || !o.tls_server_name.empty()) && !o.tls) {
    return UsageError{"--ca and --tls-server-name need --tls"};
  }
  std::string error;
  const auto command = commandOf(words, o.ttl_seconds, error);
  if (!command) return UsageError{error};
  o.command = *command;
  if (o.command == Command::CacheRuleRemove) {
    o.rule.fingerprint = words[3];
  } else if (o.command == Command::CacheRuleAdd) {
    if (o.rule.query.empty() == o.rule.fingerprint.empty()) {
      return UsageError{"cache rule add: give --query SQL or --fingerprint HEX (one of them)"};
    }
    if (!o.rule.nocache && !o.rule.ttl_ms && !o.rule.swr_percent && !o.rule.stale_seconds) {
      return UsageError{"cache rule add: set at least one of --ttl, --swr, --stale, --nocache"};
    }
  } else if (o.rule.any) {
    return UsageError{
        "--query, --fingerprint, --sample, --ttl, --swr, --stale and --nocache "
        "are options of `cache rule add`"};
  }
  if (top_options && o.command != Command::Top) {
    return UsageError{"--by, --user and --limit go with the top command"};
  }
  return o;
}

std::string helpText() {
  return R"(Usage: pgro-admin [OPTIONS] COMMAND

Administers one pgro daemon, or several at once, through its gRPC admin API.

Commands:
  cache reset          empty the result cache (prints the entries cleared)
  cache stats          cache size, hits, misses, hit ratio, TTL
  cache ttl SECONDS    set the TTL of results cached from now on (SECONDS > 0)
  cache enable         turn the result cache on
  cache disable        turn the result cache off
  stats                clients, queries, refusals, pool, cache, upstream, uptime
  sessions             the client sessions open now
  config               every setting, secrets redacted
  reload               reload users and the function catalog (as SIGHUP does)
  cache rule add (--query SQL | --fingerprint HEX) [--ttl DURATION] [--swr PERCENT]
                 [--stale DURATION] [--nocache] [--sample SQL]
                       set how statements of one shape (libpg_query fingerprint: the
                       statement without its constants) are cached; DURATION like 30s,
                       500ms, 2m; replaces the rule of the same shape; saved to
                       CACHE_RULES_FILE
  cache rule list      the cache rules: fingerprint, settings, matched and hits, sample
  cache rule remove HEX
                       remove the cache rule of a fingerprint
  top [--by time|calls|saved|bytes] [--user LOGIN] [--limit N]
                       statement shapes (QUERY_STATS_TOP_K) with calls, upstream time
                       (total, mean, p50, p99), rows, bytes, cache answers, time the cache
                       saved (answers x mean upstream time), refusals and logins; ordered by
                       --by (default time: total upstream time), only those LOGIN ran,
                       the first N (default 20)
  top reset            forget the query-shape statistics

Options:
  --addr HOST:PORT[,HOST:PORT...]
                       daemon(s) to talk to (default $PGRO_ADMIN_ADDR or 127.0.0.1:50051);
                       with several, the command runs on each and each result is reported
  --token TOKEN        ADMIN_TOKEN of the daemon(s) (default $PGRO_ADMIN_TOKEN); sent as
                       "authorization: Bearer TOKEN"
  --timeout SECONDS    deadline of each call (default 5)
  --json               print JSON: one object; with several addresses, an object keyed by
                       address (a failed daemon gets {"error": {...}})
  --tls                use TLS (the daemon has ADMIN_TLS_CERT_FILE/ADMIN_TLS_KEY_FILE)
  --ca FILE            PEM CA certificate(s) to verify the daemon (default: system CAs)
  --tls-server-name NAME
                       name expected in the daemon's certificate (default: the host)
  -h, --help           this text
  --version            pgro-admin's version

Exit codes:
  0  success
  2  usage error
  3  daemon unreachable or timed out
  4  unauthenticated (missing or wrong token)
  5  the daemon refused or failed the request
  6  several daemons: some failed, or they failed in different ways
Errors are one line each on stderr.
)";
}

}  // namespace pgro::admincli
