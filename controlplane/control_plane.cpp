#include "controlplane/control_plane.hpp"

#include <grpc/support/log.h>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config/config.hpp"
#include "controlplane/admin_security.hpp"
#include "controlplane/admin_service.hpp"
#include "controlplane/http_server.hpp"
#include "metrics/registry.hpp"

namespace pgro::controlplane {

namespace {

std::string readPem(const std::string& path, const char* setting) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    throw std::runtime_error(std::string(setting) + ": cannot read " + path);
  }
  return text.str();
}

// gRPC's own log lines go through spdlog, so they share pgro's format and level.
void grpcLog(gpr_log_func_args* args) {
  switch (args->severity) {
    case GPR_LOG_SEVERITY_ERROR:
      spdlog::error("grpc: {}", args->message);
      break;
    case GPR_LOG_SEVERITY_INFO:
      spdlog::info("grpc: {}", args->message);
      break;
    default:
      spdlog::debug("grpc: {}", args->message);
  }
}

// gRPC reports a failed bind only in its log: bind the address ourselves to name the cause
// (empty when the address is free, so the cause lies elsewhere).
std::string bindFailureReason(const std::string& listen) {
  namespace asio = boost::asio;
  try {
    const auto hp = config::parseHostPort(listen, "ADMIN_LISTEN");
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
    if (ec || results.empty()) return "cannot resolve " + hp.host;
    asio::ip::tcp::acceptor probe(io);
    probe.open(results.begin()->endpoint().protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(results.begin()->endpoint(), ec);
    if (ec) return ec.message();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

void quietLog(gpr_log_func_args*) {}

HttpResponse route(const std::string& path, server::AdminTarget& target,
                   metrics::Registry& registry) {
  if (path == "/metrics") {
    return {.status = 200,
            .content_type = std::string(metrics::kTextContentType),
            .body = registry.render()};
  }
  if (path == "/healthz") return {.status = 200, .body = "ok\n"};
  if (path == "/readyz") {
    if (target.upstreamReady()) return {.status = 200, .body = "ready\n"};
    return {.status = 503, .body = "upstream not ready\n"};
  }
  return {.status = 404, .body = "not found: try /metrics, /healthz or /readyz\n"};
}

}  // namespace

ControlPlane::ControlPlane(server::AdminTarget& target, metrics::Registry& registry,
                           ControlPlaneOptions options)
    : target_(target), registry_(registry), options_(std::move(options)) {}

ControlPlane::~ControlPlane() {
  stop();
}

uint16_t ControlPlane::metricsPort() const {
  return http_ ? http_->port() : 0;
}

void ControlPlane::start() {
  if (grpc_ || http_) throw std::logic_error("ControlPlane::start called twice");
  const auto& o = options_;
  if (!o.admin_listen.empty()) {
    requireTokenBeyondLoopback(o.admin_listen, o.admin_token);
    std::shared_ptr<grpc::ServerCredentials> creds;
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
        throw std::runtime_error("ADMIN_TLS_CERT_FILE and ADMIN_TLS_KEY_FILE must be set together");
      }
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({readPem(o.tls_key_file, "ADMIN_TLS_KEY_FILE"),
                                        readPem(o.tls_cert_file, "ADMIN_TLS_CERT_FILE")});
      creds = grpc::SslServerCredentials(ssl);
    } else {
      creds = grpc::InsecureServerCredentials();
    }
    service_ = std::make_unique<AdminService>(target_, o.admin_token);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(grpcAddress(o.admin_listen), creds, &port);
    builder.RegisterService(service_.get());
    // One completion queue and few pollers: the admin API is light, the memory budget tight.
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // Admin requests are a few bytes; bound what an unauthenticated peer can make us hold.
    builder.SetMaxReceiveMessageSize(64 * 1024);
    grpc::ResourceQuota quota("pgro-admin");
    quota.SetMaxThreads(8);
    builder.SetResourceQuota(quota);
    // A failed bind would be logged by gRPC as a multi-line blob; the exception says it once.
    gpr_set_log_function(quietLog);
    grpc_ = builder.BuildAndStart();
    gpr_set_log_function(grpcLog);
    if (!grpc_ || port == 0) {
      grpc_.reset();
      service_.reset();
      std::string reason = bindFailureReason(o.admin_listen);
      if (reason.empty()) {
        reason = o.tls_cert_file.empty()
                     ? "gRPC could not listen there"
                     : "gRPC could not use ADMIN_TLS_CERT_FILE/ADMIN_TLS_KEY_FILE (not a "
                       "matching PEM certificate and key?)";
      }
      throw std::runtime_error("ADMIN_LISTEN " + o.admin_listen + ": cannot listen: " + reason);
    }
    admin_port_ = static_cast<uint16_t>(port);
  }
  if (!o.metrics_listen.empty()) {
    http_ = std::make_unique<HttpServer>(o.metrics_listen, [this](const std::string& path) {
      return route(path, target_, registry_);
    });
    try {
      http_->start();
    } catch (...) {
      http_.reset();
      stop();
      throw;
    }
  }
  if (grpc_) {
    spdlog::info("Admin API (gRPC) listening on {} port {}{}{}", o.admin_listen, admin_port_,
                 o.tls_cert_file.empty() ? "" : ", TLS", o.admin_token.empty() ? "" : ", token");
  }
  if (http_) {
    spdlog::info("Metrics (/metrics, /healthz, /readyz) listening on {} port {}", o.metrics_listen,
                 http_->port());
  }
}

void ControlPlane::stop() {
  if (http_) {
    http_->stop();
    http_.reset();
  }
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_timeout);
    grpc_->Wait();
    grpc_.reset();
    service_.reset();
  }
  admin_port_ = 0;
}

}  // namespace pgro::controlplane
