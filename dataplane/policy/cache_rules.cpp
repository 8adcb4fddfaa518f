#include "policy/cache_rules.hpp"
#include "policy/fingerprint.hpp"

#include <algorithm>
#include <charconv>

namespace pgro::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Ten years: far beyond any useful TTL, and far from overflowing a clock's time_point.
constexpr std::int64_t kMaxDurationMs = 10LL * 365 * 24 * 3600 * 1000;

constexpr std::string_view kHintOpen = "/* pgro:ttl=";
constexpr std::string_view kCommentClose = "*/";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The sample's quoted form: `"` and `\` escaped, and line breaks, so a rule stays one line.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// Reads a quoted string at the start of `rest` (which begins with `"`), unescaping it.
// Returns false when it does not end or has an unknown escape.
bool unquote(std::string_view& rest, std::string& out) {
  rest.remove_prefix(1);
  while (!rest.empty()) {
    const char c = rest.front();
    rest.remove_prefix(1);
    if (c == '"') return true;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (rest.empty()) return false;
    const char e = rest.front();
    rest.remove_prefix(1);
    switch (e) {
      case '"':
      case '\\':
        out.push_back(e);
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      default:
        return false;
    }
  }
  return false;
}

// One rules file line (not blank, not a comment) into `rule`; "" or what is wrong.
std::string parseLine(std::string_view line, CacheRule& rule) {
  const std::size_t space = line.find_first_of(" \t");
  const std::string_view hex = line.substr(0, space);
  const auto fingerprint = parseFingerprint(hex);
  if (!fingerprint) {
    return "expected a fingerprint of 16 hex digits first, got '" + std::string(hex) + "'";
  }
  rule.fingerprint = *fingerprint;
  std::string_view rest = space == std::string_view::npos ? "" : line.substr(space);
  for (;;) {
    rest = trim(rest);
    if (rest.empty()) break;
    if (rest.starts_with("sample=\"")) {
      rest.remove_prefix(7);
      if (!unquote(rest, rule.sample)) return "sample: unterminated or bad escape";
      continue;
    }
    const std::size_t end = rest.find_first_of(" \t");
    const std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end);
    if (field == "nocache") {
      rule.nocache = true;
      continue;
    }
    const std::size_t eq = field.find('=');
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : field.substr(eq + 1);
    if (eq == std::string_view::npos) return "unknown field '" + std::string(field) + "'";
    if (name == "ttl") {
      rule.ttl = parseDuration(value);
      if (!rule.ttl)
        return "ttl: expected a duration like 30s, 500ms or 2m, got '" + std::string(value) + "'";
    } else if (name == "stale") {
      const auto stale = parseDuration(value);
      if (!stale || stale->count() % 1000 != 0) {
        return "stale: expected whole seconds like 300s or 5m, got '" + std::string(value) + "'";
      }
      rule.stale_if_error = std::chrono::duration_cast<seconds>(*stale);
    } else if (name == "swr") {
      int percent = -1;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), percent);
      if (ec != std::errc{} || p != value.data() + value.size()) {
        return "swr: expected a percent 0..99, got '" + std::string(value) + "'";
      }
      rule.swr_percent = percent;
    } else {
      return "unknown field '" + std::string(name) + "'";
    }
  }
  return rule.check();
}

}  // namespace

std::string CacheRule::check() const {
  if (ttl && ttl->count() <= 0) return "ttl must be more than 0";
  if (swr_percent && (*swr_percent < 0 || *swr_percent > 99)) return "swr must be 0..99";
  if (stale_if_error && stale_if_error->count() < 0) return "stale must not be negative";
  if (nocache && (ttl || swr_percent || stale_if_error)) {
    return "nocache cannot be combined with ttl, swr or stale";
  }
  if (!nocache && !ttl && !swr_percent && !stale_if_error) {
    return "a rule sets at least one of ttl, swr, stale or nocache";
  }
  return {};
}

CacheRuleSet::CacheRuleSet(std::vector<CacheRule> rules) {
  for (auto& rule : rules) {
    const std::uint64_t fingerprint = rule.fingerprint;
    by_fingerprint_.insert_or_assign(fingerprint, std::move(rule));
  }
}

std::vector<const CacheRule*> CacheRuleSet::sorted() const {
  std::vector<const CacheRule*> out;
  out.reserve(by_fingerprint_.size());
  for (const auto& [fingerprint, rule] : by_fingerprint_) out.push_back(&rule);
  std::sort(out.begin(), out.end(),
            [](const CacheRule* a, const CacheRule* b) { return a->fingerprint < b->fingerprint; });
  return out;
}

