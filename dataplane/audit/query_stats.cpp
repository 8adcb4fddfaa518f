#include "audit/query_stats.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "policy/fingerprint.hpp"

namespace pgro::audit {

namespace {

constexpr std::size_t kFingerprintCacheEntries = 4096;
constexpr std::size_t kFingerprintCacheTextBytes = 16 * 1024;

// Looks texts up without copying them into a std::string first.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

struct Bounds {
  std::array<std::uint64_t, LatencyHistogram::kBuckets> upper{};
  Bounds() {
    double bound = 10.0;
    for (std::size_t i = 0; i < upper.size(); ++i) {
      upper[i] = static_cast<std::uint64_t>(std::ceil(bound));
      bound *= 1.25;
    }
    upper.back() = std::numeric_limits<std::uint64_t>::max();
  }
};

const Bounds& bounds() {
  static const Bounds b;
  return b;
}

std::uint64_t micros(Record::SteadyTime from, Record::SteadyTime to) {
  if (to <= from) return 0;
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(to - from).count());
}

void countLogin(ShapeCounters& c, std::string_view login, std::uint64_t calls) {
  for (auto& [name, n] : c.logins) {
    if (name == login) {
      n += calls;
      return;
    }
  }
  if (c.logins.size() < kMaxLogins) {
    c.logins.emplace_back(std::string(login), calls);
  } else {
    c.other_login_calls += calls;
  }
}

std::uint64_t orderKey(const ShapeView& v, ShapeOrder order) {
  switch (order) {
    case ShapeOrder::Calls:
      return v.counters.calls;
    case ShapeOrder::Saved:
      return v.saved_micros;
    case ShapeOrder::Bytes:
      return v.counters.bytes;
    case ShapeOrder::Time:
      break;
  }
  return v.counters.upstream_micros;
}

}  // namespace

std::uint64_t LatencyHistogram::upperBound(std::size_t bucket) {
  return bounds().upper[std::min(bucket, kBuckets - 1)];
}

std::size_t LatencyHistogram::bucketOf(std::uint64_t micros) {
  const auto& upper = bounds().upper;
  return static_cast<std::size_t>(std::lower_bound(upper.begin(), upper.end(), micros) -
                                  upper.begin());
}

void LatencyHistogram::add(std::uint64_t micros) {
  ++counts_[bucketOf(micros)];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  // The rank of the quantile, 1-based: the smallest value with at least q of all at or below.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upperBound(i), max_);
  }
  return max_;
}

void ShapeCounters::merge(const ShapeCounters& o) {
  calls += o.calls;
  calls_error += o.calls_error;
  rows += o.rows;
  bytes += o.bytes;
  refused += o.refused;
  errors += o.errors;
  cache_hits += o.cache_hits;
  cache_misses += o.cache_misses;
  cache_coalesced += o.cache_coalesced;
  cache_stale += o.cache_stale;
  upstream_calls += o.upstream_calls;
  upstream_micros += o.upstream_micros;
  upstream.merge(o.upstream);
  for (const auto& [login, n] : o.logins) countLogin(*this, login, n);
  other_login_calls += o.other_login_calls;
}

void ShapeTable::add(std::uint64_t fingerprint, const Record& r) {
  std::size_t at = 0;
  if (auto it = index_.find(fingerprint); it != index_.end()) {
    at = it->second;
  } else if (entries_.size() < capacity_) {
    at = entries_.size();
    entries_.emplace_back();
    index_.emplace(fingerprint, at);
  } else {
    // Space-saving: the newcomer replaces the shape with the smallest estimate and inherits
    // it as its possible undercount. A linear scan: K is small, and it runs only for a shape
    // the shard does not know while it is full.
    at = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i) {
      if (entries_[i].estimate() < entries_[at].estimate()) at = i;
    }
    const std::uint64_t inherited = entries_[at].estimate();
    index_.erase(entries_[at].fingerprint);
    index_.emplace(fingerprint, at);
    entries_[at] = Entry{};
    entries_[at].counters.calls_error = inherited;
    ++evictions_;
  }
  Entry& e = entries_[at];
  ShapeCounters& c = e.counters;
  if (c.calls == 0) {
    e.fingerprint = fingerprint;
    e.text = r.text.substr(0, kSampleTextBytes);
  }
  ++c.calls;
  c.rows += r.rows;
  c.bytes += r.bytes;
  if (r.refused) ++c.refused;
  if (!r.sqlstate.empty() && r.sqlstate != "00000") ++c.errors;
  switch (r.cache) {
    case CacheOutcome::Hit:
      ++c.cache_hits;
      break;
    case CacheOutcome::Miss:
      ++c.cache_misses;
      break;
    case CacheOutcome::Coalesced:
      ++c.cache_coalesced;
      break;
    case CacheOutcome::Stale:
      ++c.cache_stale;
      break;
    case CacheOutcome::Bypass:
      break;
  }
  if (r.forwarded != Record::SteadyTime{}) {
    const std::uint64_t us = micros(r.forwarded, r.finished);
    ++c.upstream_calls;
    c.upstream_micros += us;
    c.upstream.add(us);
  }
  countLogin(c, r.who ? std::string_view(r.who->login) : std::string_view(), 1);
}

