#include "net/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>

namespace pgro::net {

namespace {

// OpenSSL's queued reason for the last failure, oldest first, as one line.
std::string openSslReason() {
  std::string reason;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    if (!reason.empty()) reason += "; ";
    const char* lib_reason = ERR_reason_error_string(code);
    reason += lib_reason != nullptr ? lib_reason : text.data();
  }
  return reason;
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

SSL_CTX* newContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // As PostgreSQL: no renegotiation, no compression, no session tickets.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_file,
                                               const std::string& key_file, std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = newContext(TLS_server_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openSslReason();
    return nullptr;
  }
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = "TLS_CERT_FILE \"" + cert_file + "\": " + openSslReason();
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "TLS_KEY_FILE \"" + key_file + "\": " + openSslReason();
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    error = "TLS_KEY_FILE does not match TLS_CERT_FILE: " + openSslReason();
  }
  if (!error.empty()) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx, true, Verify::None));
}

std::shared_ptr<TlsContext> TlsContext::client(Verify verify, const std::string& root_cert,
                                               std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = newContext(TLS_client_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openSslReason();
    return nullptr;
  }
  if (verify != Verify::None) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded = root_cert == "system"
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : SSL_CTX_load_verify_locations(ctx, root_cert.c_str(), nullptr) == 1;
    if (!loaded) {
      error = "UPSTREAM_SSLROOTCERT \"" + root_cert + "\": " + openSslReason();
      SSL_CTX_free(ctx);
      return nullptr;
    }
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx, false, verify));
}

std::string systemRootCertFile() {
  return X509_get_default_cert_file();
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsEngine::TlsEngine(std::shared_ptr<const TlsContext> context, std::string_view host)
    : context_(std::move(context)) {
  ssl_ = SSL_new(context_->native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    error_ = "out of memory for TLS";
    BIO_free(in_);
    BIO_free(out_);
    in_ = out_ = nullptr;
    return;
  }
  BIO_set_mem_eof_return(in_, -1);  // empty input means "retry", not end of stream
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  if (context_->isServer()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const std::string name(host);
  const bool ip = isIpAddress(name);
  if (!name.empty() && !ip) SSL_set_tlsext_host_name(ssl_, name.c_str());
  if (context_->verify() == Verify::ChainAndHost) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    }
  }
}

TlsEngine::~TlsEngine() {
  SSL_free(ssl_);
}  // frees both BIOs

TlsEngine::Status TlsEngine::fail(int ssl_result, std::string_view what) {
  const int code = SSL_get_error(ssl_, ssl_result);
  if (code == SSL_ERROR_ZERO_RETURN) return Status::Closed;
  std::string reason = openSslReason();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK && !context_->isServer()) {
    reason += std::string(reason.empty() ? "" : ": ") + X509_verify_cert_error_string(verify);
  }
  if (reason.empty()) {
    reason = code == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "TLS error";
  }
  error_ = std::string(what) + ": " + reason;
  return Status::Failed;
}

void TlsEngine::drain(std::string& wire) {
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  const std::size_t old = wire.size();
  wire.resize(old + pending);
  const int n = BIO_read(out_, wire.data() + old, static_cast<int>(pending));
  wire.resize(old + static_cast<std::size_t>(n > 0 ? n : 0));
}

TlsEngine::Status TlsEngine::handshake(std::string& wire) {
  if (ssl_ == nullptr || in_ == nullptr) return Status::Failed;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  drain(wire);
  if (r == 1) return Status::Done;
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return Status::WantRead;
  const Status s = fail(r, "TLS handshake failed");
  return s == Status::Closed ? Status::Failed : s;
}

void TlsEngine::feed(std::string_view cipher) {
  if (in_ != nullptr && !cipher.empty())
    BIO_write(in_, cipher.data(), static_cast<int>(cipher.size()));
}

bool TlsEngine::hasBuffered() const {
  return in_ != nullptr && (BIO_ctrl_pending(in_) > 0 || SSL_pending(ssl_) > 0);
}

TlsEngine::Status TlsEngine::decrypt(std::string& plain, std::string& wire) {
  if (ssl_ == nullptr || in_ == nullptr) return Status::Failed;
  std::array<char, 16 * 1024> chunk;
  while (true) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, chunk.data(), static_cast<int>(chunk.size()));
    if (n > 0) {
      plain.append(chunk.data(), static_cast<std::size_t>(n));
      continue;
    }
    drain(wire);
    if (SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ) return Status::WantRead;
    return fail(n, "TLS read failed");
  }
}

bool TlsEngine::encrypt(std::string_view plain, std::string& wire) {
  if (ssl_ == nullptr || in_ == nullptr) return false;
  constexpr std::size_t kPiece = std::size_t{1} << 20;  // SSL_write takes an int length
  while (!plain.empty()) {
    const auto piece = static_cast<int>(std::min(plain.size(), kPiece));
    ERR_clear_error();
    const int n = SSL_write(ssl_, plain.data(), piece);
    drain(wire);
    if (n != piece) {
      fail(n, "TLS write failed");
      return false;
    }
    plain.remove_prefix(static_cast<std::size_t>(piece));
  }
  return true;
}

void TlsEngine::close(std::string& wire) {
  if (ssl_ == nullptr || in_ == nullptr || !SSL_is_init_finished(ssl_)) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  drain(wire);
}

std::string TlsEngine::protocol() const {
  return ssl_ != nullptr ? SSL_get_version(ssl_) : "";
}

std::string TlsEngine::cipher() const {
  const char* name = ssl_ != nullptr ? SSL_get_cipher_name(ssl_) : nullptr;
  return name != nullptr ? name : "";
}

}  // namespace pgro::net
