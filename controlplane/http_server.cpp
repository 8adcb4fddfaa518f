#include "controlplane/http_server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "config/config.hpp"

namespace pgro::controlplane {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr std::chrono::seconds kRequestDeadline{10};
constexpr int kMaxConnections = 64;
constexpr std::uint32_t kMaxHeaderBytes = 8192;
}  // namespace

// Member order matters for destruction: the acceptor goes before the io_context it uses, and
// the io_context (whose destructor destroys suspended connection coroutines, which decrement
// open_connections) before everything they touch.
struct HttpServer::Impl {
  std::string listen;
  HttpHandler handler;
  std::atomic<int> open_connections{0};
  uint16_t port = 0;
  bool started = false;
  std::thread thread;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};

  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(tcp::socket socket);
};

asio::awaitable<void> HttpServer::Impl::acceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("metrics endpoint: accept failed: {}", ec.message());
      continue;
    }
    if (open_connections.load() >= kMaxConnections) continue;  // closes the socket
    asio::co_spawn(io, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::serve(tcp::socket socket) {
  ++open_connections;
  struct Release {
    std::atomic<int>& n;
    ~Release() { --n; }
  } release{open_connections};

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(kMaxHeaderBytes);
  http::request_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(4096);
  stream.expires_after(kRequestDeadline);
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  const auto& req = parser.get();

  HttpResponse r;
  if (req.method() != http::verb::get) {
    r = {.status = 405, .body = "method not allowed\n"};
  } else {
    std::string path(req.target());
    if (const auto q = path.find('?'); q != std::string::npos) path.resize(q);
    try {
      r = handler(path);
    } catch (const std::exception& e) {
      spdlog::error("metrics endpoint: {} failed: {}", path, e.what());
      r = {.status = 500, .body = "internal error\n"};
    }
  }
  http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
  res.set(http::field::server, "pgro");
  res.set(http::field::content_type, r.content_type);
  if (r.status == 405) res.set(http::field::allow, "GET");
  res.keep_alive(false);
  res.body() = std::move(r.body);
  res.prepare_payload();
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

HttpServer::HttpServer(std::string listen, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
  impl_->listen = std::move(listen);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  Impl& s = *impl_;
  const std::string what = "METRICS_LISTEN " + s.listen;
  config::HostPort hp;
  try {
    hp = config::parseHostPort(s.listen, "METRICS_LISTEN");
  } catch (const std::exception& e) {
    throw std::runtime_error(e.what());
  }
  boost::system::error_code ec;
  tcp::resolver resolver(s.io);
  const auto results =
      resolver.resolve(hp.host, std::to_string(hp.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw std::runtime_error(what + ": cannot resolve " + hp.host + ": " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.close();
    throw std::runtime_error(what + ": cannot listen: " + ec.message());
  }
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.io, s.acceptLoop(), asio::detached);
  s.started = true;
  s.thread = std::thread([&s] {
    try {
      s.io.run();
    } catch (const std::exception& e) {
      spdlog::error("metrics endpoint stopped: {}", e.what());
    }
  });
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  asio::post(s.io, [&s] {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    s.io.stop();
  });
  if (s.thread.joinable()) s.thread.join();
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

}  // namespace pgro::controlplane
