// net::TlsEngine with both ends in memory: the handshake, data both ways in records of every
// size, certificate checks, and what a broken or closing peer looks like.
#include "net/tls.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "support/test_certs.hpp"

namespace pgro::net {
namespace {

using ::testing::HasSubstr;
using Status = TlsEngine::Status;

const test::TestCerts& certs() {
  static const test::TestCerts made = [] {
    const auto dir =
        std::filesystem::temp_directory_path() / ("pgro-tls-unit-" + std::to_string(::getpid()));
    return test::makeTestCerts(dir.string(), "");
  }();
  return made;
}

std::shared_ptr<TlsContext> serverContext(const std::string& cert, const std::string& key) {
  std::string error;
  auto ctx = TlsContext::server(cert, key, error);
  EXPECT_NE(ctx, nullptr) << error;
  return ctx;
}

std::shared_ptr<TlsContext> clientContext(Verify verify, const std::string& root) {
  std::string error;
  auto ctx = TlsContext::client(verify, root, error);
  EXPECT_NE(ctx, nullptr) << error;
  return ctx;
}

// Runs both handshakes to the end, moving bytes `step` at a time (0 = all at once).
// Returns the client's and the server's last status.
std::pair<Status, Status> handshake(TlsEngine& client, TlsEngine& server, std::size_t step = 0) {
  Status cs = Status::WantRead;
  Status ss = Status::WantRead;
  for (int round = 0; round < 1000; ++round) {
    std::string to_server;
    std::string to_client;
    if (cs == Status::WantRead) cs = client.handshake(to_server);
    auto deliver = [step](TlsEngine& peer, const std::string& bytes) {
      const std::size_t n = step == 0 ? bytes.size() : step;
      for (std::size_t i = 0; i < bytes.size(); i += n) {
        peer.feed(std::string_view(bytes).substr(i, n));
      }
    };
    deliver(server, to_server);
    if (ss == Status::WantRead) ss = server.handshake(to_client);
    deliver(client, to_client);
    if (cs != Status::WantRead && ss != Status::WantRead) break;
    if (cs == Status::Done && to_client.empty() && ss == Status::WantRead && to_server.empty()) {
      break;  // TLS 1.3: the client is done first; nothing more will come
    }
  }
  return {cs, ss};
}

// Sends `plain` from `from` to `to` and returns what `to` decrypts.
std::string roundTrip(TlsEngine& from, TlsEngine& to, const std::string& plain) {
  std::string wire;
  EXPECT_TRUE(from.encrypt(plain, wire)) << from.error();
  to.feed(wire);
  std::string got;
  std::string reply;
  EXPECT_EQ(to.decrypt(got, reply), Status::WantRead) << to.error();
  return got;
}

TEST(TlsEngine, HandshakeAndDataBothWays) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::ChainAndHost, certs().ca_cert), "localhost");
  auto [cs, ss] = handshake(client, server);
  ASSERT_EQ(cs, Status::Done) << client.error();
  // The server completes when it reads the client's Finished with the first data.
  const std::string query("Q\0\0\0\x0dSELECT 1\0", 14);  // NULs included
  EXPECT_EQ(roundTrip(client, server, query), query);
  const std::string ready("Z\0\0\0\x05I", 6);
  EXPECT_EQ(roundTrip(server, client, ready), ready);
  EXPECT_THAT(client.protocol(), HasSubstr("TLSv1."));
  EXPECT_FALSE(client.cipher().empty());
  (void)ss;
}

TEST(TlsEngine, PayloadsOfEverySizeArriveIntact) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::None, ""), "localhost");
  handshake(client, server);
  std::mt19937 rng(7);
  // Around the 16 KiB record size, and over the 1 MiB piece SSL_write is given at once.
  for (std::size_t size : {std::size_t{1}, std::size_t{16383}, std::size_t{16384},
                           std::size_t{16385}, std::size_t{100000}, std::size_t{3u << 20}}) {
    std::string plain(size, '\0');
    for (char& c : plain) c = static_cast<char>(rng());
    EXPECT_EQ(roundTrip(client, server, plain), plain) << size;
    EXPECT_EQ(roundTrip(server, client, plain), plain) << size;
  }
}

