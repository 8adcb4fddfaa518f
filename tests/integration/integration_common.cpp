#include "integration_common.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace pgro::it {

std::string pgroBinary() {
  return PGRO_BINARY;
}

TempPostgres& postgres() {
  static TempPostgres& pg = [&]() -> TempPostgres& {
    TempPostgres& shared = TempPostgres::shared();
    shared.execDirect(R"sql(
      CREATE TABLE typed_values (
        id int PRIMARY KEY, n numeric, f8 float8, b bytea, ts timestamptz, d date,
        iv interval, arr int4[], tarr text[], j json, jb jsonb, u uuid, t text);
      INSERT INTO typed_values VALUES
        (1, 3.14159265358979323846264338327950288, 1.5, '\x00ff10', '2024-02-29 13:14:15.123456+02',
         '2024-02-29', '1 year 2 mons 3 days 04:05:06.789', '{1,NULL,3}', '{"a","b c",NULL}',
         '{"k": [1, 2, {"x": null}]}', '{"b": 2, "a": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         'héllo wörld ✓'),
        (2, 'NaN', 'NaN', '', '-infinity', 'infinity', '-00:00:00.000001', '{}', '{}', 'null',
         '[]', '00000000-0000-0000-0000-000000000000', ''),
        (3, -0.000000000001, '-Infinity', '\x5c00', '1970-01-01 00:00:00+00', '0001-01-01 BC',
         '0', '{{1,2},{3,4}}', '{"\"quoted\""}', '"s"', '{"nested": {"deep": [true, false]}}',
         'ffffffff-ffff-ffff-ffff-ffffffffffff', E'tab\there\nnewline'),
        (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (5, 1e100, 'Infinity', '\xdeadbeef', '2262-04-11 23:47:16.854775+00', '5874897-12-31',
         '178000000 years', '{2147483647,-2147483648}', '{""}', '{}', '123.456e-7',
         '12345678-1234-5678-1234-567812345678', repeat('x', 5000));
      CREATE TABLE copy_target (id int, t text);
      CREATE FUNCTION notice_me() RETURNS int LANGUAGE plpgsql STABLE AS
        $$ BEGIN RAISE NOTICE 'hello'; RETURN 1; END $$;
      -- allow.sql's schema-qualified user function (pgro refuses functions that do not exist).
      CREATE SCHEMA s;
      CREATE FUNCTION s.g(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x';
    )sql");
    return shared;
  }();
  return pg;
}

std::unique_ptr<PgroProcess> startPgro(const Env& overrides) {
  return std::make_unique<PgroProcess>(pgroBinary(), postgres(), overrides);
}

RawPgClient connectDirect() {
  TempPostgres& pg = postgres();
  return RawPgClient::connect(pg.host(), pg.port(), pg.user(), pg.password(), pg.database());
}

RawPgClient connectProxy(const PgroProcess& pgro) {
  return RawPgClient::connect(pgro.host(), pgro.port(), pgro.user(), pgro.password(),
                              pgro.database());
}

bool waitForActiveQuery(std::string_view fragment, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string sql =
      "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
      "AND position('" +
      std::string(fragment) + "' in query) > 0";
  while (std::chrono::steady_clock::now() < deadline) {
    if (postgres().execDirect(sql)[0][0].as<int>() > 0) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool succeeded(const RawPgClient::Reply& reply) {
  return reply.ready && !firstError(reply.messages).has_value();
}

std::string describe(const RawPgClient::Reply& reply) {
  std::string out = "messages [" + typeSequence(reply.messages) + "]";
  if (auto e = firstError(reply.messages)) out += " error: " + e->describe();
  if (reply.closed) out += " (connection closed)";
  if (reply.timed_out) out += " (timed out)";
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string scrapeMetrics(const PgroProcess& pgro) {
  const std::string listen = pgro.env().at("METRICS_LISTEN");
  const int port = std::stoi(listen.substr(listen.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[8192];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

double metricValue(const PgroProcess& pgro, const std::string& sample) {
  const std::string text = scrapeMetrics(pgro);
  const std::string needle = "\n" + sample + " ";
  const auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + needle.size()));
}

std::string usersLine(const std::string& user, const std::string& password,
                      const std::string& settings) {
  SpawnOptions o{.argv = {pgroBinary(), "passwd", user}};
  CommandResult r = runCommand(o, 30s, password + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  std::string line = r.out.substr(0, r.out.find('\n'));
  if (!settings.empty()) line += " " + settings;
  return line + "\n";
}

}  // namespace pgro::it
