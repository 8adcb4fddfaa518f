// The metrics registry: owns instrument families and scrape-time collectors, and renders the
// Prometheus text exposition format 0.0.4. Injected (no global), so each test has its own.
//
// Registration (at startup, takes a lock, throws std::invalid_argument or std::logic_error on
// a bad or duplicate name) returns references that stay valid for the registry's lifetime;
// the hot path then updates them without any lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/instruments.hpp"
#include "metrics/metric.hpp"

namespace pgro::metrics {

// A labelled family of one instrument type. Children are created on first use of a label
// value tuple (under a lock): look them up once, keep the reference.
template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(MetricDesc desc, Factory factory) : desc_(std::move(desc)), factory_(std::move(factory)) {}

  // The child for these label values, one per label name (throws std::invalid_argument when
  // the count differs).
  T& labels(const std::vector<std::string>& values);
  const MetricDesc& desc() const { return desc_; }
  // Calls fn(label_values, child) in label-value order.
  template <typename Fn>
  void forEach(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  MetricDesc desc_;
  Factory factory_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// Where a collector writes the samples of one of its families at scrape time.
class SampleWriter {
 public:
  void add(double value) { add({}, value); }
  // One label value per label name of the family (a mismatch is a programming error:
  // std::invalid_argument).
  void add(std::vector<std::string> label_values, double value);

 private:
  friend class Registry;
  friend class CollectorSink;
  explicit SampleWriter(std::size_t label_count) : label_count_(label_count) {}
  std::size_t label_count_;
  std::vector<std::pair<std::vector<std::string>, double>> samples_;
};

class CollectorSink {
 public:
  // The writer of a family the collector declared (std::invalid_argument otherwise).
  SampleWriter& family(std::string_view name);

 private:
  friend class Registry;
  std::vector<std::pair<std::string, SampleWriter>> families_;
};

// Fills values from a snapshot at scrape time, for numbers the data plane already keeps.
using Collector = std::function<void(CollectorSink&)>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(const MetricDesc& desc);
  Family<Counter>& counterFamily(const MetricDesc& desc);
  Gauge& gauge(const MetricDesc& desc);
  Family<Gauge>& gaugeFamily(const MetricDesc& desc);
  Histogram& histogram(const MetricDesc& desc, std::vector<double> bounds);
  Family<Histogram>& histogramFamily(const MetricDesc& desc, std::vector<double> bounds);

  // Families whose samples `collect` writes at each scrape (counter or gauge types). One call
  // of `collect` per scrape serves all of them, so it can read one consistent snapshot.
  // A collector that throws loses its samples for that scrape; the rest still renders.
  void addCollector(std::vector<MetricDesc> families, Collector collect);

  // Text exposition format 0.0.4: families in registration order, children by label values.
  std::string render() const;

 private:
  struct Entry;
  Entry& add(const MetricDesc& desc, bool labelled);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace pgro::metrics

namespace pgro::metrics {

template <typename T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  if (values.size() != desc_.label_names.size()) {
    throw std::invalid_argument(desc_.name + ": expected " +
                                std::to_string(desc_.label_names.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
  std::lock_guard lock(mutex_);
  auto& slot = children_[values];
  if (!slot) slot = factory_();
  return *slot;
}

}  // namespace pgro::metrics
