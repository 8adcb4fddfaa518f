#include "support/test_certs.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"

namespace pgro::test {
namespace {

namespace fs = std::filesystem;

// One config for every openssl call, so the system's openssl.cnf (whose defaults vary by
// distribution) adds no extensions of its own.
constexpr const char* kOpensslConf = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_dns_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost
[server_ip_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1
)";

// Runs `openssl` with the parts' arguments in order.
void openssl(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> argv = {"openssl"};
  for (const auto& part : parts) argv.insert(argv.end(), part.begin(), part.end());
  CommandResult r = runCommand(argv, {}, std::chrono::seconds(30));
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.describe());
}

// `openssl req` arguments for a new EC P-256 key, unencrypted, written to key_path.
std::vector<std::string> newKey(const std::string& key_path) {
  return {"-newkey", "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes",  "-keyout", key_path};
}

void makeCa(const std::string& conf, const std::string& cert, const std::string& key,
            const std::string& subject) {
  openssl(
      {{"req", "-x509", "-new"},
       newKey(key),
       {"-out", cert, "-days", "3", "-subj", subject, "-config", conf, "-extensions", "ca_ext"}});
}

void makeServerCert(const std::string& conf, const std::string& ca_cert, const std::string& ca_key,
                    const std::string& cert, const std::string& key, const std::string& extensions,
                    const std::string& serial) {
  const std::string csr = cert + ".csr";
  openssl({{"req", "-new"}, newKey(key), {"-out", csr, "-subj", "/CN=localhost", "-config", conf}});
  openssl({{"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", serial},
           {"-days", "3", "-extfile", conf, "-extensions", extensions, "-out", cert}});
  fs::remove(csr);
}

void restrictKey(const std::string& path, const std::string& owner) {
  if (::chmod(path.c_str(), 0600) != 0) throw std::runtime_error("chmod 0600 " + path + " failed");
  if (owner.empty()) return;
  struct passwd* pw = ::getpwnam(owner.c_str());
  if (pw == nullptr) throw std::runtime_error("unknown OS user: " + owner);
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("chown " + path + " to " + owner + " failed");
  }
}

struct SharedCerts {
  SharedCerts() : certs(makeTestCerts(makeTempDir("pgro-certs"), postgresOsUser())) {}
  ~SharedCerts() {
    std::error_code ec;
    fs::remove_all(certs.dir, ec);
  }
  TestCerts certs;
};

}  // namespace

TestCerts makeTestCerts(const std::string& dir, const std::string& key_owner) {
  fs::create_directories(dir);
  // mkdtemp makes 0700 directories; a server running as another user must reach the files.
  if (::chmod(dir.c_str(), 0755) != 0) throw std::runtime_error("chmod " + dir + " failed");
  const std::string conf = dir + "/openssl.cnf";
  {
    std::ofstream out(conf);
    out << kOpensslConf;
    if (!out) throw std::runtime_error("cannot write " + conf);
  }

  TestCerts c;
  c.dir = dir;
  c.ca_cert = dir + "/ca.crt";
  c.ca_key = dir + "/ca.key";
  c.server_cert = dir + "/server.crt";
  c.server_key = dir + "/server.key";
  c.server_ip_cert = dir + "/server-ip.crt";
  c.server_ip_key = dir + "/server-ip.key";
  c.other_ca_cert = dir + "/other-ca.crt";
  c.other_ca_key = dir + "/other-ca.key";

  makeCa(conf, c.ca_cert, c.ca_key, "/CN=pgro test CA");
  makeCa(conf, c.other_ca_cert, c.other_ca_key, "/CN=pgro unrelated test CA");
  makeServerCert(conf, c.ca_cert, c.ca_key, c.server_cert, c.server_key, "server_dns_ext", "2");
  makeServerCert(conf, c.ca_cert, c.ca_key, c.server_ip_cert, c.server_ip_key, "server_ip_ext",
                 "3");
  for (const auto* key : {&c.ca_key, &c.server_key, &c.server_ip_key, &c.other_ca_key}) {
    restrictKey(*key, key_owner);
  }
  fs::remove(conf);
  return c;
}

const TestCerts& sharedTestCerts() {
  static SharedCerts shared;
  return shared.certs;
}

}  // namespace pgro::test
