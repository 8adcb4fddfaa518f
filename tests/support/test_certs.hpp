// Throwaway X.509 material for TLS tests, made with the `openssl` CLI: one CA, two server
// certificates it signs (one naming only DNS:localhost, one also IP:127.0.0.1) and an
// unrelated CA that trusts neither. EC P-256 keys: instant to generate, accepted by
// PostgreSQL, libpq and OpenSSL servers alike.
#pragma once

#include <string>

namespace pgro::test {

struct TestCerts {
  std::string dir;
  std::string ca_cert;  // the CA that signed both server certificates
  std::string ca_key;
  // CN=localhost, SAN DNS:localhost only: verify-full passes for host "localhost" and
  // fails for "127.0.0.1" (libpq matches an IP host against IP SANs, then the CN).
  std::string server_cert;
  std::string server_key;
  // CN=localhost, SAN DNS:localhost and IP:127.0.0.1: verify-full passes for both.
  std::string server_ip_cert;
  std::string server_ip_key;
  // A CA that signed nothing here: as a root it makes verify-ca and verify-full fail.
  std::string other_ca_cert;
  std::string other_ca_key;
};

// Writes the files above into `dir` (created if missing, made traversable by others so a
// server running as another OS user can open them). Keys are mode 0600 and owned by
// `key_owner` (an OS user name; empty: whoever runs the test): PostgreSQL refuses a key
// file that others can read or that another user owns. Throws std::runtime_error with
// openssl's output on failure.
TestCerts makeTestCerts(const std::string& dir, const std::string& key_owner);

// makeTestCerts once per process, in a fresh temp dir removed at exit, keys owned by the
// OS user TempPostgres runs PostgreSQL as.
const TestCerts& sharedTestCerts();

}  // namespace pgro::test