void ShapeTable::clear() {
  entries_.clear();
  index_.clear();
  evictions_ = 0;
}

QueryStats::QueryStats(std::size_t top_k, std::size_t shards)
    : top_k_(std::max<std::size_t>(1, top_k)) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, shards); ++i) {
    shards_.push_back(std::make_unique<Shard>(top_k_));
  }
}

void QueryStats::add(std::size_t shard, const Record& record) {
  Shard& s = shardFor(shard);
  std::lock_guard lock(s.mu);
  ++s.statements;
  if (!record.fingerprint) {
    ++s.unfingerprinted;
    return;
  }
  s.table.add(*record.fingerprint, record);
}

bool QueryStats::known(std::size_t shard, std::uint64_t fingerprint) {
  Shard& s = shardFor(shard);
  std::lock_guard lock(s.mu);
  return s.table.contains(fingerprint);
}

std::pair<std::uint64_t, std::uint64_t> QueryStats::totals() const {
  std::uint64_t shapes = 0;
  std::uint64_t evictions = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    shapes += s->table.size();
    evictions += s->table.evictions();
  }
  return {shapes, evictions};
}

QueryStatsSnapshot QueryStats::snapshot(const ShapeQuery& query) const {
  QueryStatsSnapshot out;
  out.top_k = top_k_;
  std::unordered_map<std::uint64_t, ShapeView> merged;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    out.statements += s->statements;
    out.unfingerprinted += s->unfingerprinted;
    out.evictions += s->table.evictions();
    for (const auto& e : s->table.entries()) {
      auto [it, fresh] = merged.try_emplace(e.fingerprint);
      ShapeView& v = it->second;
      if (fresh) {
        v.fingerprint = e.fingerprint;
        v.text = e.text;
      }
      v.counters.merge(e.counters);
    }
  }
  out.shapes_tracked = merged.size();
  out.shapes.reserve(merged.size());
  for (auto& [fingerprint, v] : merged) {
    ShapeCounters& c = v.counters;
    std::sort(c.logins.begin(), c.logins.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (!query.login.empty() && std::none_of(c.logins.begin(), c.logins.end(), [&](const auto& l) {
          return l.first == query.login;
        })) {
      continue;
    }
    v.p50_micros = c.upstream.quantile(0.5);
    v.p99_micros = c.upstream.quantile(0.99);
    v.mean_micros = c.upstream_calls == 0 ? 0 : c.upstream_micros / c.upstream_calls;
    v.saved_micros = (c.cache_hits + c.cache_coalesced + c.cache_stale) * v.mean_micros;
    out.shapes.push_back(std::move(v));
  }
  std::sort(out.shapes.begin(), out.shapes.end(), [&](const ShapeView& a, const ShapeView& b) {
    const std::uint64_t ka = orderKey(a, query.order);
    const std::uint64_t kb = orderKey(b, query.order);
    if (ka != kb) return ka > kb;
    if (a.counters.calls != b.counters.calls) return a.counters.calls > b.counters.calls;
    return a.fingerprint < b.fingerprint;
  });
  const std::size_t keep = query.limit == 0 ? top_k_ : std::min(query.limit, top_k_);
  if (out.shapes.size() > keep) out.shapes.resize(keep);
  return out;
}

std::uint64_t QueryStats::reset() {
  std::uint64_t dropped = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    dropped += s->table.size();
    s->table.clear();
    s->statements = 0;
    s->unfingerprinted = 0;
  }
  return dropped;
}

std::optional<std::uint64_t> cachedFingerprint(std::string_view text) {
  thread_local std::unordered_map<std::string, std::optional<std::uint64_t>, TextHash,
                                  std::equal_to<>>
      cache;
  if (text.size() > kFingerprintCacheTextBytes) return policy::fingerprint(text);
  if (auto it = cache.find(text); it != cache.end()) return it->second;
  auto value = policy::fingerprint(text);
  if (cache.size() >= kFingerprintCacheEntries) cache.clear();
  cache.emplace(std::string(text), value);
  return value;
}

}  // namespace pgro::audit
