// A minimal blocking PostgreSQL wire-protocol v3 client over TCP, for byte-level tests:
// it sends whatever bytes the test builds and returns backend messages undecoded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/pg_messages.hpp"

namespace pgro::test {

struct StartupResult {
  bool ok = false;                   // AuthenticationOk and ReadyForQuery arrived
  std::optional<ErrorFields> error;  // the ErrorResponse that ended the startup, if any
  std::string auth_method;           // "trust", "cleartext", "md5", "SCRAM-SHA-256"
  std::vector<Message> messages;     // every message received during startup
  std::map<std::string, std::string> parameters;  // ParameterStatus
  std::optional<int32_t> backend_pid;             // BackendKeyData
  std::optional<int32_t> backend_key;
  char transaction_status = 0;  // from the first ReadyForQuery
};

class RawPgClient {
 public:
  using Params = std::vector<std::pair<std::string, std::string>>;
  static constexpr std::chrono::milliseconds kDefaultTimeout{10000};

  // TCP connect only (TCP_NODELAY), from the local IPv4 address `source` when given (any
  // 127.x.y.z is a loopback address on Linux: a second client address for tests). Throws
  // std::runtime_error if it fails.
  RawPgClient(std::string host, uint16_t port, const std::string& source = {});
  ~RawPgClient();
  RawPgClient(RawPgClient&& other) noexcept;
  RawPgClient& operator=(RawPgClient&&) = delete;
  RawPgClient(const RawPgClient&) = delete;
  RawPgClient& operator=(const RawPgClient&) = delete;

  // Connect + StartupMessage(user, database, extra params) + authentication (SCRAM-SHA-256,
  // md5, cleartext) + ParameterStatus/BackendKeyData until the first ReadyForQuery. Throws
  // std::runtime_error only on transport problems (timeout, closed without ErrorResponse).
  static RawPgClient connect(const std::string& host, uint16_t port, const std::string& user,
                             const std::string& password, const std::string& database,
                             const Params& extra = {});
  // Like connect(), but a refused login is returned, not thrown. `protocol`: the version the
  // StartupMessage asks for (major << 16 | minor).
  StartupResult startup(const std::string& user, const std::string& password,
                        const std::string& database, const Params& extra = {},
                        std::chrono::milliseconds timeout = kDefaultTimeout,
                        int32_t protocol = 196608);

  const StartupResult& startupResult() const { return startup_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  void send(std::string_view bytes);
  // Sends and returns false instead of throwing when the peer has gone away.
  bool trySend(std::string_view bytes);
  // Half-closes nothing; just closes the socket.
  void close();

  enum class ReadStatus { Ok, Timeout, Closed };
  struct ReadResult {
    ReadStatus status = ReadStatus::Closed;
    Message message;
  };
  // One backend message, waiting at most `timeout`.
  ReadResult readMessage(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Exactly `n` raw bytes (the one-byte 'S'/'N' answer to SSLRequest and GSSENCRequest
  // is not a message); `out` holds what arrived. Ok, or Timeout/Closed if fewer came.
  ReadStatus readBytes(std::size_t n, std::string& out,
                       std::chrono::milliseconds timeout = kDefaultTimeout);
  // Every raw byte until the server closes the connection (status Closed) or the timeout
  // (status Timeout); never throws for those.
  struct RawReply {
    ReadStatus status = ReadStatus::Closed;
    std::string bytes;
  };
  RawReply readBytesUntilClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Messages up to and including ReadyForQuery. Throws on timeout or a closed connection
  // (the message says which, with what was received so far).
  std::vector<Message> readUntilReadyForQuery(std::chrono::milliseconds timeout = kDefaultTimeout);
  // The same, as the exact bytes received.
  std::string rawBytesUntilReadyForQuery(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Messages until ReadyForQuery, the connection closing, or the timeout, whichever comes
  // first; never throws for those (for tests where a FATAL error is acceptable).
  struct Reply {
    std::vector<Message> messages;
    bool ready = false;  // ended with ReadyForQuery
    bool closed = false;
    bool timed_out = false;
  };
  Reply readReply(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Every message until the server closes the connection. Throws on timeout.
  std::vector<Message> readUntilClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Simple Query round trip.
  std::vector<Message> query(std::string_view sql,
                             std::chrono::milliseconds timeout = kDefaultTimeout);

  // CancelRequest on a new connection to the same host/port.
  void sendCancel(int32_t pid, int32_t key) const;
  // Cancel this session with its own BackendKeyData.
  void cancelSelf() const;
  static void sendCancel(const std::string& host, uint16_t port, int32_t pid, int32_t key);

 private:
  // Returns false on timeout or close (status tells which).
  bool fill(std::size_t want, std::chrono::steady_clock::time_point deadline, ReadStatus& status);

  std::string host_;
  uint16_t port_ = 0;
  int fd_ = -1;
  std::string buffer_;  // received, not yet returned
  StartupResult startup_;
};

// The row data of a simple-query reply: each DataRow's columns as text (nullopt = NULL).
std::vector<std::vector<std::optional<std::string>>> dataRows(const std::vector<Message>& messages);

}  // namespace pgro::test
