#pragma once

// pgro's own client logins: user name -> SCRAM-SHA-256 verifier. Never the upstream
// credentials. Immutable once built; a reload builds a new store and swaps it in.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "auth/result.hpp"
#include "auth/scram_verifier.hpp"

namespace pgro::auth {

class UserStore {
 public:
  // Per-login settings written after the verifier (`name=value`, separated by spaces or
  // tabs). The checker validates one of them: an empty string if it is acceptable, else
  // what is wrong with it (reported with the file and line).
  using Settings = std::map<std::string, std::string, std::less<>>;
  using SettingCheck = std::function<std::string(std::string_view name, std::string_view value)>;

  UserStore() = default;

  // USERS_FILE: one "user:SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" a line
  // (pg_authid.rolpassword format, so verifiers copied from PostgreSQL fit). Blank lines and
  // lines starting with '#' are skipped; surrounding spaces, tabs and a CR are ignored. The
  // user name is everything before ":SCRAM-SHA-256$", so it may itself contain ':'.
  // Any bad line, a duplicate user or an unreadable file is an ErrorCode::ConfigError whose
  // message names the file and line number (never the verifier text).
  // Trailing `name=value` fields are per-login settings, names lowercased; without a
  // `check` any such field is an error.
  static Result<UserStore> fromFile(const std::filesystem::path& path,
                                    const SettingCheck& check = {});
  // The same parser over text already in memory; `source` names it in error messages.
  static Result<UserStore> parse(std::string_view text, std::string_view source = "users file",
                                 const SettingCheck& check = {});

  // PROXY_USER + PROXY_PASSWORD: the password becomes a verifier (random salt, 4096
  // iterations) at once and is not kept. Startup only: throws like
  // ScramVerifier::fromPassword if OpenSSL fails.
  static UserStore single(std::string user, std::string_view password);

  // nullptr for an unknown user; pass it to ScramServer as is (mock exchange).
  const ScramVerifier* find(std::string_view user) const;
  // The login's settings from its line; nullptr when it has none.
  const Settings* settings(std::string_view user) const;
  size_t size() const { return users_.size(); }

 private:
  std::map<std::string, ScramVerifier, std::less<>> users_;
  std::map<std::string, Settings, std::less<>> settings_;
};

}  // namespace pgro::auth