TEST(TlsEngine, ByteAtATimeDeliveryStillCompletes) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::Chain, certs().ca_cert), "localhost");
  auto [cs, ss] = handshake(client, server, 1);
  ASSERT_EQ(cs, Status::Done) << client.error();
  std::string wire;
  ASSERT_TRUE(client.encrypt("hello over tls", wire));
  std::string got;
  std::string reply;
  for (char c : wire) {
    server.feed(std::string_view(&c, 1));
    ASSERT_NE(server.decrypt(got, reply), Status::Failed) << server.error();
  }
  EXPECT_EQ(got, "hello over tls");
  (void)ss;
}

TEST(TlsEngine, VerifyFullRejectsAnotherHostName) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::ChainAndHost, certs().ca_cert), "db.example.com");
  auto [cs, ss] = handshake(client, server);
  EXPECT_EQ(cs, Status::Failed);
  EXPECT_THAT(client.error(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(client.error(), HasSubstr("hostname mismatch"));
  (void)ss;
}

TEST(TlsEngine, VerifyFullToAnIpAddressNeedsAnIpSan) {
  {
    TlsEngine server(serverContext(certs().server_cert, certs().server_key));  // DNS SAN only
    TlsEngine client(clientContext(Verify::ChainAndHost, certs().ca_cert), "127.0.0.1");
    EXPECT_EQ(handshake(client, server).first, Status::Failed);
    EXPECT_THAT(client.error(), HasSubstr("IP address mismatch"));
  }
  TlsEngine server(serverContext(certs().server_ip_cert, certs().server_ip_key));
  TlsEngine client(clientContext(Verify::ChainAndHost, certs().ca_cert), "127.0.0.1");
  EXPECT_EQ(handshake(client, server).first, Status::Done) << client.error();
}

TEST(TlsEngine, VerifyCaRejectsAnUnknownIssuerButNotAnotherName) {
  {
    TlsEngine server(serverContext(certs().server_cert, certs().server_key));
    TlsEngine client(clientContext(Verify::Chain, certs().other_ca_cert), "localhost");
    EXPECT_EQ(handshake(client, server).first, Status::Failed);
    EXPECT_THAT(client.error(), HasSubstr("certificate verify failed"));
  }
  // verify-ca checks the chain only: a name the certificate does not carry is fine.
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::Chain, certs().ca_cert), "db.example.com");
  EXPECT_EQ(handshake(client, server).first, Status::Done) << client.error();
}

TEST(TlsEngine, GarbageFromTheClientFailsTheHandshake) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  // A handshake record header with a nonsense body, then plaintext SQL.
  server.feed(std::string("\x16\x03\x01\x00\x05hello", 10));
  server.feed("SELECT 1; SELECT 2; SELECT 3;");
  std::string wire;
  EXPECT_EQ(server.handshake(wire), Status::Failed);
  EXPECT_THAT(server.error(), HasSubstr("TLS handshake failed"));
}

TEST(TlsEngine, CloseNotifyReadsAsClosed) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::None, ""), "localhost");
  handshake(client, server);
  roundTrip(client, server, "x");  // finishes the server's side
  std::string wire;
  client.close(wire);
  ASSERT_FALSE(wire.empty());
  server.feed(wire);
  std::string got;
  std::string reply;
  EXPECT_EQ(server.decrypt(got, reply), Status::Closed);
}

TEST(TlsEngine, TamperedRecordFails) {
  TlsEngine server(serverContext(certs().server_cert, certs().server_key));
  TlsEngine client(clientContext(Verify::None, ""), "localhost");
  handshake(client, server);
  roundTrip(client, server, "x");
  std::string wire;
  ASSERT_TRUE(client.encrypt("SELECT secret", wire));
  wire[wire.size() - 3] ^= 0x40;
  server.feed(wire);
  std::string got;
  std::string reply;
  EXPECT_EQ(server.decrypt(got, reply), Status::Failed);
  EXPECT_TRUE(got.empty());
}

TEST(TlsContext, UnusableFilesNameTheSetting) {
  std::string error;
  EXPECT_EQ(TlsContext::server("/nonexistent/cert.pem", certs().server_key, error), nullptr);
  EXPECT_THAT(error, HasSubstr("TLS_CERT_FILE"));
  error.clear();
  // A key that belongs to another certificate.
  EXPECT_EQ(TlsContext::server(certs().server_cert, certs().server_ip_key, error), nullptr);
  EXPECT_THAT(error, HasSubstr("TLS_KEY_FILE"));
  error.clear();
  EXPECT_EQ(TlsContext::client(Verify::Chain, "/nonexistent/ca.pem", error), nullptr);
  EXPECT_THAT(error, HasSubstr("UPSTREAM_SSLROOTCERT"));
}

}  // namespace
}  // namespace pgro::net
