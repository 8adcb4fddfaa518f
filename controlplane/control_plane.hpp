// The control plane of one pgro process: the gRPC admin API (pgro.admin.v1.Admin) and the
// HTTP endpoint for Prometheus (/metrics) and probes (/healthz, /readyz). It sees the data
// plane only through server::AdminTarget; each server runs on threads of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "metrics/registry.hpp"
#include "server/admin_target.hpp"

namespace grpc {
class Server;
}

namespace pgro::controlplane {

class AdminService;
class HttpServer;

struct ControlPlaneOptions {
  std::string admin_listen = "127.0.0.1:50051";      // empty: no admin API
  std::string admin_token;                           // empty: no token (loopback only)
  std::string tls_cert_file, tls_key_file;           // both set: the admin API uses TLS
  std::string metrics_listen = "0.0.0.0:9433";       // empty: no HTTP endpoint
  std::chrono::milliseconds shutdown_timeout{2000};  // running admin calls get this long
};

class ControlPlane {
 public:
  // `target` and `registry` must outlive this object.
  ControlPlane(server::AdminTarget& target, metrics::Registry& registry,
               ControlPlaneOptions options);
  ~ControlPlane();  // stop()
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Binds the admin API and the HTTP endpoint. Throws std::runtime_error with one line naming
  // the setting (ADMIN_LISTEN, METRICS_LISTEN, ADMIN_TLS_*) on a bad or busy address, an
  // unreadable certificate, or a non-loopback admin address without a token; nothing is left
  // running then.
  void start();
  // Stops both servers; admin calls in progress get shutdown_timeout. Idempotent.
  void stop();

  // Bound ports (the real ones when the options asked for port 0); 0 when disabled.
  uint16_t adminPort() const { return admin_port_; }
  uint16_t metricsPort() const;

 private:
  server::AdminTarget& target_;
  metrics::Registry& registry_;
  ControlPlaneOptions options_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<HttpServer> http_;
  uint16_t admin_port_ = 0;
};

}  // namespace pgro::controlplane
