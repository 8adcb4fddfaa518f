#include "auth/users.hpp"

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

Result<UserStore> UserStore::fromFile(const std::filesystem::path& path) {
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
  return parse(content.str(), path.string());
}

Result<UserStore> UserStore::parse(std::string_view text, std::string_view source) {
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
    auto verifier = ScramVerifier::parse(line.substr(sep + 1));
    if (!verifier) {
      return lineError(source, line_no, "invalid SCRAM-SHA-256 verifier for user \"" + user + "\"");
    }
    if (!store.users_.emplace(user, std::move(*verifier)).second) {
      return lineError(source, line_no, "user \"" + user + "\" appears twice");
    }
  }
  return store;
}

UserStore UserStore::single(std::string user, std::string_view password) {
  UserStore store;
  store.users_.emplace(std::move(user), ScramVerifier::fromPassword(password));
  return store;
}

const ScramVerifier* UserStore::find(std::string_view user) const {
  const auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace pgro::auth
