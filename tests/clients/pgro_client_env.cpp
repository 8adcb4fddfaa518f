// pgro_client_env: runs one real-driver suite against pgro.
//
//   pgro_client_env [--timeout SECONDS] [--pool-mode transaction|session]
//                   [--pgro-env NAME=VALUE]... -- COMMAND [ARGS...]
//
// Starts a throwaway PostgreSQL 15 (TempPostgres), creates the fixture schema directly as
// the admin, starts the pgro binary in front of it in the given pool mode (transaction by
// default) with POOL_SIZE=4 (25 in session mode) and ALLOW_PG_SLEEP=true, then runs COMMAND with:
//   PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE        pgro (the proxy's own login)
//   PGRO_DIRECT_HOST/_PORT/_USER/_PASSWORD/_DATABASE  PostgreSQL itself, for comparisons
//   PGRO_LOG, PGRO_PG_LOG                             pgro's and PostgreSQL's log files
//   PGRO_CLIENT_TMP                                   a scratch directory (also the cwd)
//   PGRO_POOL_SIZE                                    the pool size pgro was started with
//   PGRO_POOL_MODE                                    the pool mode pgro was started with
// and exits with COMMAND's exit code. --pgro-env adds or overrides one variable of pgro's
// environment (e.g. CACHE_ENABLED=false to tell a cache bug from a pooling one). On failure (or
// timeout: exit 124) the tail of pgro's log is printed. The suites' stdout and stderr go straight
// to ours (ctest keeps them).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "support/pgro_process.hpp"
#include "support/run_command.hpp"
#include "support/temp_postgres.hpp"

#ifndef PGRO_BINARY
#error "PGRO_BINARY must be defined to the path of the pgro executable"
#endif

