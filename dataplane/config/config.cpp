// load(): settings from flags, the environment and .env, parsed through the schema table
// (schema.cpp) and validated as a whole.
#include <fstream>
#include <map>

#include "config/config.hpp"
#include "config/schema.hpp"
#include "config/value_parsers.hpp"

namespace pgro::config {
namespace {

using detail::flagName;
using detail::kRequired;
using detail::Setting;
using detail::ValueError;

// ---- Loading --------------------------------------------------------------------------------

// Where a value came from, for error messages.
struct Origin {
  std::string value;
  std::string spelled;  // the name as the user wrote it: RUST_LOG, --listen-port, ...
  std::string source;   // "the environment", ".env", "the command line"
};

using Assignments = std::map<const Setting*, Origin>;

// Applies one source (env or .env) over lower-priority ones. An alias is applied before the
// canonical name, so LOG_LEVEL beats RUST_LOG within one source. Empty values count as unset
// (compose files and `docker run -e X=` pass empty strings for unset variables).
void assignFrom(const Environment& vars, const std::string& source, Assignments& out) {
  for (const Setting& s : detail::schema()) {
    for (std::string_view name : {s.alias, s.name}) {
      if (name.empty()) {
        continue;
      }
      auto it = vars.find(std::string(name));
      if (it != vars.end() && !it->second.empty()) {
        out[&s] = Origin{it->second, std::string(name), source};
      }
    }
  }
}

void assignFromFlags(const std::vector<std::string>& args, Assignments& out) {
  std::map<std::string, std::pair<const Setting*, bool>> flags;  // flag -> (setting, is alias)
  for (const Setting& s : detail::schema()) {
    flags[flagName(s.name)] = {&s, false};
    if (!s.alias.empty()) {
      flags[flagName(s.alias)] = {&s, true};
    }
  }
  std::map<const Setting*, bool> from_canonical;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw ConfigError("unexpected argument \"" + arg +
                        "\" (settings are --name=value; see pgro --help)");
    }
    const std::size_t eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    auto it = flags.find(flag);
    if (it == flags.end()) {
      throw ConfigError("unknown flag " + flag + " (see pgro --help)");
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw ConfigError(
          std::string(flag).append(": missing value (use ").append(flag).append("=VALUE)"));
    }
    const auto [setting, is_alias] = it->second;
    if (is_alias && from_canonical[setting]) {
      continue;  // --log-level beats --rust-log
    }
    if (!is_alias) {
      from_canonical[setting] = true;
    }
    if (!value.empty()) {
      out[setting] = Origin{value, flag, "the command line"};  // empty = unset
    }
  }
}

void require(bool ok, const std::string& message) {
  if (!ok) {
    throw ConfigError(message);
  }
}

void checkReadable(const std::string& path, const std::string& name) {
  if (path.empty()) {
    return;
  }
  std::ifstream in(path);
  require(static_cast<bool>(in), name + ": cannot read file \"" + path + "\"");
}

// A certificate and its key: both or neither, and readable.
void checkCertificatePair(const std::string& cert, const std::string& cert_name,
                          const std::string& key, const std::string& key_name,
                          const std::string& purpose) {
  require(cert.empty() == key.empty(),
          cert.empty()
              ? key_name + " is set but " + cert_name + " is not: set both for " + purpose
              : cert_name + " is set but " + key_name + " is not: set both for " + purpose);
  checkReadable(cert, cert_name);
  checkReadable(key, key_name);
}

