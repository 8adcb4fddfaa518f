// TLS on both sides of pgro.
// Client side: the answer to SSLRequest/GSSENCRequest, CLIENT_TLS disable/allow/require,
// certificate verification by libpq and psql, plaintext pipelined after SSLRequest, garbage
// handshakes, a large result, cancel and concurrent sessions over TLS.
// Upstream side: UPSTREAM_SSLMODE and UPSTREAM_SSLROOTCERT against a PostgreSQL with
// ssl = on (or off), seen through pg_stat_ssl and pgro's startup check (libpq, exit 1).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "integration_common.hpp"
#include "support/libpq_conn.hpp"
#include "support/test_certs.hpp"

namespace pgro::it {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kRequiresTls =
    "pgro: this server requires TLS (CLIENT_TLS=require); connect with sslmode=require";

Env clientTls(const std::string& cert, const std::string& key) {
  return {{"TLS_CERT_FILE", cert}, {"TLS_KEY_FILE", key}};
}

Env withCerts() {
  const TestCerts& certs = sharedTestCerts();
  return clientTls(certs.server_cert, certs.server_key);
}

// libpq key=value string for pgro's proxy login; `tls` adds sslmode and friends.
std::string proxyConninfo(const PgroProcess& pgro, const std::string& tls,
                          const std::string& host = "127.0.0.1") {
  return "host=" + host + " port=" + std::to_string(pgro.port()) + " user=" + pgro.user() +
         " password=" + pgro.password() + " dbname=" + pgro.database() + " connect_timeout=10 " +
         tls;
}

// The one-byte answer to SSLRequest (or GSSENCRequest) on a fresh connection; "" if the
// server sent nothing within 5 s.
std::string negotiationAnswer(const PgroProcess& pgro, const std::string& request) {
  RawPgClient c(pgro.host(), pgro.port());
  c.send(request);
  std::string answer;
  (void)c.readBytes(1, answer, 5s);
  return answer;
}

// A proxied query over a connection that must work, as one text value.
std::string singleValue(const LibpqConn& conn, const std::string& sql) {
  LibpqConn::Result r = conn.exec(sql);
  if (!r.ok) return "error: " + r.error;
  if (r.rows.size() != 1 || r.rows[0].size() != 1) return "not one value";
  return r.rows[0][0].value_or("NULL");
}

// pgro is still up and serves a new plaintext client.
void expectServesOthers(PgroProcess& pgro) {
  EXPECT_TRUE(pgro.running());
  RawPgClient fresh = connectProxy(pgro);
  auto rows = dataRows(fresh.query("SELECT 1"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
}

// ---- Client side -------------------------------------------------------------------

TEST(ClientTlsTest, DefaultAllowServesTlsAndPlaintext) {
  auto pgro = startPgro(withCerts());
  LibpqConn tls(proxyConninfo(*pgro, "sslmode=require"));
  ASSERT_TRUE(tls.ok()) << tls.error();
  EXPECT_TRUE(tls.sslInUse());
  const std::string protocol = tls.sslAttribute("protocol");
  EXPECT_TRUE(protocol == "TLSv1.2" || protocol == "TLSv1.3") << protocol;
  LibpqConn::Result r = tls.exec("SELECT id, t FROM typed_values WHERE id IN (1, 2) ORDER BY id");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0][0], "1");
  EXPECT_EQ(r.rows[0][1], "héllo wörld ✓");
  EXPECT_EQ(r.rows[1][0], "2");
  EXPECT_EQ(r.rows[1][1], "");

  LibpqConn plain(proxyConninfo(*pgro, "sslmode=disable"));
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_FALSE(plain.sslInUse());
  EXPECT_EQ(singleValue(plain, "SELECT 6 * 7"), "42");
}

TEST(ClientTlsTest, SslRequestAnsweredSAndGssEncRequestN) {
  auto pgro = startPgro(withCerts());
  EXPECT_EQ(negotiationAnswer(*pgro, wire::sslRequest()), "S");
  EXPECT_EQ(negotiationAnswer(*pgro, wire::gssEncRequest()), "N");

  // After 'N' to GSSENCRequest the client goes on in plaintext (libpq's gssencmode=prefer).
  RawPgClient c(pgro->host(), pgro->port());
  c.send(wire::gssEncRequest());
  std::string answer;
  ASSERT_EQ(c.readBytes(1, answer, 5s), RawPgClient::ReadStatus::Ok);
  ASSERT_EQ(answer, "N");
  StartupResult login = c.startup(pgro->user(), pgro->password(), pgro->database());
  EXPECT_TRUE(login.ok) << (login.error ? login.error->describe() : typeSequence(login.messages));
}

TEST(ClientTlsTest, VerifyFullWithTheRightCaOnly) {
  const TestCerts& certs = sharedTestCerts();
  auto pgro = startPgro(withCerts());
  const std::string verify_full = "sslmode=verify-full sslrootcert=" + certs.ca_cert;

  LibpqConn ok(proxyConninfo(*pgro, verify_full, "localhost"));
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_TRUE(ok.sslInUse());
  EXPECT_EQ(singleValue(ok, "SELECT count(*) FROM typed_values"), "5");

  CommandResult psql = runCommand(
      {"psql", "-X", proxyConninfo(*pgro, verify_full, "localhost"), "-c", "\\conninfo"}, {}, 20s);
  EXPECT_EQ(psql.exit_code, 0) << psql.describe();
  EXPECT_NE(psql.out.find("SSL connection (protocol: TLSv1."), std::string::npos)
      << psql.describe();

  LibpqConn other_ca(
      proxyConninfo(*pgro, "sslmode=verify-full sslrootcert=" + certs.other_ca_cert, "localhost"));
  EXPECT_FALSE(other_ca.ok()) << "a certificate from another CA was accepted";
  EXPECT_NE(other_ca.error().find("certificate verify failed"), std::string::npos)
      << other_ca.error();

  // pgro serves the configured certificate: it names localhost, not 127.0.0.1.
  LibpqConn by_ip(proxyConninfo(*pgro, verify_full, "127.0.0.1"));
  EXPECT_FALSE(by_ip.ok());
  EXPECT_NE(by_ip.error().find("does not match host name"), std::string::npos) << by_ip.error();
}

TEST(ClientTlsTest, RequireRefusesPlaintextWith28000) {
  auto pgro = startPgro([] {
    Env env = withCerts();
    env["CLIENT_TLS"] = "require";
    return env;
  }());
  LibpqConn plain(proxyConninfo(*pgro, "sslmode=disable"));
  EXPECT_FALSE(plain.ok()) << "a plaintext client got in with CLIENT_TLS=require";
  EXPECT_NE(plain.error().find("requires TLS"), std::string::npos) << plain.error();

  RawPgClient raw(pgro->host(), pgro->port());
  StartupResult refused = raw.startup(pgro->user(), pgro->password(), pgro->database());
  EXPECT_FALSE(refused.ok);
  ASSERT_TRUE(refused.error) << typeSequence(refused.messages);
  EXPECT_EQ(refused.error->severity(), "FATAL");
  EXPECT_EQ(refused.error->sqlstate(), "28000") << refused.error->describe();
  EXPECT_EQ(refused.error->message(), kRequiresTls);
  EXPECT_EQ(typeSequence(refused.messages), "E") << "pgro went on past the StartupMessage";

  LibpqConn tls(proxyConninfo(*pgro, "sslmode=require"));
  ASSERT_TRUE(tls.ok()) << tls.error();
  EXPECT_TRUE(tls.sslInUse());
  EXPECT_EQ(singleValue(tls, "SELECT 'over tls'"), "over tls");
}

TEST(ClientTlsTest, DisableAnswersNEvenWithCertificate) {
  auto pgro = startPgro([] {
    Env env = withCerts();
    env["CLIENT_TLS"] = "disable";
    return env;
  }());
  EXPECT_EQ(negotiationAnswer(*pgro, wire::sslRequest()), "N");
  LibpqConn tls(proxyConninfo(*pgro, "sslmode=require"));
  EXPECT_FALSE(tls.ok()) << "TLS was offered with CLIENT_TLS=disable";
  EXPECT_NE(tls.error().find("server does not support SSL"), std::string::npos) << tls.error();

  LibpqConn prefer(proxyConninfo(*pgro, "sslmode=prefer"));
  ASSERT_TRUE(prefer.ok()) << prefer.error();
  EXPECT_FALSE(prefer.sslInUse());
  EXPECT_EQ(singleValue(prefer, "SELECT 6 * 7"), "42");
}

TEST(ClientTlsTest, NoCertificateMeansNoTls) {
  auto pgro = startPgro();
  EXPECT_EQ(negotiationAnswer(*pgro, wire::sslRequest()), "N");
  EXPECT_EQ(negotiationAnswer(*pgro, wire::gssEncRequest()), "N");
  LibpqConn prefer(proxyConninfo(*pgro, "sslmode=prefer"));
  ASSERT_TRUE(prefer.ok()) << prefer.error();
  EXPECT_FALSE(prefer.sslInUse());
  EXPECT_EQ(singleValue(prefer, "SELECT 6 * 7"), "42");

  LibpqConn tls(proxyConninfo(*pgro, "sslmode=require"));
  EXPECT_FALSE(tls.ok());
  EXPECT_NE(tls.error().find("server does not support SSL"), std::string::npos) << tls.error();
}

TEST(ClientTlsTest, PlaintextPipelinedAfterSslRequestClosesConnection) {
  auto pgro = startPgro(withCerts());
  RawPgClient c(pgro->host(), pgro->port());
  // One write: the StartupMessage is in pgro's buffer before any handshake, so it was not
  // protected by TLS. PostgreSQL 15 answers 'S', waits for the handshake, then ends the
  // session with 08P01 "received unencrypted data after SSL request" over TLS; pgro closes
  // as soon as it sees the bytes, so a client that never starts the handshake is not left
  // waiting either.
  c.send(wire::sslRequest() +
         wire::startupMessage({{"user", pgro->user()}, {"database", pgro->database()}}));
  RawPgClient::RawReply reply = c.readBytesUntilClosed(5s);
  ASSERT_EQ(reply.status, RawPgClient::ReadStatus::Closed)
      << "connection still open 5 s later; received " << reply.bytes.size() << " bytes";
  std::string after = reply.bytes;
  if (!after.empty() && after[0] == 'S') after.erase(0, 1);
  ASSERT_TRUE(after.empty() || after[0] != 'R')
      << "pgro answered the pipelined StartupMessage with an authentication request";
  if (!after.empty() && after[0] == 'E' && after.size() > 5) {
    auto error = parseErrorFields(std::string_view(after).substr(5));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->sqlstate(), "08P01") << error->describe();
  }
  expectServesOthers(*pgro);
}

