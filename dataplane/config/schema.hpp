// Internal: the configuration schema, one row per setting. load() (config.cpp) and the
// generated text (config_text.cpp: --help, README's table, describe()) all walk schema();
// there is no other list of setting names. Defaults are the member initialisers of Config
// (config.hpp), read back through each row's `show`, so they cannot drift either.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pgro::config::detail {

enum Flags : unsigned {
  kNone = 0,
  kRequired = 1u << 0,
  kReloadable = 1u << 1,  // applied on SIGHUP
  kSecret = 1u << 2,      // never logged or returned
};

// How one setting is parsed into and read back from a Config.
struct Binding {
  std::string type;                                        // accepted values, for --help and README
  std::function<void(Config&, const std::string&)> store;  // throws ValueError
  std::function<std::string(const Config&)> show;
};

struct Setting {
  std::string_view name;   // environment variable
  std::string_view group;  // heading in --help and README
  unsigned flags;
  Binding binding;
  std::string_view help;
  std::string_view alias = {};  // accepted alternative name (RUST_LOG)

  bool has(Flags f) const { return (flags & f) != 0; }
};

// The table, in --help order.
const std::vector<Setting>& schema();

// "LISTEN_PORT" -> "--listen-port".
std::string flagName(std::string_view env_name);

// The default value as text, read from a default-constructed Config.
std::string defaultText(const Setting& s);

}  // namespace pgro::config::detail
