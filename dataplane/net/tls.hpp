// TLS over memory buffers (OpenSSL with memory BIOs). The caller moves ciphertext between the
// socket and the engine, so an encrypted connection keeps the plain path's shape: wait until
// the socket is readable, read what is there without blocking, write without blocking. Idle
// connections hold no TLS buffers (SSL_MODE_RELEASE_BUFFERS).
#pragma once

#include <memory>
#include <string>
#include <string_view>

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using BIO = struct bio_st;

namespace pgro::net {

// How the client side checks the server's certificate (libpq's sslmode).
enum class Verify { None, Chain, ChainAndHost };

// An OpenSSL context shared by every connection on one side. Immutable once made.
class TlsContext {
 public:
  // Client-facing side: a certificate chain and its key (PEM), TLS 1.2 or newer.
  // Returns nullptr and sets `error` when a file is unreadable or the key does not match.
  static std::shared_ptr<TlsContext> server(const std::string& cert_file,
                                            const std::string& key_file, std::string& error);
  // Upstream side. `root_cert` is a PEM CA file, "system" for the default store, or empty
  // (only with Verify::None).
  static std::shared_ptr<TlsContext> client(Verify verify, const std::string& root_cert,
                                            std::string& error);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  bool isServer() const { return server_; }
  Verify verify() const { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server, Verify verify)
      : ctx_(ctx), server_(server), verify_(verify) {}

  SSL_CTX* ctx_;
  bool server_;
  Verify verify_;
};

// OpenSSL's default CA bundle file (what "system" means where a file name is needed).
std::string systemRootCertFile();

// One TLS connection. Not thread-safe; used by the loop that owns the socket.
class TlsEngine {
 public:
  enum class Status { Done, WantRead, Closed, Failed };

  // `host` is the name the client side sends as SNI and, with Verify::ChainAndHost, checks
  // against the certificate (DNS name or IP address). Unused on the server side.
  TlsEngine(std::shared_ptr<const TlsContext> context, std::string_view host = {});
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Runs the handshake as far as the received bytes allow; bytes to send go to `wire`.
  Status handshake(std::string& wire);

  // Ciphertext received from the peer.
  void feed(std::string_view cipher);
  // True when fed ciphertext (or decrypted plaintext) waits to be read by decrypt().
  bool hasBuffered() const;

  // Decrypts all complete records fed so far, appending plaintext to `plain`. WantRead means
  // "no more for now" (plaintext may still have been appended). Bytes TLS must send in reply
  // (an alert, a key update) go to `wire`.
  Status decrypt(std::string& plain, std::string& wire);

  // Encrypts `plain`, appending the records to `wire`. False on a failed connection.
  bool encrypt(std::string_view plain, std::string& wire);

  // close_notify for a clean shutdown, appended to `wire`.
  void close(std::string& wire);

  // What went wrong, for logs and error messages (OpenSSL's reason, or the certificate check).
  const std::string& error() const { return error_; }
  // "TLSv1.3" and the cipher name, for logs and the session list.
  std::string protocol() const;
  std::string cipher() const;

 private:
  Status fail(int ssl_result, std::string_view what);
  void drain(std::string& wire);

  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext to the peer (owned by ssl_)
  std::string error_;
};

}  // namespace pgro::net