TEST(ClientTlsTest, GarbageHandshakeClosesConnection) {
  auto pgro = startPgro(withCerts());
  std::mt19937 rng(20240611);
  auto randomBytes = [&rng](std::size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
  };
  // Not a TLS record at all: record type 0 and major version 0 fail on the header, so no
  // TLS stack waits for a body.
  std::string not_tls = randomBytes(200);
  not_tls[0] = '\0';
  not_tls[1] = '\0';
  // A well-framed handshake record (type 22, TLS 1.0, 195 bytes) holding a ClientHello
  // (type 1, 191 bytes) of random content: complete, so it must be parsed and refused.
  std::string bad_hello = "\x16\x03\x01";
  putInt16(bad_hello, 195);
  bad_hello += '\x01';
  bad_hello += std::string("\x00\x00\xbf", 3);
  bad_hello += randomBytes(191);
  ASSERT_EQ(bad_hello.size(), 200u);

  for (const auto& [name, bytes] :
       {std::pair{"not a TLS record", not_tls}, std::pair{"random ClientHello", bad_hello}}) {
    RawPgClient c(pgro->host(), pgro->port());
    c.send(wire::sslRequest());
    std::string answer;
    ASSERT_EQ(c.readBytes(1, answer, 5s), RawPgClient::ReadStatus::Ok) << name;
    ASSERT_EQ(answer, "S") << name;
    (void)c.trySend(bytes);  // pgro may close before reading it all
    RawPgClient::RawReply reply = c.readBytesUntilClosed(5s);
    EXPECT_EQ(reply.status, RawPgClient::ReadStatus::Closed) << name << ": connection still open";
  }
  expectServesOthers(*pgro);
}

