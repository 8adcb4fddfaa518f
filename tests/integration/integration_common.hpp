// Shared helpers of the integration suite: the pgro binary under test in front of the
// process-wide TempPostgres, plus the SQL fixtures the tests read.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "support/pg_messages.hpp"
#include "support/pgro_process.hpp"
#include "support/raw_pg_client.hpp"
#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"

namespace pgro::it {

using namespace pgro::test;
using namespace std::chrono_literals;

// Path of the pgro executable built by this tree (PGRO_BINARY from CMake).
std::string pgroBinary();

// TempPostgres::shared() with the fixtures created once per process: table typed_values,
// table copy_target (empty), function notice_me() (STABLE, raises NOTICE 'hello'), function
// s.g(int) (IMMUTABLE, returns its argument).
TempPostgres& postgres();

// pgro in front of postgres() with pgroBaseEnv() plus `overrides`.
std::unique_ptr<PgroProcess> startPgro(const Env& overrides = {});

// Logged-in raw clients: directly to PostgreSQL as the admin, or to pgro as its proxy user.
RawPgClient connectDirect();
RawPgClient connectProxy(const PgroProcess& pgro);

// Polls pg_stat_activity (directly) until a backend other than ours runs a query
// containing `fragment`; false at the deadline.
bool waitForActiveQuery(std::string_view fragment, std::chrono::milliseconds timeout);

// True if the reply ended with ReadyForQuery and carries no ErrorResponse.
bool succeeded(const RawPgClient::Reply& reply);
std::string describe(const RawPgClient::Reply& reply);

// Lower-cases ASCII, for case-insensitive matching of log and error text.
std::string lower(std::string_view text);

// GET /metrics from pgro's METRICS_LISTEN (HTTP/1.0: the server closes after the reply),
// headers included; empty when it cannot connect.
std::string scrapeMetrics(const PgroProcess& pgro);
// The value of one sample (`name{labels}`) in the exposition, -1 when absent.
double metricValue(const PgroProcess& pgro, const std::string& sample);

// A USERS_FILE line for `user` (from `pgro passwd`), followed by `settings` (the login's
// governor limits, `name=value ...`) when given.
std::string usersLine(const std::string& user, const std::string& password,
                      const std::string& settings = {});

}  // namespace pgro::it