// Rules that involve more than one setting. Each message is one line naming a variable.
void validate(const Config& c) {
  for (const Setting& s : detail::schema()) {
    if (s.has(kRequired)) {
      require(!s.binding.show(c).empty(), std::string(s.name) + " is required (see pgro --help)");
    }
  }
  const bool has_single_login = !c.proxy_user.empty() && !c.proxy_password.empty();
  require(c.proxy_password.empty() || !c.proxy_user.empty(),
          "PROXY_PASSWORD is set but PROXY_USER is not: set both for the built-in login");
  require(c.proxy_user.empty() || !c.proxy_password.empty(),
          "PROXY_USER is set but PROXY_PASSWORD is not: set both for the built-in login");
  require(has_single_login || !c.users_file.empty() || c.auth == AuthMethod::Trust,
          "no client login configured: set PROXY_USER and PROXY_PASSWORD, or USERS_FILE (see "
          "`pgro passwd`), or AUTH=trust on a loopback LISTEN_HOST");
  require(c.auth != AuthMethod::Trust || isLoopbackHost(c.listen_host),
          "AUTH=trust is allowed only on a loopback LISTEN_HOST (127.0.0.1, ::1 or localhost), "
          "not \"" +
              c.listen_host + "\"");
  require(c.proxy_password.empty() || c.proxy_password != c.upstream_password,
          "PROXY_PASSWORD must differ from UPSTREAM_PASSWORD: a client can never log in with the "
          "upstream password");
  checkReadable(c.users_file, "USERS_FILE");

  const HostPort admin = parseHostPort(c.admin_listen, "ADMIN_LISTEN");
  parseHostPort(c.metrics_listen, "METRICS_LISTEN");
  require(isLoopbackHost(admin.host) || !c.admin_token.empty(),
          "ADMIN_LISTEN " + c.admin_listen +
              " is not a loopback address: set ADMIN_TOKEN, or listen on 127.0.0.1");
  checkCertificatePair(c.admin_tls_cert_file, "ADMIN_TLS_CERT_FILE", c.admin_tls_key_file,
                       "ADMIN_TLS_KEY_FILE", "TLS");
  checkCertificatePair(c.tls_cert_file, "TLS_CERT_FILE", c.tls_key_file, "TLS_KEY_FILE",
                       "client TLS");
  require(c.client_tls != ClientTls::Require || !c.tls_cert_file.empty(),
          "CLIENT_TLS=require needs TLS_CERT_FILE and TLS_KEY_FILE");
  const bool verifies = c.upstream_sslmode == UpstreamSslMode::VerifyCa ||
                        c.upstream_sslmode == UpstreamSslMode::VerifyFull;
  require(!verifies || !c.upstream_sslrootcert.empty(),
          "UPSTREAM_SSLMODE=verify-ca and verify-full need UPSTREAM_SSLROOTCERT (a CA file, or "
          "`system`)");
  require(c.upstream_sslrootcert.empty() || c.upstream_sslmode != UpstreamSslMode::Disable,
          "UPSTREAM_SSLROOTCERT is set but UPSTREAM_SSLMODE=disable: drop one of them");
  if (c.upstream_sslrootcert != "system")
    checkReadable(c.upstream_sslrootcert, "UPSTREAM_SSLROOTCERT");
}

}  // namespace

std::shared_ptr<const Config> load(const std::vector<std::string>& args, const Environment& env,
                                   const Environment& dotenv) {
  Assignments assignments;
  assignFrom(dotenv, ".env", assignments);
  assignFrom(env, "the environment", assignments);
  assignFromFlags(args, assignments);

  auto config = std::make_shared<Config>();
  for (const Setting& s : detail::schema()) {
    auto it = assignments.find(&s);
    if (it == assignments.end()) {
      continue;
    }
    const Origin& origin = it->second;
    try {
      s.binding.store(*config, origin.value);
    } catch (const ValueError& e) {
      // Secrets are plain strings and never fail to parse, so no secret reaches this message.
      throw ConfigError(origin.spelled + ": " + e.what() + " (from " + origin.source + ")");
    }
  }
  validate(*config);
  return config;
}

std::shared_ptr<const Config> withReloadable(const Config& running, const Config& next) {
  auto config = std::make_shared<Config>(running);
  for (const Setting& s : detail::schema()) {
    if (!s.has(detail::kReloadable)) {
      continue;
    }
    try {
      s.binding.store(*config, s.binding.show(next));
    } catch (const ValueError& e) {
      throw ConfigError(std::string(s.name) + ": " + e.what());  // shown values parse back
    }
  }
  validate(*config);
  return config;
}

}  // namespace pgro::config