TEST(ClientTlsTest, LargeResultAndCancelOverTls) {
  Env env = withCerts();
  env["ALLOW_PG_SLEEP"] = "true";
  auto pgro = startPgro(env);
  LibpqConn conn(proxyConninfo(*pgro, "sslmode=require"));
  ASSERT_TRUE(conn.ok()) << conn.error();
  ASSERT_TRUE(conn.sslInUse());

  LibpqConn::Result big = conn.exec("SELECT g, g * 2 FROM generate_series(1, 100000) AS g");
  ASSERT_TRUE(big.ok) << big.error;
  ASSERT_EQ(big.rows.size(), 100000u);
  int64_t sum = 0;
  int64_t sum_double = 0;
  for (const auto& row : big.rows) {
    sum += std::stoll(row.at(0).value_or("0"));
    sum_double += std::stoll(row.at(1).value_or("0"));
  }
  EXPECT_EQ(sum, 5000050000);
  EXPECT_EQ(sum_double, 10000100000);
  EXPECT_EQ(big.rows.back().at(0), "100000");

  // libpq sends the CancelRequest in plaintext on a new connection, whatever the session.
  ASSERT_EQ(PQsendQuery(conn.get(), "SELECT pg_sleep(30)"), 1) << conn.error();
  ASSERT_TRUE(waitForActiveQuery("pg_sleep(30)", 10s)) << "the query never reached PostgreSQL";
  auto start = Clock::now();
  std::string cancel_error;
  ASSERT_TRUE(conn.cancel(cancel_error)) << cancel_error;
  LibpqConn::Result cancelled = conn.collect();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_FALSE(cancelled.ok);
  EXPECT_EQ(cancelled.sqlstate, "57014") << cancelled.error;
  EXPECT_EQ(singleValue(conn, "SELECT 'still here'"), "still here");
}

