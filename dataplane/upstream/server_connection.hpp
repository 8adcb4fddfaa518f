// One wire-protocol connection from pgro to the upstream PostgreSQL, authenticated as the
// configured admin account and started read-only (DESIGN.md section 2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "net/stream.hpp"
#include "protocol/messages.hpp"
#include "upstream/server_statements.hpp"

namespace pgro::upstream {

namespace asio = boost::asio;

// What a server connection needs to open: taken from the configuration once.
struct UpstreamSettings {
  std::string host;
  uint16_t port = 5432;
  std::string user;
  std::string password;
  std::string database;
  std::chrono::seconds connect_timeout{10};
  int statement_timeout_ms = 0;  // 0 = server default
  // Role the session runs as (UPSTREAM_ROLE, resolved at startup); empty = the account's own.
  // Set in the startup packet, it is the session's reset value: RESET ALL, RESET ROLE and
  // DISCARD ALL return to it; only SET ROLE / set_config('role') could leave it (refused).
  std::string role;
  uint32_t max_message_bytes = 64u << 20;
  // TLS (UPSTREAM_SSLMODE): Disable sends no SSLRequest; Prefer uses TLS when the server
  // offers it; Require fails without it. Certificate checks live in `tls` (verify-ca/-full).
  enum class Tls { Disable, Prefer, Require };
  Tls tls_mode = Tls::Disable;
  std::shared_ptr<const net::TlsContext> tls;
  std::size_t max_prepared_statements = 1000;  // kept prepared per connection (LRU beyond)
};

class ServerConnection;
using ServerConnectionPtr = std::shared_ptr<ServerConnection>;

// Either a ready connection or the error to show the client (and log).
struct ConnectResult {
  ServerConnectionPtr connection;
  protocol::PgError error;
};

class ServerConnection : public std::enable_shared_from_this<ServerConnection> {
 public:
  // Its stream reads into a buffer of its own (net::Stream::keepReadBuffer): a pool holds
  // few connections, each read on every statement.
  ServerConnection(asio::ip::tcp::socket socket, std::size_t max_prepared)
      : stream_(std::move(socket)), statements_(max_prepared, randomStatementPrefix()) {
    stream_.keepReadBuffer(kReadBufferBytes);
  }
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;

  // Resolves, connects, authenticates (SCRAM-SHA-256, md5 or cleartext) and waits for the
  // first ReadyForQuery. Every connection starts with -c default_transaction_read_only=on;
  // a server that reports it off is closed at once (tripwire).
  static asio::awaitable<ConnectResult> open(asio::any_io_executor executor,
                                             const UpstreamSettings& settings);

  asio::ip::tcp::socket& socket() { return stream_.socket(); }
  net::Stream& stream() { return stream_; }
  std::string& readBuffer() { return in_; }

  // Re-homes the socket onto another event loop (no operation may be pending).
  void rebind(asio::any_io_executor executor);

  // ParameterStatus values as last reported by the server.
  const std::map<std::string, std::string>& parameters() const { return parameters_; }
  void setParameter(const std::string& name, std::string value) {
    parameters_[name] = std::move(value);
  }
  // Parameters pgro SET on this connection that the server does not report.
  std::map<std::string, std::string>& appliedSettings() { return applied_; }

  // The statements pgro prepared on this connection (and its unnamed statement's owner).
  ServerStatements& statements() { return statements_; }

  // Which client session's settings this connection last matched, and at which version of
  // them: when both are unchanged, borrowing it needs no settings comparison.
  bool settingsMatch(uint64_t session_id, uint64_t generation) const {
    return synced_session_ == session_id && synced_generation_ == generation;
  }
  void markSettings(uint64_t session_id, uint64_t generation) {
    synced_session_ = session_id;
    synced_generation_ = generation;
  }

  int32_t backendPid() const { return backend_pid_; }
  int32_t backendKey() const { return backend_key_; }

  bool broken() const { return broken_; }
  void markBroken() { broken_ = true; }

  std::chrono::steady_clock::time_point lastUsed() const { return last_used_; }
  void touch() { last_used_ = std::chrono::steady_clock::now(); }
  int homeLoop() const { return home_loop_; }
  void setHomeLoop(int loop) { home_loop_ = loop; }

  // True when the idle socket has input or EOF pending (the server closed it or sent an
  // unsolicited error while idle): such a connection must not be reused.
  bool hasUnexpectedInput();

  void close();

  // The tripwire: true when the server reports default_transaction_read_only other than on.
  static bool readOnlyViolated(std::string_view name, std::string_view value);

 private:
  asio::awaitable<std::optional<protocol::PgError>> negotiateTls(const UpstreamSettings& settings);
  asio::awaitable<std::optional<protocol::PgError>> startup(const UpstreamSettings& settings);

  net::Stream stream_;
  std::string in_;
  std::map<std::string, std::string> parameters_;
  std::map<std::string, std::string> applied_;
  ServerStatements statements_;
  uint64_t synced_session_ = 0;
  uint64_t synced_generation_ = 0;
  int32_t backend_pid_ = 0;
  int32_t backend_key_ = 0;
  bool broken_ = false;
  int home_loop_ = -1;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
};

// The startup packet's `options` of every upstream session: -c default_transaction_read_only=on,
// the statement_timeout and the role, each value escaped as PostgreSQL's pg_split_opts() reads
// it (a backslash before spaces and backslashes).
std::string startupOptions(const UpstreamSettings& settings);

// Sends a CancelRequest for (pid, key) on a fresh connection to the upstream; fire and forget.
asio::awaitable<void> sendCancel(asio::any_io_executor executor, const UpstreamSettings& settings,
                                 int32_t pid, int32_t key);

}  // namespace pgro::upstream
