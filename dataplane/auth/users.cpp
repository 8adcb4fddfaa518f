#include "auth/users.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace pgro::auth {
namespace {

constexpr std::string_view kSeparator = ":SCRAM-SHA-256$";

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  const size_t last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

Error lineError(std::string_view source, size_t line_no, const std::string& what) {
  return makeError(ErrorCode::ConfigError,
                   std::string(source) + " line " + std::to_string(line_no) + ": " + what);
}

}  // namespace

Result<UserStore> UserStore::fromFile(const std::filesystem::path& path,
                                      const SettingCheck& check) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(ErrorCode::ConfigError,
                     "cannot open users file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return makeError(ErrorCode::ConfigError, "cannot read users file " + path.string());
  }
  return parse(content.str(), path.string(), check);
}

Result<UserStore> UserStore::parse(std::string_view text, std::string_view source,
                                   const SettingCheck& check) {
  UserStore store;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }

    const size_t sep = line.find(kSeparator);
    if (sep == std::string_view::npos) {
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return lineError(source, line_no,
                         "expected user:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
      }
      return lineError(source, line_no,
                       "user \"" + std::string(line.substr(0, colon)) +
                           "\": only SCRAM-SHA-256 verifiers are accepted (not md5 or a "
                           "plain password)");
    }
    const std::string user(line.substr(0, sep));
    if (user.empty()) {
      return lineError(source, line_no, "empty user name");
    }
    // The verifier has no blanks; what follows the first one is `name=value` settings.
    std::string_view rest = line.substr(sep + 1);
    const size_t blank = rest.find_first_of(" \t");
    const std::string_view verifier_text = rest.substr(0, blank);
    rest = blank == std::string_view::npos ? std::string_view() : trim(rest.substr(blank));
    auto verifier = ScramVerifier::parse(verifier_text);
    if (!verifier) {
      return lineError(source, line_no, "invalid SCRAM-SHA-256 verifier for user \"" + user + "\"");
    }
    Settings settings;
    while (!rest.empty()) {
      const size_t end = rest.find_first_of(" \t");
      const std::string_view field = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : trim(rest.substr(end));
      const size_t eq = field.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return lineError(source, line_no,
                         "user \"" + user + "\": expected name=value after the verifier, got \"" +
                             std::string(field) + "\"");
      }
      std::string name(field.substr(0, eq));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string_view value = field.substr(eq + 1);
      std::string why = check ? check(name, value) : "no per-login settings are known";
      if (!why.empty()) {
        return lineError(source, line_no, "user \"" + user + "\": " + name + ": " + why);
      }
      if (!settings.emplace(name, std::string(value)).second) {
        return lineError(source, line_no, "user \"" + user + "\": " + name + " appears twice");
      }
    }
    if (!store.users_.emplace(user, std::move(*verifier)).second) {
      return lineError(source, line_no, "user \"" + user + "\" appears twice");
    }
    if (!settings.empty()) store.settings_.emplace(user, std::move(settings));
  }
  return store;
}

UserStore UserStore::single(std::string user, std::string_view password) {
  UserStore store;
  store.users_.emplace(std::move(user), ScramVerifier::fromPassword(password));
  return store;
}

const UserStore::Settings* UserStore::settings(std::string_view user) const {
  const auto it = settings_.find(user);
  return it == settings_.end() ? nullptr : &it->second;
}

const ScramVerifier* UserStore::find(std::string_view user) const {
  const auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace pgro::auth
