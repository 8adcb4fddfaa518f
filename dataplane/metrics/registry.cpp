#include "metrics/registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "metrics/text_format.hpp"

namespace pgro::metrics {

namespace {

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

MetricDesc withType(MetricDesc desc, MetricType type) {
  desc.type = type;
  return desc;
}

void appendSample(std::string& out, const std::string& name, const std::string& labels,
                  const std::string& value) {
  out += name;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

struct CollectorGroup {
  std::vector<MetricDesc> families;
  Collector collect;
};

// One family in exposition order: an instrument family, or a family filled by a collector.
struct Registry::Entry {
  MetricDesc desc;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  std::shared_ptr<CollectorGroup> collector;
};

SampleWriter& CollectorSink::family(std::string_view name) {
  for (auto& [n, writer] : families_) {
    if (n == name) return writer;
  }
  throw std::invalid_argument("collector wrote undeclared family '" + std::string(name) + "'");
}

void SampleWriter::add(std::vector<std::string> label_values, double value) {
  if (label_values.size() != label_count_) {
    throw std::invalid_argument("expected " + std::to_string(label_count_) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  samples_.emplace_back(std::move(label_values), value);
}

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(const MetricDesc& desc, bool labelled) {
  validateMetricName(desc.name);
  if (!labelled && !desc.label_names.empty()) {
    throw std::invalid_argument(desc.name + ": labels given for an unlabelled metric");
  }
  for (const auto& l : desc.label_names) {
    validateLabelName(l);
    if (desc.type == MetricType::Histogram && l == "le") {
      throw std::invalid_argument(desc.name + ": 'le' is reserved for histogram buckets");
    }
  }
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (e->desc.name == desc.name) throw std::logic_error("metric registered twice: " + desc.name);
  }
  auto entry = std::make_unique<Entry>();
  entry->desc = desc;
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Family<Counter>& Registry::counterFamily(const MetricDesc& desc) {
  auto& e = add(withType(desc, MetricType::Counter), true);
  e.counters =
      std::make_unique<Family<Counter>>(e.desc, [] { return std::make_unique<Counter>(); });
  return *e.counters;
}

Counter& Registry::counter(const MetricDesc& desc) {
  if (!desc.label_names.empty()) add(desc, false);  // throws
  return counterFamily(desc).labels({});
}

Family<Gauge>& Registry::gaugeFamily(const MetricDesc& desc) {
  auto& e = add(withType(desc, MetricType::Gauge), true);
  e.gauges = std::make_unique<Family<Gauge>>(e.desc, [] { return std::make_unique<Gauge>(); });
  return *e.gauges;
}

Gauge& Registry::gauge(const MetricDesc& desc) {
  if (!desc.label_names.empty()) add(desc, false);
  return gaugeFamily(desc).labels({});
}

Family<Histogram>& Registry::histogramFamily(const MetricDesc& desc, std::vector<double> bounds) {
  Histogram probe(bounds);  // validates the bounds before anything is registered
  auto& e = add(withType(desc, MetricType::Histogram), true);
  e.histograms = std::make_unique<Family<Histogram>>(
      e.desc, [bounds] { return std::make_unique<Histogram>(bounds); });
  return *e.histograms;
}

Histogram& Registry::histogram(const MetricDesc& desc, std::vector<double> bounds) {
  if (!desc.label_names.empty()) add(desc, false);
  return histogramFamily(desc, std::move(bounds)).labels({});
}

void Registry::addCollector(std::vector<MetricDesc> families, Collector collect) {
  for (const auto& f : families) {
    if (f.type == MetricType::Histogram) {
      throw std::invalid_argument(f.name + ": collectors fill counters and gauges only");
    }
  }
  auto group = std::make_shared<CollectorGroup>();
  group->families = families;
  group->collect = std::move(collect);
  for (const auto& f : families) add(f, true).collector = group;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  // One call per collector; its samples, by family name.
  std::vector<std::pair<const CollectorGroup*, CollectorSink>> collected;
  for (const auto& e : entries_) {
    if (!e->collector) continue;
    const bool seen = std::any_of(collected.begin(), collected.end(),
                                  [&](const auto& c) { return c.first == e->collector.get(); });
    if (seen) continue;
    CollectorSink sink;
    for (const auto& f : e->collector->families) {
      sink.families_.emplace_back(f.name, SampleWriter(f.label_names.size()));
    }
    try {
      e->collector->collect(sink);
    } catch (const std::exception& ex) {
      spdlog::warn("metrics collector for {} failed: {}", e->desc.name, ex.what());
      for (auto& f : sink.families_) f.second.samples_.clear();
    }
    collected.emplace_back(e->collector.get(), std::move(sink));
  }

  std::string out;
  out.reserve(4096);
  for (const auto& e : entries_) {
    const MetricDesc& d = e->desc;
    out += "# HELP " + d.name + ' ' + escapeHelp(d.help) + '\n';
    out += "# TYPE " + d.name + ' ' + typeName(d.type) + '\n';
    if (e->counters) {
      e->counters->forEach([&](const std::vector<std::string>& values, const Counter& c) {
        appendSample(out, d.name, formatLabels(d.label_names, values), std::to_string(c.value()));
      });
    } else if (e->gauges) {
      e->gauges->forEach([&](const std::vector<std::string>& values, const Gauge& g) {
        appendSample(out, d.name, formatLabels(d.label_names, values), formatValue(g.value()));
      });
    } else if (e->histograms) {
      e->histograms->forEach([&](const std::vector<std::string>& values, const Histogram& h) {
        const auto snap = h.snapshot();
        for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
          const std::pair<std::string, std::string> le{
              "le", i < snap.bounds.size() ? formatValue(snap.bounds[i]) : "+Inf"};
          appendSample(out, d.name + "_bucket", formatLabels(d.label_names, values, &le),
                       std::to_string(snap.cumulative[i]));
        }
        const std::string labels = formatLabels(d.label_names, values);
        appendSample(out, d.name + "_sum", labels, formatValue(snap.sum));
        appendSample(out, d.name + "_count", labels, std::to_string(snap.count));
      });
    } else if (e->collector) {
      for (auto& [group, sink] : collected) {
        if (group != e->collector.get()) continue;
        for (const auto& [values, value] : sink.family(d.name).samples_) {
          appendSample(out, d.name, formatLabels(d.label_names, values), formatValue(value));
        }
      }
    }
  }
  return out;
}

}  // namespace pgro::metrics