CacheRuleSet CacheRuleSet::with(CacheRule rule) const {
  CacheRuleSet copy = *this;
  if (auto it = copy.by_fingerprint_.find(rule.fingerprint); it != copy.by_fingerprint_.end()) {
    rule.counters = it->second.counters;
  }
  const std::uint64_t fingerprint = rule.fingerprint;
  copy.by_fingerprint_.insert_or_assign(fingerprint, std::move(rule));
  return copy;
}

CacheRuleSet CacheRuleSet::without(std::uint64_t fingerprint) const {
  CacheRuleSet copy = *this;
  copy.by_fingerprint_.erase(fingerprint);
  return copy;
}

void CacheRuleSet::keepCounters(const CacheRuleSet& previous) {
  for (auto& [fingerprint, rule] : by_fingerprint_) {
    if (const CacheRule* old = previous.find(fingerprint)) rule.counters = old->counters;
  }
}

CacheRulesParse parseCacheRules(std::string_view text) {
  std::vector<CacheRule> rules;
  std::unordered_map<std::uint64_t, int> seen;  // fingerprint -> line
  int number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
    if (line.empty() || line.front() == '#') continue;
    CacheRule rule;
    if (std::string error = parseLine(line, rule); !error.empty()) {
      return {.rules = std::nullopt, .error = "line " + std::to_string(number) + ": " + error};
    }
    if (auto [it, fresh] = seen.emplace(rule.fingerprint, number); !fresh) {
      return {.rules = std::nullopt,
              .error = "line " + std::to_string(number) + ": fingerprint " +
                       fingerprintHex(rule.fingerprint) + " already has a rule on line " +
                       std::to_string(it->second)};
    }
    rules.push_back(std::move(rule));
  }
  return {.rules = CacheRuleSet(std::move(rules)), .error = {}};
}

std::string formatCacheRule(const CacheRule& rule) {
  std::string line = fingerprintHex(rule.fingerprint);
  if (rule.ttl) line += " ttl=" + formatDuration(*rule.ttl);
  if (rule.swr_percent) line += " swr=" + std::to_string(*rule.swr_percent);
  if (rule.stale_if_error) {
    line +=
        " stale=" + formatDuration(std::chrono::duration_cast<milliseconds>(*rule.stale_if_error));
  }
  if (rule.nocache) line += " nocache";
  if (!rule.sample.empty()) line += " sample=" + quote(rule.sample);
  return line;
}

std::string formatCacheRules(const CacheRuleSet& rules) {
  std::string out =
      "# pgro cache rules (CACHE_RULES_FILE), written by pgro on every change through the admin\n"
      "# API: <fingerprint> [ttl=DURATION] [swr=PERCENT] [stale=DURATION] [nocache] "
      "[sample=\"...\"]\n";
  for (const CacheRule* rule : rules.sorted()) {
    out += formatCacheRule(*rule);
    out.push_back('\n');
  }
  return out;
}

std::optional<milliseconds> parseDuration(std::string_view text) {
  std::int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || p == text.data() || value < 0) return std::nullopt;
  const std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else {
    return std::nullopt;
  }
  if (value > kMaxDurationMs / scale) return std::nullopt;
  return milliseconds(value * scale);
}

std::string formatDuration(milliseconds duration) {
  const std::int64_t ms = duration.count();
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<milliseconds> hintTtl(std::string_view sql) {
  std::optional<milliseconds> lowest;
  for (std::size_t at = sql.find(kHintOpen); at != std::string_view::npos;
       at = sql.find(kHintOpen, at + 1)) {
    const std::size_t from = at + kHintOpen.size();
    const std::size_t close = sql.find(kCommentClose, from);
    if (close == std::string_view::npos) break;
    if (const auto ttl = parseDuration(trim(sql.substr(from, close - from)))) {
      lowest = lowest ? std::min(*lowest, *ttl) : *ttl;
    }
  }
  return lowest;
}

CacheTreatment cacheTreatment(milliseconds default_ttl, const CacheRule* rule,
                              std::optional<milliseconds> hint) {
  CacheTreatment out;
  out.ttl = default_ttl;
  if (rule != nullptr) {
    if (rule->nocache) {
      out.cache = false;
      return out;
    }
    if (rule->ttl) out.ttl = *rule->ttl;
    out.stale_if_error = rule->stale_if_error;
    if (rule->swr_percent) out.refresh_fraction = *rule->swr_percent / 100.0;
  }
  if (hint) out.ttl = std::min(out.ttl, *hint);
  if (out.ttl.count() <= 0) out.cache = false;
  return out;
}

}  // namespace pgro::policy
