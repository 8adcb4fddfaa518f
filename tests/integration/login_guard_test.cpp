// The login path and client buffers cannot be used to lock others out or to grow memory
// (issue 13 section 5): AUTH_TIMEOUT_SECONDS, MAX_UNAUTHENTICATED_PER_ADDRESS, the failed-login
// throttle, FATAL 08P01 for a StartupMessage after login, NegotiateProtocolVersion, and
// CLIENT_BUFFER_BUDGET_BYTES. Other client addresses are other loopback addresses (127.0.0.x).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "integration_common.hpp"
#include "support/test_certs.hpp"

namespace pgro::it {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<ErrorFields> errorOf(const std::vector<Message>& messages) {
  return firstError(messages);
}

// A round trip of SELECT 1 on a logged-in client; false on an error, a close or a timeout.
bool selectOne(RawPgClient& client) {
  if (!client.trySend(wire::query("SELECT 1"))) return false;
  return succeeded(client.readReply(10s));
}

// A Query message of exactly `total` bytes on the wire: SELECT 1 padded with spaces.
std::string paddedQuery(std::size_t total) {
  std::string sql = "SELECT 1";
  sql.append(total - 5 - sql.size() - 1, ' ');
  return wire::query(sql);
}

TEST(AuthTimeoutTest, SilentAndStalledLoginsAreClosedAfterTheTimeout) {
  auto pgro = startPgro({{"AUTH_TIMEOUT_SECONDS", "1"}});
  // Connected, nothing sent: closed without a message (as PostgreSQL does before startup).
  RawPgClient silent(pgro->host(), pgro->port());
  // Stalled in SCRAM: the client got AuthenticationSASL and never answers.
  RawPgClient stalled(pgro->host(), pgro->port());
  stalled.send(wire::startupMessage({{"user", pgro->user()}, {"database", pgro->database()}}));
  const auto started = Clock::now();

  const auto silent_reply = silent.readBytesUntilClosed(15s);
  EXPECT_EQ(silent_reply.status, RawPgClient::ReadStatus::Closed) << "still open after 15 s";
  EXPECT_TRUE(silent_reply.bytes.empty());

  const auto stalled_reply = stalled.readReply(15s);
  EXPECT_TRUE(stalled_reply.closed) << "still open after 15 s";
  const auto error = errorOf(stalled_reply.messages);
  ASSERT_TRUE(error) << typeSequence(stalled_reply.messages);
  EXPECT_EQ(error->severity(), "FATAL");
  EXPECT_EQ(error->sqlstate(), "57014") << error->describe();
  EXPECT_GE(Clock::now() - started, 900ms) << "closed before AUTH_TIMEOUT_SECONDS";

  // The timeout does not touch a client that logged in.
  auto client = connectProxy(*pgro);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(selectOne(client));
}

TEST(AuthTimeoutTest, StalledTlsHandshakeIsClosedAfterTheTimeout) {
  const TestCerts& certs = sharedTestCerts();
  auto pgro = startPgro({{"AUTH_TIMEOUT_SECONDS", "1"},
                         {"TLS_CERT_FILE", certs.server_cert},
                         {"TLS_KEY_FILE", certs.server_key}});
  // SSLRequest answered 'S', then no ClientHello: the handshake time counts.
  RawPgClient client(pgro->host(), pgro->port());
  client.send(wire::sslRequest());
  std::string answer;
  ASSERT_EQ(client.readBytes(1, answer, 10s), RawPgClient::ReadStatus::Ok);
  ASSERT_EQ(answer, "S");
  const auto started = Clock::now();
  const auto reply = client.readBytesUntilClosed(15s);
  EXPECT_EQ(reply.status, RawPgClient::ReadStatus::Closed) << "still open after 15 s";
  EXPECT_GE(Clock::now() - started, 500ms);
}

TEST(UnauthenticatedLimitTest, HalfOpenConnectionsFromOneAddressDoNotLockOthersOut) {
  auto pgro = startPgro({{"MAX_UNAUTHENTICATED_PER_ADDRESS", "4"},
                         {"MAX_CLIENT_CONNECTIONS", "8"},
                         {"AUTH_TIMEOUT_SECONDS", "60"}});
  std::vector<RawPgClient> held;
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    RawPgClient c(pgro->host(), pgro->port(), "127.0.0.2");
    // A refused connection gets its FATAL at once; a counted one gets nothing and stays.
    auto r = c.readMessage(500ms);
    if (r.status == RawPgClient::ReadStatus::Timeout) {
      held.push_back(std::move(c));
      continue;
    }
    ASSERT_EQ(r.status, RawPgClient::ReadStatus::Ok);
    ASSERT_EQ(r.message.type, 'E');
    const auto error = parseErrorFields(r.message.body);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->sqlstate(), "53300") << error->describe();
    ++refused;
  }
  EXPECT_EQ(held.size(), 4u);
  EXPECT_EQ(refused, 16);

  // Another address logs in and works while they are held.
  auto other = connectProxy(*pgro);
  EXPECT_TRUE(selectOne(other));

  // Once one held connection goes, its address may log in again (counted until it logs in).
  held.pop_back();
  bool logged_in = false;
  for (auto deadline = Clock::now() + 10s; !logged_in && Clock::now() < deadline;) {
    RawPgClient again(pgro->host(), pgro->port(), "127.0.0.2");
    logged_in = again.startup(pgro->user(), pgro->password(), pgro->database()).ok;
    if (logged_in) {
      EXPECT_TRUE(selectOne(again));
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(logged_in) << "127.0.0.2 still refused after one of its connections closed";
}

TEST(LoginThrottleTest, RepeatedFailuresFromOneAddressAreSlowedOthersAreNot) {
  auto pgro = startPgro();
  auto wrong = [&](const char* source) {
    RawPgClient c(pgro->host(), pgro->port(), source);
    const auto r = c.startup(pgro->user(), "wrong-password", pgro->database(), {}, 30s);
    EXPECT_FALSE(r.ok);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->sqlstate(), "28P01");
  };
  // The first failures are free (a mistyped password costs nothing).
  for (int i = 0; i < 6; ++i) wrong("127.0.0.3");
  EXPECT_EQ(pgro->log().find("authentication answer delayed"), std::string::npos);
  // The next three wait 250, 500 and 1000 ms before their answer (a lower bound only).
  const auto started = Clock::now();
  for (int i = 0; i < 3; ++i) wrong("127.0.0.3");
  EXPECT_GE(Clock::now() - started, 1700ms) << "failed logins were not slowed down";
  EXPECT_TRUE(pgro->waitForLog("authentication answer delayed", 5s));

  // Another address is not affected, and the right password still works from the throttled
  // address (after its wait).
  RawPgClient other(pgro->host(), pgro->port(), "127.0.0.4");
  EXPECT_TRUE(other.startup(pgro->user(), pgro->password(), pgro->database()).ok);
  RawPgClient same(pgro->host(), pgro->port(), "127.0.0.3");
  EXPECT_TRUE(same.startup(pgro->user(), pgro->password(), pgro->database(), {}, 30s).ok);
}

