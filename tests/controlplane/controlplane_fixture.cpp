#include "controlplane_fixture.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "support/run_command.hpp"

namespace pgro::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpReply httpGet(uint16_t port, const std::string& path) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
          res.body()};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> sampleNames(const std::string& exposition) {
  std::set<std::string> names;
  std::size_t pos = 0;
  while (pos < exposition.size()) {
    const std::size_t end = exposition.find('\n', pos);
    const std::string line = exposition.substr(pos, end - pos);
    pos = end == std::string::npos ? exposition.size() : end + 1;
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

std::string dashboardPath() {
  return std::string(PGRO_SOURCE_DIR) + "/deploy/grafana/dashboards/pgro.json";
}

namespace {
void collectQueries(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "expr" || k == "query") && v.is_string()) {
        out.push_back(v.get<std::string>());
      } else {
        collectQueries(v, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collectQueries(v, out);
  }
}
}  // namespace

std::set<std::string> dashboardMetricNames() {
  const std::string text = slurp(dashboardPath());
  if (text.empty()) throw std::runtime_error("cannot read " + dashboardPath());
  std::vector<std::string> queries;
  collectQueries(nlohmann::json::parse(text), queries);
  const std::regex metric(R"(\bpgro_[a-zA-Z0-9_]+)");
  std::set<std::string> used;
  for (const auto& q : queries) {
    for (auto it = std::sregex_iterator(q.begin(), q.end(), metric); it != std::sregex_iterator();
         ++it) {
      used.insert(it->str());
    }
  }
  return used;
}

SelfSignedCert makeSelfSignedCert() {
  SelfSignedCert c;
  c.dir = makeTempDir("pgro-cp-tls-");
  c.cert_file = c.dir + "/cert.pem";
  c.key_file = c.dir + "/key.pem";
  const auto r =
      runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", c.key_file,
                  "-out", c.cert_file, "-days", "2", "-subj", "/CN=localhost", "-addext",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.describe());
  c.cert_pem = slurp(c.cert_file);
  return c;
}

controlplane::ControlPlaneOptions ControlPlaneFixture::defaultOptions() {
  return {.admin_listen = "127.0.0.1:0", .metrics_listen = "127.0.0.1:0"};
}

ControlPlaneFixture::ControlPlaneFixture(controlplane::ControlPlaneOptions options) {
  histograms = controlplane::registerDataPlaneMetrics(registry, target);
  plane = std::make_unique<controlplane::ControlPlane>(target, registry, std::move(options));
  plane->start();
}

std::unique_ptr<adminpb::Admin::Stub> ControlPlaneFixture::stub() const {
  return adminpb::Admin::NewStub(
      grpc::CreateChannel(adminAddr(), grpc::InsecureChannelCredentials()));
}

}  // namespace pgro::test