TEST(ClientTlsTest, ConcurrentTlsSessions) {
  auto pgro = startPgro(withCerts());
  constexpr int kClients = 20;
  constexpr int kQueries = 10;
  std::mutex mutex;
  std::vector<std::string> failures;
  std::atomic<int> tls_sessions{0};
  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mutex);
    failures.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int client = 0; client < kClients; ++client) {
    threads.emplace_back([&, client] {
      LibpqConn conn(proxyConninfo(*pgro, "sslmode=require"));
      if (!conn.ok()) return fail("client " + std::to_string(client) + ": " + conn.error());
      if (conn.sslInUse()) ++tls_sessions;
      for (int q = 0; q < kQueries; ++q) {
        const int n = client * 1000 + q;
        const std::string expected = std::to_string(n) + ":" + std::string(n % 97, 'x');
        const std::string got =
            singleValue(conn, "SELECT " + std::to_string(n) + " || ':' || repeat('x', " +
                                  std::to_string(n % 97) + ")");
        if (got != expected) {
          return fail("client " + std::to_string(client) + " query " + std::to_string(q) +
                      ": got " + got);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  EXPECT_EQ(tls_sessions.load(), kClients);
}

// ---- Upstream side -----------------------------------------------------------------

// A PostgreSQL with ssl = on; `tls_only` adds a hostnossl reject rule.
std::unique_ptr<TempPostgres> tlsPostgres(const std::string& cert, const std::string& key,
                                          bool tls_only) {
  TempPostgresOptions options;
  options.ssl_cert_file = cert;
  options.ssl_key_file = key;
  if (tls_only) options.extra_hba = {"hostnossl all all 0.0.0.0/0 reject"};
  return std::make_unique<TempPostgres>(options);
}

Env upstreamTls(const std::string& sslmode, const std::string& rootcert = {},
                const std::string& host = {}) {
  Env env = {{"CACHE_ENABLED", "false"}};
  if (!sslmode.empty()) env["UPSTREAM_SSLMODE"] = sslmode;
  if (!rootcert.empty()) env["UPSTREAM_SSLROOTCERT"] = rootcert;
  if (!host.empty()) env["UPSTREAM_HOST"] = host;
  return env;
}

// pg_stat_ssl.ssl of the upstream session serving a pgro client: "t" or "f". Read by the
// admin directly: pgro's sessions run as pg_read_all_data (UPSTREAM_ROLE), which does not
// see the account's own backends in pg_stat_ssl.
std::string upstreamSsl(const PgroProcess& pgro, TempPostgres& pg) {
  RawPgClient c = connectProxy(pgro);
  auto messages = c.query("SELECT pg_backend_pid()");
  if (auto error = firstError(messages)) return "error: " + error->describe();
  auto rows = dataRows(messages);
  if (rows.size() != 1 || !rows[0][0]) return "pid rows: " + std::to_string(rows.size());
  const pqxx::result ssl = pg.execDirect("SELECT ssl FROM pg_stat_ssl WHERE pid = " + *rows[0][0]);
  if (ssl.size() != 1) return "rows: " + std::to_string(ssl.size());
  return ssl[0][0].c_str();
}

// pgro with `overrides` in front of `pg` must refuse to start: exit 1, the startup check's
// line, and libpq's reason (`reason`) on it.
void expectStartupRefused(const TempPostgres& pg, const Env& overrides, const std::string& reason) {
  Env env = pgroBaseEnv(pg);
  for (const auto& [k, v] : overrides) env[k] = v;
  CommandResult r = runPgro(pgroBinary(), env, {}, 15s);
  EXPECT_FALSE(r.timed_out) << "pgro kept running: " << r.describe();
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  const std::string out = r.out + r.err;
  const auto line = out.find("Could not connect to upstream database");
  ASSERT_NE(line, std::string::npos) << r.describe();
  EXPECT_NE(out.find(reason, line), std::string::npos) << "expected \"" << reason << "\"\n"
                                                       << r.describe();
  EXPECT_EQ(out.find(pg.password()), std::string::npos) << "the upstream password is logged";
}

TEST(UpstreamTlsTest, RequireAndDefaultPreferUseTls) {
  const TestCerts& certs = sharedTestCerts();
  auto pg = tlsPostgres(certs.server_cert, certs.server_key, /*tls_only=*/true);
  {
    PgroProcess pgro(pgroBinary(), *pg, upstreamTls("require"));
    EXPECT_EQ(upstreamSsl(pgro, *pg), "t");
  }
  PgroProcess pgro(pgroBinary(), *pg, upstreamTls(""));
  EXPECT_EQ(upstreamSsl(pgro, *pg), "t");
}

TEST(UpstreamTlsTest, DisableAgainstTlsOnlyServerExits1) {
  const TestCerts& certs = sharedTestCerts();
  auto pg = tlsPostgres(certs.server_cert, certs.server_key, /*tls_only=*/true);
  expectStartupRefused(*pg, upstreamTls("disable"), "no encryption");
}

TEST(UpstreamTlsTest, VerifyCaAndVerifyFullCheckTheCertificate) {
  const TestCerts& certs = sharedTestCerts();
  // The certificate names DNS:localhost only.
  auto pg = tlsPostgres(certs.server_cert, certs.server_key, /*tls_only=*/true);
  {
    PgroProcess pgro(pgroBinary(), *pg, upstreamTls("verify-full", certs.ca_cert, "localhost"));
    EXPECT_EQ(upstreamSsl(pgro, *pg), "t");
  }
  {
    // verify-ca checks the chain, not the name.
    PgroProcess pgro(pgroBinary(), *pg, upstreamTls("verify-ca", certs.ca_cert, "127.0.0.1"));
    EXPECT_EQ(upstreamSsl(pgro, *pg), "t");
  }
  expectStartupRefused(*pg, upstreamTls("verify-full", certs.ca_cert, "127.0.0.1"),
                       "does not match host name");
  expectStartupRefused(*pg, upstreamTls("verify-ca", certs.other_ca_cert, "localhost"),
                       "certificate verify failed");
  // With a root certificate, require verifies the chain too (as libpq does).
  expectStartupRefused(*pg, upstreamTls("require", certs.other_ca_cert, "localhost"),
                       "certificate verify failed");
}

TEST(UpstreamTlsTest, VerifyFullToAnIpNeedsAnIpSan) {
  const TestCerts& certs = sharedTestCerts();
  auto pg = tlsPostgres(certs.server_ip_cert, certs.server_ip_key, /*tls_only=*/true);
  PgroProcess pgro(pgroBinary(), *pg, upstreamTls("verify-full", certs.ca_cert, "127.0.0.1"));
  EXPECT_EQ(upstreamSsl(pgro, *pg), "t");
}

// postgres() runs with ssl = off.
TEST(UpstreamTlsTest, RequireAgainstServerWithoutSslExits1) {
  expectStartupRefused(postgres(), upstreamTls("require"),
                       "server does not support SSL, but SSL was required");
}

TEST(UpstreamTlsTest, PreferAgainstServerWithoutSslIsPlaintext) {
  PgroProcess pgro(pgroBinary(), postgres(), upstreamTls("prefer"));
  EXPECT_EQ(upstreamSsl(pgro, postgres()), "f");
}

}  // namespace
}  // namespace pgro::it
