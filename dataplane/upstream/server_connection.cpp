#include "upstream/server_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>

#include "auth/md5.hpp"
#include "auth/scram_client.hpp"
#include "protocol/framing.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/sqlstate.hpp"

namespace pgro::upstream {

namespace {

using asio::use_awaitable;
using boost::system::error_code;
namespace sqlstate = protocol::sqlstate;

struct OwnedMessage {
  char type = 0;
  std::string body;
};

protocol::PgError connectionError(std::string message) {
  return {.severity = "FATAL",
          .sqlstate = std::string(sqlstate::kConnectionFailure),
          .message = std::move(message)};
}

// Reads one complete typed message, buffering in `in`.
asio::awaitable<std::optional<OwnedMessage>> readMessage(net::Stream& stream, std::string& in,
                                                         uint32_t max_length, error_code& ec) {
  while (true) {
    auto r = protocol::nextFrame(in, max_length);
    if (r.status == protocol::FrameStatus::Message) {
      OwnedMessage m{r.frame.type, std::string(r.frame.body)};
      in.erase(0, r.frame.total_size);
      co_return m;
    }
    if (r.status == protocol::FrameStatus::ProtocolError) {
      ec = asio::error::invalid_argument;
      co_return std::nullopt;
    }
    if (!co_await stream.readSome(in, ec)) co_return std::nullopt;
  }
}

}  // namespace

bool ServerConnection::readOnlyViolated(std::string_view name, std::string_view value) {
  return name == "default_transaction_read_only" && value != "on";
}

void ServerConnection::rebind(asio::any_io_executor executor) {
  if (!stream_.rebind(executor)) broken_ = true;
}

bool ServerConnection::hasUnexpectedInput() {
  if (!in_.empty()) return true;
  if (stream_.tls() != nullptr && stream_.tls()->hasBuffered()) return true;
  pollfd p{stream_.socket().native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

void ServerConnection::close() {
  auto& socket = stream_.socket();
  if (socket.is_open()) {
    std::string bye;
    protocol::appendTerminate(bye);
    stream_.writeLast(bye);
    error_code ec;
    socket.shutdown(asio::socket_base::shutdown_both, ec);
    socket.close(ec);
  }
  broken_ = true;
}

asio::awaitable<ConnectResult> ServerConnection::open(asio::any_io_executor executor,
                                                      const UpstreamSettings& settings) {
  ConnectResult result;
  asio::ip::tcp::resolver resolver(executor);
  error_code ec;
  auto endpoints = co_await resolver.async_resolve(settings.host, std::to_string(settings.port),
                                                   asio::redirect_error(use_awaitable, ec));
  if (ec) {
    result.error = connectionError("could not resolve upstream host \"" + settings.host +
                                   "\": " + ec.message());
    co_return result;
  }
  auto conn = std::make_shared<ServerConnection>(asio::ip::tcp::socket(executor),
                                                 settings.max_prepared_statements);
  // One deadline for connect + authentication: a silent server cannot hang a client.
  auto timer = std::make_shared<asio::steady_timer>(executor);
  timer->expires_after(settings.connect_timeout);
  auto timed_out_flag = std::make_shared<bool>(false);
  timer->async_wait([weak = std::weak_ptr<ServerConnection>(conn), timed_out_flag](error_code e) {
    if (e) return;
    if (auto c = weak.lock()) {
      *timed_out_flag = true;
      error_code ignored;
      c->socket().cancel(ignored);
      c->socket().close(ignored);
    }
  });
  co_await asio::async_connect(conn->socket(), endpoints, asio::redirect_error(use_awaitable, ec));
  const bool& timed_out = *timed_out_flag;
  if (ec) {
    timer->cancel();
    result.error = connectionError("could not connect to upstream " + settings.host + ":" +
                                   std::to_string(settings.port) + ": " +
                                   (timed_out ? std::string("timeout") : ec.message()));
    co_return result;
  }
  conn->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  auto error = co_await conn->negotiateTls(settings);
  if (!error) error = co_await conn->startup(settings);
  timer->cancel();
  if (timed_out && !error) error = connectionError("upstream login timed out");
  if (error) {
    if (timed_out) error->message = "upstream login timed out";
    conn->close();
    result.error = std::move(*error);
    co_return result;
  }
  result.connection = std::move(conn);
  co_return result;
}

asio::awaitable<std::optional<protocol::PgError>> ServerConnection::negotiateTls(
    const UpstreamSettings& settings) {
  if (settings.tls_mode == UpstreamSettings::Tls::Disable || !settings.tls) co_return std::nullopt;
  std::string out;
  protocol::appendSslRequest(out);
  error_code ec;
  co_await asio::async_write(socket(), asio::buffer(out), asio::redirect_error(use_awaitable, ec));
  char answer = 0;
  if (!ec) {
    co_await asio::async_read(socket(), asio::buffer(&answer, 1),
                              asio::redirect_error(use_awaitable, ec));
  }
  if (ec)
    co_return connectionError("upstream closed the connection during the TLS request: " +
                              ec.message());
  if (answer == 'N') {
    if (settings.tls_mode == UpstreamSettings::Tls::Prefer) co_return std::nullopt;
    co_return connectionError(
        "upstream server does not support SSL, but UPSTREAM_SSLMODE requires it");
  }
  if (answer != 'S') co_return connectionError("upstream answered the TLS request with an error");
  std::string error = co_await stream_.startTls(settings.tls, settings.host);
  if (!error.empty()) co_return connectionError("upstream " + error);
  co_return std::nullopt;
}

asio::awaitable<std::optional<protocol::PgError>> ServerConnection::startup(
    const UpstreamSettings& settings) {
  std::string out;
  protocol::appendStartupMessage(out, {{"user", settings.user},
                                       {"database", settings.database},
                                       {"options", startupOptions(settings)}});
  error_code ec;
  co_await stream_.writeAll(out, ec);
  if (ec) co_return connectionError("upstream write failed: " + ec.message());

  std::optional<auth::ScramClient> scram;
  while (true) {
    auto msg = co_await readMessage(stream_, in_, settings.max_message_bytes, ec);
    if (!msg)
      co_return connectionError("upstream closed the connection during login" +
                                (ec ? ": " + ec.message() : std::string()));
    protocol::MessageReader r(msg->body);
    switch (msg->type) {
      case 'R': {
        const int32_t code = r.int32();
        out.clear();
        if (code == protocol::kAuthOk) break;
        if (code == protocol::kAuthCleartextPassword) {
          protocol::appendPasswordMessage(out, settings.password);
        } else if (code == protocol::kAuthMd5Password) {
          auto salt = r.bytes(4);
          if (!r.ok()) co_return connectionError("malformed md5 request from upstream");
          std::array<uint8_t, 4> s{};
          std::memcpy(s.data(), salt.data(), 4);
          protocol::appendPasswordMessage(
              out, auth::md5PasswordResponse(settings.user, settings.password, s));
        } else if (code == protocol::kAuthSasl) {
          bool has_scram = false;
          while (r.ok() && !r.atEnd()) {
            auto mech = r.cstring();
            if (mech == "SCRAM-SHA-256") has_scram = true;
            if (mech.empty()) break;
          }
          if (!has_scram) co_return connectionError("upstream offers no SCRAM-SHA-256");
          scram.emplace(settings.password);
          protocol::appendSaslInitialResponse(out, "SCRAM-SHA-256", scram->clientFirstMessage());
        } else if (code == protocol::kAuthSaslContinue && scram) {
          auto final_message = scram->handleServerFirst(r.rest());
          if (!final_message.ok()) {
            co_return connectionError("upstream SCRAM exchange failed: " +
                                      final_message.error().message);
          }
          protocol::appendSaslResponse(out, *final_message);
        } else if (code == protocol::kAuthSaslFinal && scram) {
          auto verified = scram->verifyServerFinal(r.rest());
          if (!verified.ok()) {
            co_return connectionError("upstream server signature invalid: " +
                                      verified.error().message);
          }
        } else {
          co_return connectionError("unsupported upstream authentication request " +
                                    std::to_string(code));
        }
        if (!out.empty()) {
          co_await stream_.writeAll(out, ec);
          if (ec) co_return connectionError("upstream write failed: " + ec.message());
        }
        break;
      }
      case 'S': {
        auto name = r.cstring();
        auto value = r.cstring();
        if (r.ok()) parameters_[std::string(name)] = std::string(value);
        break;
      }
      case 'K':
        backend_pid_ = r.int32();
        backend_key_ = r.int32();
        break;
      case 'E': {
        auto fields = protocol::parseErrorFields(msg->body);
        protocol::PgError e = connectionError("upstream refused the login");
        if (fields) {
          e.sqlstate = std::string(fields->sqlstate);
          e.message = "upstream: " + std::string(fields->message);
        }
        co_return e;
      }
      case 'Z': {
        auto ro = parameters_.find("default_transaction_read_only");
        if (ro != parameters_.end() && readOnlyViolated(ro->first, ro->second)) {
          spdlog::error("tripwire: upstream reports default_transaction_read_only={}; closing",
                        ro->second);
          co_return connectionError("upstream session is not read-only");
        }
        co_return std::nullopt;
      }
      default:  // NoticeResponse, NegotiateProtocolVersion: nothing to do.
        break;
    }
  }
}

std::string startupOptions(const UpstreamSettings& settings) {
  std::string options = "-c default_transaction_read_only=on";
  if (settings.statement_timeout_ms > 0) {
    options += " -c statement_timeout=" + std::to_string(settings.statement_timeout_ms);
  }
  if (!settings.role.empty()) {
    options += " -c role=";
    for (char c : settings.role) {
      if (c == '\\' || std::isspace(static_cast<unsigned char>(c))) options.push_back('\\');
      options.push_back(c);
    }
  }
  return options;
}

asio::awaitable<void> sendCancel(asio::any_io_executor executor, const UpstreamSettings& settings,
                                 int32_t pid, int32_t key) {
  asio::ip::tcp::resolver resolver(executor);
  error_code ec;
  auto endpoints = co_await resolver.async_resolve(settings.host, std::to_string(settings.port),
                                                   asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  asio::ip::tcp::socket socket(executor);
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  std::string out;
  protocol::appendCancelRequest(out, pid, key);
  co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
  // PostgreSQL closes the connection after a CancelRequest; wait for that so the request is
  // processed before we drop the socket.
  char c;
  co_await socket.async_read_some(asio::buffer(&c, 1), asio::redirect_error(use_awaitable, ec));
}

}  // namespace pgro::upstream
