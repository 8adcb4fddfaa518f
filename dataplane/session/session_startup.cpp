// Startup phase: SSLRequest/GSSENCRequest, CancelRequest, StartupMessage, authentication of
// the client against pgro's own users, then ParameterStatus, BackendKeyData, ReadyForQuery
// (PostgreSQL docs 55.2.1 "Start-up").
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "auth/scram_server.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/sqlstate.hpp"
#include "session/client_session.hpp"
#include "session/session_parameters.hpp"
#include "session/session_registry.hpp"

namespace pgro::session {

namespace {

namespace sqlstate = protocol::sqlstate;

protocol::PgError fatalError(std::string_view code, std::string message) {
  return {.severity = "FATAL", .sqlstate = std::string(code), .message = std::move(message)};
}

// Splits libpq's `options` (-c name=value, --name=value, backslash escapes spaces).
std::vector<std::string> splitOptions(std::string_view options) {
  std::vector<std::string> words;
  std::string cur;
  bool escaped = false;
  for (char c : options) {
    if (escaped) {
      cur.push_back(c);
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == ' ' || c == '\t') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

}  // namespace

asio::awaitable<bool> ClientSession::startup() {
  while (true) {
    auto r = protocol::nextStartupFrame(std::string_view(in_).substr(in_pos_));
    if (r.status == protocol::FrameStatus::NeedMoreData) {
      if (!co_await readMore()) co_return false;
      continue;
    }
    if (r.status == protocol::FrameStatus::ProtocolError) {
      ctx_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      fatal(fatalError(sqlstate::kProtocolViolation, std::string(r.error)));
      co_return false;
    }
    auto packet = protocol::parseStartupPacket(r.frame.body);
    in_pos_ += r.frame.total_size;
    if (!packet) {
      ctx_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      fatal(fatalError(sqlstate::kProtocolViolation, "invalid startup packet layout"));
      co_return false;
    }
    if (std::holds_alternative<protocol::SslRequest>(*packet)) {
      if (!co_await negotiateTls()) co_return false;
      continue;
    }
    if (std::holds_alternative<protocol::GssEncRequest>(*packet)) {
      to_client_.append("N");  // GSSAPI encryption is not offered
      continue;
    }
    if (auto* cancel = std::get_if<protocol::CancelRequest>(&*packet)) {
      // Forwarded only to the backend serving the session that owns this proxy-issued key.
      if (auto target = ctx_->registry->find(cancel->process_id, cancel->secret_key)) {
        target->cancelQuery();
      }
      closeNow();
      co_return false;
    }
    if (auto* bad = std::get_if<protocol::UnsupportedProtocol>(&*packet)) {
      fatal(fatalError(sqlstate::kFeatureNotSupported,
                       "unsupported frontend protocol " + std::to_string(bad->protocol >> 16) +
                           "." + std::to_string(bad->protocol & 0xffff) +
                           ": server supports 3.0 to 3.0"));
      co_return false;
    }
    const auto& startup = std::get<protocol::StartupMessage>(*packet);
    if (ctx_->config->client_tls == config::ClientTls::Require && !client_.encrypted()) {
      fatal(fatalError(sqlstate::kInvalidAuthorizationSpecification,
                       "pgro: this server requires TLS (CLIENT_TLS=require); connect with "
                       "sslmode=require"));
      co_return false;
    }
    if (!acceptParameters(startup)) co_return false;
    // As PostgreSQL 15's ProcessStartupPacket: a newer 3.x minor version or `_pq_.` options
    // are answered with the version and options the server does support (3.0, none), and the
    // session goes on with 3.0; the client decides whether that is acceptable.
    if ((startup.protocol & 0xffff) != 0 || !unknown_protocol_options_.empty()) {
      std::string out;
      protocol::appendNegotiateProtocolVersion(out, protocol::kProtocolVersion3,
                                               unknown_protocol_options_);
      to_client_.appendOwned(std::move(out));
    }
    state_ = State::Authenticating;
    if (!co_await authenticate(startup)) co_return false;
    if (database_ != ctx_->config->upstream_database) {
      fatal(fatalError(sqlstate::kInvalidCatalogName,
                       "database \"" + database_ + "\" does not exist"));
      co_return false;
    }
    if (!admitLogin()) co_return false;
    if (!co_await checkStartupSettings()) co_return false;
    sendStartupReply();
    co_return true;
  }
}

asio::awaitable<bool> ClientSession::negotiateTls() {
  if (client_.encrypted()) {
    ctx_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    fatal(fatalError(sqlstate::kProtocolViolation, "SSLRequest on an encrypted connection"));
    co_return false;
  }
  const auto tls = ctx_->clientTls();  // one context for the whole handshake (reload swaps it)
  if (tls == nullptr) {
    to_client_.append("N");
    co_return true;
  }
  if (in_pos_ != in_.size()) {
    // Sent before the handshake, so unencrypted and possibly injected (as PostgreSQL).
    ctx_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    fatal(fatalError(sqlstate::kProtocolViolation, "received unencrypted data after SSL request"));
    co_return false;
  }
  in_.clear();
  in_pos_ = 0;
  to_client_.append("S");
  co_await to_client_.waitBelow(0);
  if (to_client_.failed() || state_ == State::Closing) co_return false;
  const std::string error = co_await client_.startTls(tls);
  if (!error.empty()) {
    spdlog::info("client TLS handshake failed: client={}: {}", client_address_, error);
    closeNow();
    co_return false;
  }
  spdlog::debug("client TLS: client={} {} {}", client_address_, client_.tls()->protocol(),
                client_.tls()->cipher());
  co_return true;
}

bool ClientSession::acceptParameters(const protocol::StartupMessage& startup) {
  // Startup parameters and `options -c` go through the same rules as a SQL SET.
  const auto options = ctx_->classifierOptions();
  auto accept = [&](std::string_view name, std::string_view value) {
    const auto verdict = policy::checkParameter(name, value, *options);
    if (!verdict.allowed) {
      fatal({.severity = "FATAL",
             .sqlstate = std::string(verdict.sqlstate),
             .message = verdict.message});
      return false;
    }
    const std::string canonical = canonicalParameterName(name);
    // The value as the rules normalised it (client_encoding's canonical name).
    if (isSyncableParameter(canonical)) {
      client_params_.edit()[canonical] = verdict.sets.front().value;
    }
    return true;
  };
  for (const auto& [name, value] : startup.parameters) {
    if (name == "user") {
      user_ = value;
    } else if (name == "database") {
      database_ = value;
    } else if (name == "replication") {
      fatal(fatalError(sqlstate::kFeatureNotSupported,
                       "pgro: replication connections are not supported"));
      return false;
    } else if (name == "options") {
      const auto words = splitOptions(value);
      for (std::size_t i = 0; i < words.size(); ++i) {
        std::string setting;
        if (words[i] == "-c" && i + 1 < words.size()) {
          setting = words[++i];
        } else if (words[i].rfind("-c", 0) == 0 && words[i].size() > 2) {
          setting = words[i].substr(2);
        } else if (words[i].rfind("--", 0) == 0) {
          setting = words[i].substr(2);
        } else {
          fatal(fatalError(sqlstate::kInsufficientPrivilege,
                           "pgro: only -c name=value is allowed in startup options"));
          return false;
        }
        const auto eq = setting.find('=');
        if (eq == std::string::npos) {
          fatal(fatalError(sqlstate::kProtocolViolation,
                           "invalid startup option \"" + setting + "\""));
          return false;
        }
        std::string opt_name = setting.substr(0, eq);
        std::replace(opt_name.begin(), opt_name.end(), '-', '_');
        if (!accept(opt_name, std::string_view(setting).substr(eq + 1))) return false;
      }
    } else if (name.rfind("_pq_.", 0) == 0) {
      unknown_protocol_options_.push_back(name);  // protocol extensions: none supported
    } else if (!accept(name, value)) {
      return false;
    }
  }
  if (user_.empty()) {
    fatal(fatalError(sqlstate::kInvalidAuthorizationSpecification,
                     "no PostgreSQL user name specified in startup packet"));
    return false;
  }
  if (database_.empty()) database_ = user_;
  return true;
}

asio::awaitable<std::optional<std::string>> ClientSession::readAuthMessage() {
  while (true) {
    auto r = protocol::nextFrame(std::string_view(in_).substr(in_pos_),
                                 protocol::kMaxStartupPacketBytes);
    if (r.status == protocol::FrameStatus::Message) {
      in_pos_ += r.frame.total_size;
      if (r.frame.type != 'p') {
        fatal(fatalError(sqlstate::kProtocolViolation,
                         "expected SASL response, got message type " +
                             std::to_string(static_cast<int>(r.frame.type))));
        co_return std::nullopt;
      }
      co_return std::string(r.frame.body);
    }
    if (r.status == protocol::FrameStatus::ProtocolError) {
      fatal(fatalError(sqlstate::kProtocolViolation, std::string(r.error)));
      co_return std::nullopt;
    }
    if (!co_await readMore()) co_return std::nullopt;
  }
}

asio::awaitable<bool> ClientSession::authenticate(const protocol::StartupMessage& /*startup*/) {
  if (ctx_->config->auth == config::AuthMethod::Trust) {
    std::string out;
    protocol::appendAuthenticationOk(out);
    to_client_.appendOwned(std::move(out));
    co_return true;
  }
  auto failed = [&] {
    spdlog::info("authentication failed: user={} client={}", user_, client_address_);
    // Same message for a wrong password and an unknown user: no user enumeration.
    fatal(fatalError(sqlstate::kInvalidPassword,
                     "password authentication failed for user \"" + user_ + "\""));
  };
  const auto users = ctx_->users();  // kept alive for the exchange (a reload may swap it)
  const auth::ScramVerifier* verifier = users->find(user_);
  auth::ScramServer scram(verifier, user_);
  std::string out;
  protocol::appendAuthenticationSasl(out, "SCRAM-SHA-256");
  to_client_.appendOwned(std::move(out));

  auto initial = co_await readAuthMessage();
  if (!initial) co_return false;
  protocol::MessageReader r(*initial);
  const auto mechanism = r.cstring();
  const int32_t len = r.int32();
  const auto data = len >= 0 ? r.bytes(static_cast<std::size_t>(len)) : std::string_view();
  if (!r.ok() || mechanism != "SCRAM-SHA-256") {
    fatal(fatalError(sqlstate::kProtocolViolation,
                     "client selected an invalid SASL authentication mechanism"));
    co_return false;
  }
  auto server_first = scram.handleClientFirst(data);
  if (!server_first.ok()) {
    if (co_await throttleLogin(true)) failed();
    co_return false;
  }
  out.clear();
  protocol::appendAuthenticationSaslContinue(out, *server_first);
  to_client_.appendOwned(std::move(out));

  auto final_message = co_await readAuthMessage();
  if (!final_message) co_return false;
  auto server_final = scram.handleClientFinal(*final_message);
  const bool ok = server_final.ok() && verifier != nullptr;
  // Successes wait too while the address is throttled: otherwise a guesser could take "no
  // answer yet" as "wrong" and hang up without waiting.
  if (!co_await throttleLogin(!ok)) co_return false;
  if (!ok) {
    failed();
    co_return false;
  }
  out.clear();
  protocol::appendAuthenticationSaslFinal(out, *server_final);
  protocol::appendAuthenticationOk(out);
  to_client_.appendOwned(std::move(out));
  co_return true;
}

asio::awaitable<bool> ClientSession::throttleLogin(bool failed) {
  auto& throttle = ctx_->guard->throttle;
  const auto now = LoginThrottle::Clock::now();
  const auto delay = throttle.delayFor(address_key_, now);
  if (failed) {
    ctx_->counters.auth_failures.fetch_add(1, std::memory_order_relaxed);
    throttle.recordFailure(address_key_, now);
  }
  if (delay.count() > 0) {
    ctx_->counters.auth_throttled.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("authentication answer delayed {} ms: client={} failed too often", delay.count(),
                  client_address_);
    // A timer, not a sleep: the loop serves its other sessions meanwhile.
    asio::steady_timer timer(client_.socket().get_executor());
    timer.expires_after(delay);
    throttle_wait_ = &timer;
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    throttle_wait_ = nullptr;
  }
  co_return state_ != State::Closing;
}

void ClientSession::sendStartupReply() {
  auto self = shared_from_this();
  login_ticket_.reset();  // logged in: no longer counted as half-open for its address
  std::tie(proxy_pid_, proxy_key_) = ctx_->registry->add(self);
  registered_ = true;
  startAudit();

  // The client's view of the session: upstream's reported values, the client's own
  // settings on top, and an identity that is the proxy login, not the upstream account.
  std::map<std::string, std::string> reported = ctx_->upstream_parameters;
  for (const auto& [name, value] : client_params_) {
    if (reported.count(name)) reported[name] = value;
  }
  reported["session_authorization"] = user_;
  reported["is_superuser"] = "off";
  // Remember the full desired state so server connections can be brought in line.
  for (const auto& [name, value] : reported) {
    if (!client_params_.contains(name)) client_params_.edit()[name] = value;
  }
  login_params_ = ctx_->login_parameter_sets.intern(client_params_.map());
  client_params_.assign(login_params_);  // shared until the session changes a setting
  std::string out;
  for (const auto& [name, value] : reported) protocol::appendParameterStatus(out, name, value);
  protocol::appendBackendKeyData(out, proxy_pid_, proxy_key_);
  protocol::appendReadyForQuery(out, 'I');
  to_client_.appendOwned(std::move(out));
  to_client_.release();  // written at once unless the socket is full
  state_ = State::Ready;
  {
    std::lock_guard lock(info_mu_);
    info_.user = user_;
    info_.client_address = client_address_;
    info_.application_name = client_params_.value("application_name");
    info_.state = "idle";
    info_.since = std::chrono::system_clock::now();
  }
  spdlog::info("client connected: user={} database={} client={} application_name={}", user_,
               database_, client_address_, client_params_.value("application_name"));
}

}  // namespace pgro::session
