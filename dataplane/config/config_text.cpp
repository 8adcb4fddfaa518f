// Text generated from the schema table: --help, README's reference tables, describe() for
// logs and the admin API, and the reload comparison.
#include <sstream>
#include <string_view>

#include "config/config.hpp"
#include "config/schema.hpp"

namespace pgro::config {
namespace {

using detail::defaultText;
using detail::flagName;
using detail::kReloadable;
using detail::kRequired;
using detail::kSecret;
using detail::schema;
using detail::Setting;

// Greedy word wrap of `text` to `width` columns, each line prefixed by `indent`.
std::string wrap(std::string_view text, std::size_t width, const std::string& indent) {
  std::string out;
  std::string line;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) {
    out += indent + line + "\n";
  }
  return out;
}

std::string markdownCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\";
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string helpText() {
  std::string out =
      "pgro: a read-only PostgreSQL proxy with a result cache.\n"
      "\n"
      "Usage:\n"
      "  pgro [--setting=value ...]   run the proxy\n"
      "  pgro passwd USER             print a USERS_FILE line (SCRAM-SHA-256 verifier) for USER\n"
      "  pgro --help                  this text\n"
      "  pgro --help-markdown         the settings below as Markdown tables (README)\n"
      "\n"
      "Every setting is an environment variable. A .env file in the working directory is read\n"
      "too, and a flag (--name=value or --name value: the variable in lower case, '-' for '_')\n"
      "overrides both: flags > environment > .env > default. Empty values count as unset.\n";
  std::string_view group;
  for (const Setting& s : schema()) {
    if (s.group != group) {
      group = s.group;
      out += "\n" + std::string(group) + "\n";
    }
    // "  NAME (or ALIAS)  --flag  (type; default X; reloaded on SIGHUP; secret)", then help.
    std::string head = "  " + std::string(s.name);
    if (!s.alias.empty()) {
      head += " (or " + std::string(s.alias) + ")";
    }
    head += "  " + flagName(s.name) + "  (" + s.binding.type;
    const std::string def = defaultText(s);
    if (s.has(kRequired)) {
      head += "; required";
    } else if (!def.empty()) {
      head += "; default " + def;
    }
    if (s.has(kReloadable)) {
      head += "; reloaded on SIGHUP";
    }
    if (s.has(kSecret)) {
      head += "; secret, never logged";
    }
    out += head + ")\n";
    out += wrap(s.help, 100, "      ");
  }
  return out;
}

std::string markdownReference() {
  std::string out;
  std::string_view group;
  for (const Setting& s : schema()) {
    if (s.group != group) {
      group = s.group;
      out += (out.empty() ? "" : "\n") + std::string("### ") + std::string(group) + "\n\n";
      out += "| Variable | Default | Values | Description |\n";
      out += "|---|---|---|---|\n";
    }
    std::string name = "`" + std::string(s.name) + "`";
    if (!s.alias.empty()) {
      name += " (alias `" + std::string(s.alias) + "`)";
    }
    const std::string def = defaultText(s);
    const std::string def_cell = s.has(kRequired) ? "**required**"
                                 : def.empty()    ? ""
                                                  : "`" + def + "`";
    std::string description(s.help);
    if (s.has(kReloadable)) {
      description += " Reloaded on SIGHUP.";
    }
    if (s.has(kSecret)) {
      description += " Secret: never logged, redacted by GetConfig.";
    }
    out.append("| ").append(name).append(" | ").append(def_cell).append(" | ");
    out.append(markdownCell(s.binding.type)).append(" | ").append(markdownCell(description));
    out.append(" |\n");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> describe(const Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(schema().size());
  for (const Setting& s : schema()) {
    std::string value = s.binding.show(config);
    if (s.has(kSecret) && !value.empty()) {
      value = "***";
    }
    out.emplace_back(std::string(s.name), std::move(value));
  }
  return out;
}

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> v;
    for (const Setting& s : schema()) {
      v.push_back(SettingInfo{std::string(s.name), flagName(s.name), std::string(s.alias),
                              std::string(s.group), s.binding.type, defaultText(s),
                              std::string(s.help), s.has(kRequired), s.has(kReloadable),
                              s.has(kSecret)});
    }
    return v;
  }();
  return infos;
}

std::vector<SettingChange> diff(const Config& running, const Config& next) {
  std::vector<SettingChange> changes;
  for (const Setting& s : schema()) {
    std::string from = s.binding.show(running);
    std::string to = s.binding.show(next);
    if (from == to) {
      continue;
    }
    if (s.has(kSecret)) {
      from = from.empty() ? "" : "***";
      to = to.empty() ? "" : "***";
    }
    changes.push_back({std::string(s.name), std::move(from), std::move(to), s.has(kReloadable)});
  }
  return changes;
}

}  // namespace pgro::config