namespace {

using pgro::test::Env;

// Transaction pooling shares 4 server connections between all of a suite's clients; session
// pooling gives each client its own, so it gets room for a suite's 20 concurrent clients.
constexpr int kTransactionPoolSize = 4;
constexpr int kSessionPoolSize = 25;

// Fixture schema, created as the admin directly on PostgreSQL (never through pgro).
constexpr const char* kFixtureSql = R"sql(
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'pgro client-suite fixture';

CREATE TABLE public.big (
  id     integer PRIMARY KEY,
  grp    integer NOT NULL,
  label  text NOT NULL,
  amount numeric(12,2) NOT NULL
);
INSERT INTO public.big
  SELECT g, g % 100, 'row-' || g, (g * 1.25)::numeric(12,2)
  FROM generate_series(1, 100000) AS g;
CREATE INDEX big_grp_idx ON public.big (grp);
COMMENT ON TABLE public.big IS '100k rows for large-result tests';

CREATE TABLE public.typed (
  id            integer PRIMARY KEY,
  c_int         integer,
  c_bigint      bigint,
  c_numeric     numeric,
  c_float8      double precision,
  c_text        text,
  c_bytea       bytea,
  c_bool        boolean,
  c_date        date,
  c_timestamptz timestamptz,
  c_interval    interval,
  c_uuid        uuid,
  c_json        json,
  c_jsonb       jsonb,
  c_int_arr     integer[],
  c_text_arr    text[]
);
INSERT INTO public.typed VALUES
  (1, 42, 9000000000, 3.14159, 2.5, 'plain text', '\x0102', true, '2024-02-29',
   '2024-02-29 12:34:56.789012+00', '1 day 02:03:04', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": 1, "b": [true, null]}', '{"k": "v", "n": 1.5}', '{1,2,3}', '{x,y}'),
  (2, -2147483648, 9223372036854775807, 12345678901234567890.123456789012, 'NaN',
   E'h\u00e9llo \u2713 "quoted" \\backslash\ttab', '\x00ff10', false, '1999-12-31',
   '2000-01-01 00:00:00.123456+00', '1 year 2 mons 3 days 04:05:06.789',
   '00000000-0000-0000-0000-000000000000', '{"b": 1,  "a": [1, 2]}', '{"b": 1, "a": [1, 2]}',
   '{1,NULL,3}', '{"a b",NULL,"c,d","\"q\""}'),
  (3, 2147483647, -9223372036854775808, 'NaN', 'Infinity', '', '\x', true, '0001-01-01',
   '1970-01-01 00:00:00+00', '-1 days -00:00:01', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
   '[]', '[]', '{}', '{}'),
  (4, 0, 0, -0.000001, '-Infinity', 'line1
line2', '\x5c27', false, '2038-01-19', '2038-01-19 03:14:07+00', '0 seconds',
   '6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'null', '"str"', '{-1,0,1}', '{""}'),
  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE app.events (
  id      serial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
  kind    text NOT NULL CHECK (kind <> ''),
  payload jsonb
);
INSERT INTO app.events (kind, payload)
  SELECT 'kind-' || (g % 3), jsonb_build_object('g', g) FROM generate_series(1, 50) AS g;
CREATE INDEX events_kind_idx ON app.events (kind);

CREATE VIEW app.big_summary AS
  SELECT grp, count(*) AS n, sum(amount) AS total FROM public.big GROUP BY grp;
CREATE FUNCTION app.add_one(x integer) RETURNS integer
  LANGUAGE sql IMMUTABLE AS 'SELECT x + 1';
ANALYZE;
)sql";

std::string tail(const std::string& text, std::size_t n) {
  return text.size() > n ? "...\n" + text.substr(text.size() - n) : text;
}

int usage() {
  std::cerr << "usage: pgro_client_env [--timeout SECONDS] [--pool-mode transaction|session] "
               "[--pgro-env NAME=VALUE]... -- COMMAND [ARGS...]\n";
  return 2;
}

int run(int argc, char** argv) {
  int timeout_seconds = 270;
  std::string pool_mode = "transaction";
  std::vector<std::string> command;
  Env pgro_env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--timeout" && i + 1 < argc) {
      timeout_seconds = std::stoi(argv[++i]);
    } else if (arg == "--pool-mode" && i + 1 < argc) {
      pool_mode = argv[++i];
      if (pool_mode != "transaction" && pool_mode != "session") return usage();
    } else if (arg == "--pgro-env" && i + 1 < argc) {
      std::string kv = argv[++i];
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return usage();
      pgro_env[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (arg == "--") {
      command.assign(argv + i + 1, argv + argc);
      break;
    } else {
      return usage();
    }
  }
  if (command.empty()) return usage();

  auto t0 = std::chrono::steady_clock::now();
  pgro::test::TempPostgres pg;
  pg.execDirect(kFixtureSql);

  const int pool_size = pool_mode == "session" ? kSessionPoolSize : kTransactionPoolSize;
  Env overrides{{"POOL_MODE", pool_mode},
                {"POOL_SIZE", std::to_string(pool_size)},
                {"PROXY_USER", pgro::test::kProxyUser},
                {"PROXY_PASSWORD", pgro::test::kProxyPassword},
                {"LOG_LEVEL", "debug"},
                // The suites cancel a pg_sleep in flight (the drivers' cancel paths).
                {"ALLOW_PG_SLEEP", "true"}};
  if (const char* level = std::getenv("PGRO_CLIENTS_LOG_LEVEL")) overrides["LOG_LEVEL"] = level;
  for (const auto& [k, v] : pgro_env) overrides[k] = v;
  pgro::test::PgroProcess pgro(PGRO_BINARY, pg, overrides);

  std::string scratch = pgro::test::makeTempDir("pgro-clients");
  Env env = pgro.libpqEnv();
  env.erase("PGSSLMODE");  // drivers use their default (prefer): pgro answers SSLRequest 'N'
  env["PGRO_DIRECT_HOST"] = pg.host();
  env["PGRO_DIRECT_PORT"] = std::to_string(pg.port());
  env["PGRO_DIRECT_USER"] = pg.user();
  env["PGRO_DIRECT_PASSWORD"] = pg.password();
  env["PGRO_DIRECT_DATABASE"] = pg.database();
  env["PGRO_LOG"] = pgro.logPath();
  env["PGRO_PG_LOG"] = pg.logPath();
  env["PGRO_CLIENT_TMP"] = scratch;
  env["PGRO_POOL_SIZE"] = std::to_string(pool_size);
  env["PGRO_POOL_MODE"] = pool_mode;
  auto setup_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "pgro_client_env: PostgreSQL on port " << pg.port() << ", pgro (pid " << pgro.pid()
            << ") on port " << pgro.port() << " (" << pool_mode << " pooling), setup " << setup_ms
            << " ms" << std::endl;

  pgro::test::SpawnOptions spawn;
  spawn.argv = command;
  spawn.env = env;
  spawn.inherit_env = true;
  spawn.cwd = scratch;
  pid_t child = pgro::test::spawnProcess(spawn);
  auto code = pgro::test::waitForExit(child, std::chrono::seconds(timeout_seconds));
  int exit_code = 0;
  if (!code) {
    pgro::test::killAndReap(child);
    std::cerr << "pgro_client_env: command still running after " << timeout_seconds
              << " s: killed\n";
    exit_code = 124;
  } else {
    exit_code = *code;
  }
  if (exit_code != 0) {
    std::cerr << "pgro_client_env: command exited with " << exit_code << "\n"
              << "---- pgro log (pid " << pgro.pid() << ", port " << pgro.port() << ") ----\n"
              << tail(pgro.log(), 20000) << "---- end of pgro log ----\n";
  }
  if (!pgro.running()) {
    std::cerr << "pgro_client_env: pgro exited during the suite (crash?)\n"
              << tail(pgro.log(), 20000) << "\n";
    if (exit_code == 0) exit_code = 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pgro_client_env: " << e.what() << "\n";
    return 3;
  }
}
