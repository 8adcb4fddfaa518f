// Shared pieces of the control-plane tests: a ControlPlane on port 0 over a FakeAdminTarget,
// a plain HTTP GET, and a gRPC stub.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <set>
#include <string>

#include "controlplane/control_plane.hpp"
#include "controlplane/stats_metrics.hpp"
#include "fake_admin_target.hpp"
#include "metrics/registry.hpp"
#include "pgro/admin/v1/admin.grpc.pb.h"

namespace pgro::test {

namespace adminpb = ::pgro::admin::v1;

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// GET http://127.0.0.1:port/path; throws on connection errors.
HttpReply httpGet(uint16_t port, const std::string& path);

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI in a
// fresh temporary directory.
struct SelfSignedCert {
  std::string dir, cert_file, key_file, cert_pem;
};
SelfSignedCert makeSelfSignedCert();

std::string slurp(const std::string& path);

// Sample names (the part before '{' or ' ') of every sample line of a text exposition.
std::set<std::string> sampleNames(const std::string& exposition);

// deploy/grafana/dashboards/pgro.json, and every pgro_* name in its PromQL ("expr" and
// variable "query" strings), parsed from the file: nothing hard-coded.
std::string dashboardPath();
std::set<std::string> dashboardMetricNames();

class ControlPlaneFixture {
 public:
  explicit ControlPlaneFixture(controlplane::ControlPlaneOptions options = defaultOptions());
  static controlplane::ControlPlaneOptions defaultOptions();

  std::unique_ptr<adminpb::Admin::Stub> stub() const;
  std::string adminAddr() const { return "127.0.0.1:" + std::to_string(plane->adminPort()); }

  FakeAdminTarget target;
  metrics::Registry registry;
  metrics::DataPlaneMetrics histograms;
  std::unique_ptr<controlplane::ControlPlane> plane;
};

}  // namespace pgro::test
