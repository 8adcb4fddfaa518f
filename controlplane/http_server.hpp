// A minimal HTTP/1.1 server (Boost.Beast) on one Asio thread of its own, for /metrics,
// /healthz and /readyz. One request per connection (Connection: close), GET only, bounded
// header size, a deadline per connection and a cap on connections open at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pgro::controlplane {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the server's thread with the request path (query string removed).
using HttpHandler = std::function<HttpResponse(const std::string& path)>;

class HttpServer {
 public:
  HttpServer(std::string listen, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `listen` (host:port; port 0 picks a free one) and starts the thread. Throws
  // std::runtime_error naming METRICS_LISTEN when the address is bad or cannot be bound.
  void start();
  // Closes the listener and connections and joins the thread. Idempotent.
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgro::controlplane
