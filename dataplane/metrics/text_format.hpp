// Pieces of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgro::metrics {

// HELP text: backslash and line feed escaped as \\ and \n.
std::string escapeHelp(std::string_view text);
// Label value: backslash, double quote and line feed escaped as \\, \" and \n.
std::string escapeLabelValue(std::string_view value);
// Shortest text that reads back as the same double; +Inf, -Inf, NaN as Prometheus spells them.
std::string formatValue(double v);
// {a="x",b="y"} (empty string when there are no labels).
std::string formatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values,
                         const std::pair<std::string, std::string>* extra = nullptr);

}  // namespace pgro::metrics