TEST(StartupAfterLoginTest, StartupMessageAfterLoginIs08P01AtOnce) {
  auto pgro = startPgro();
  auto client = connectProxy(*pgro);
  client.send(wire::startupMessage({{"user", pgro->user()}, {"database", pgro->database()}}));
  const auto reply = client.readReply(5s);
  EXPECT_FALSE(reply.timed_out) << "pgro waits for more bytes instead of refusing";
  const auto error = errorOf(reply.messages);
  ASSERT_TRUE(error) << typeSequence(reply.messages);
  EXPECT_EQ(error->severity(), "FATAL");
  EXPECT_EQ(error->sqlstate(), "08P01") << error->describe();
  EXPECT_TRUE(reply.closed);

  auto other = connectProxy(*pgro);
  EXPECT_TRUE(selectOne(other));
}

struct NegotiateCase {
  const char* name;
  int32_t protocol;
  RawPgClient::Params params;
  std::vector<std::string> unrecognized;
};

void PrintTo(const NegotiateCase& c, std::ostream* os) {
  *os << c.name;
}

class NegotiateProtocolTest : public ::testing::TestWithParam<NegotiateCase> {};

TEST_P(NegotiateProtocolTest, AnsweredWithVersion30AndTheLoginSucceeds) {
  static std::unique_ptr<PgroProcess> pgro = startPgro();
  const auto& c = GetParam();
  RawPgClient client(pgro->host(), pgro->port());
  const auto r =
      client.startup(pgro->user(), pgro->password(), pgro->database(), c.params, 10s, c.protocol);
  ASSERT_TRUE(r.ok) << (r.error ? r.error->describe() : typeSequence(r.messages));
  ASSERT_FALSE(r.messages.empty());
  // Sent first, before the authentication request, as PostgreSQL 15 does.
  const Message& v = r.messages.front();
  ASSERT_EQ(v.type, 'v') << typeSequence(r.messages);
  // The whole version number, as PostgreSQL sends it (PG_PROTOCOL_LATEST), not the bare minor.
  EXPECT_EQ(getInt32(v.body, 0), 3 << 16) << "newest version supported: 3.0";
  ASSERT_EQ(getInt32(v.body, 4), static_cast<int32_t>(c.unrecognized.size()));
  std::string expected;
  for (const auto& option : c.unrecognized) expected += option + '\0';
  EXPECT_EQ(v.body.substr(8), expected);
  EXPECT_TRUE(selectOne(client));

  // Byte for byte what PostgreSQL 15 itself answers to the same startup.
  TempPostgres& pg = postgres();
  RawPgClient direct(pg.host(), pg.port());
  const auto d = direct.startup(pg.user(), pg.password(), pg.database(), c.params, 10s, c.protocol);
  ASSERT_TRUE(d.ok) << (d.error ? d.error->describe() : typeSequence(d.messages));
  ASSERT_FALSE(d.messages.empty());
  EXPECT_EQ(d.messages.front().wire(), v.wire());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NegotiateProtocolTest,
    ::testing::Values(NegotiateCase{"minor2", (3 << 16) | 2, {}, {}},
                      NegotiateCase{"pq_option", 3 << 16, {{"_pq_.foo", "on"}}, {"_pq_.foo"}},
                      NegotiateCase{"minor2_and_options",
                                    (3 << 16) | 2,
                                    {{"_pq_.foo", "1"}, {"_pq_.bar", "2"}},
                                    {"_pq_.foo", "_pq_.bar"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(NegotiateProtocolTest30, PlainStartupGetsNoNegotiateMessage) {
  auto pgro = startPgro();
  RawPgClient client(pgro->host(), pgro->port());
  const auto r = client.startup(pgro->user(), pgro->password(), pgro->database());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(typeSequence(r.messages).find('v'), std::string::npos);
}

TEST(NegotiateProtocolTest30, OtherMajorVersionIs0A000) {
  auto pgro = startPgro();
  for (int32_t protocol : {(2 << 16), (4 << 16), (4 << 16) | 1}) {
    RawPgClient client(pgro->host(), pgro->port());
    const auto r =
        client.startup(pgro->user(), pgro->password(), pgro->database(), {}, 10s, protocol);
    EXPECT_FALSE(r.ok);
    ASSERT_TRUE(r.error) << typeSequence(r.messages);
    EXPECT_EQ(r.error->sqlstate(), "0A000") << r.error->describe();
    // As PostgreSQL 15 words it (to a 2.x client PostgreSQL answers in the 2.0 error format,
    // which this client does not read; pgro answers every client in 3.0).
    if ((protocol >> 16) == 2) continue;
    TempPostgres& pg = postgres();
    RawPgClient direct(pg.host(), pg.port());
    const auto d = direct.startup(pg.user(), pg.password(), pg.database(), {}, 10s, protocol);
    ASSERT_TRUE(d.error);
    EXPECT_EQ(r.error->sqlstate(), d.error->sqlstate());
    EXPECT_EQ(r.error->message(), d.error->message());
  }
}

TEST(BufferBudgetTest, ClientOverTheBudgetIsRefusedOthersKeepWorking) {
  auto pgro = startPgro({{"CLIENT_BUFFER_BUDGET_BYTES", "1000000"}, {"CACHE_ENABLED", "false"}});
  const std::string big = paddedQuery(600000);
  // A and B each begin a 600,000-byte message: the first whose header pgro reads holds that
  // much of the budget; the other's would take the total over 1,000,000, so it is refused at
  // its header and closed. Which one comes first is up to the scheduler.
  auto a = connectProxy(*pgro);
  auto b = connectProxy(*pgro);
  a.send(std::string_view(big).substr(0, 1000));
  b.send(std::string_view(big).substr(0, 1000));
  std::optional<RawPgClient::Reply> refused;
  bool a_refused = false;
  for (auto deadline = Clock::now() + 10s; !refused && Clock::now() < deadline;) {
    for (RawPgClient* client : {&a, &b}) {
      auto reply = client->readReply(100ms);
      if (!reply.messages.empty() || reply.closed) {
        if (!reply.closed) {  // the FATAL came; the close follows
          auto rest = client->readReply(10s);
          reply.messages.insert(reply.messages.end(), rest.messages.begin(), rest.messages.end());
          reply.closed = rest.closed;
        }
        refused = reply;
        a_refused = client == &a;
        break;
      }
    }
  }
  ASSERT_TRUE(refused) << "neither client was refused";
  const auto error = errorOf(refused->messages);
  ASSERT_TRUE(error) << typeSequence(refused->messages);
  EXPECT_EQ(error->severity(), "FATAL");
  EXPECT_EQ(error->sqlstate(), "53200") << error->describe();
  EXPECT_TRUE(refused->closed);
  RawPgClient& holder = a_refused ? b : a;

  // Small messages still fit, and A's message completes.
  auto c = connectProxy(*pgro);
  EXPECT_TRUE(selectOne(c));
  holder.send(std::string_view(big).substr(1000));
  EXPECT_TRUE(succeeded(holder.readReply(10s)));

  // The holder's share came back: the same message from another client now fits.
  auto d = connectProxy(*pgro);
  d.send(big);
  EXPECT_TRUE(succeeded(d.readReply(10s)));
}

}  // namespace
}  // namespace pgro::it
