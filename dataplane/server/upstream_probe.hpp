// What pgro learns from the upstream through libpq (libpqxx), apart from the wire-protocol
// sessions: the startup check of UPSTREAM_USER and UPSTREAM_ROLE, and the function catalog
// (pg_proc, pg_operator) the function policy judges calls by.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "policy/classifier.hpp"
#include "session/catalog_refresher.hpp"

namespace pgro::server {

// The role UPSTREAM_ROLE=auto runs as: reads every table, writes none (PostgreSQL 14+).
constexpr std::string_view kAutoRole = "pg_read_all_data";

// What the startup check learns from the server about UPSTREAM_USER and the role it would run
// as (pg_read_all_data for UPSTREAM_ROLE=auto).
struct UpstreamFacts {
  std::string version;  // server_version
  int version_num = 0;  // server_version_num
  bool account_is_superuser = false;
  bool role_exists = false;
  bool role_usable = false;  // the account may SET ROLE to it
  bool role_is_superuser = false;
};

// The seed's connectivity check, as the account itself (no role yet): one query. nullopt,
// logged, when the upstream cannot be reached.
std::optional<UpstreamFacts> checkUpstream(const config::Config& cfg);

// UPSTREAM_ROLE made concrete: the role every upstream session runs as ("" = the account's
// own privileges), or nullopt when a role named explicitly cannot be used (pgro does not
// start). Logs which role is in effect.
std::optional<std::string> resolveUpstreamRole(const config::Config& cfg,
                                               const UpstreamFacts& facts);

// pg_proc's volatility for the function policy (a volatile function not on the safe list
// is refused), through libpqxx.
// pg_proc for the function policy. Built-in functions (oid < 16384, FirstNormalObjectId)
// need only their name and volatility; for the others the catalog needs what they run:
// the body of LANGUAGE sql (prosrc; for a BEGIN ATOMIC or RETURN body, PostgreSQL 14+, the
// statements as pg_get_functiondef prints them, a RETURN expression as a SELECT), the
// whole definition of plpgsql (the PL/pgSQL compiler wants argument names and return type),
// and for aggregates `SELECT s.f(), ...` naming their support functions. Bodies of built-ins
// and of other languages are not fetched, which keeps the snapshot small.
struct LoadedCatalog {
  std::vector<policy::FunctionInfo> functions;
  std::vector<policy::OperatorInfo> operators;
  std::string fingerprint;  // kCatalogFingerprint, read before the functions
};

// The whole catalog, read as `role` (nullopt and `error` when the upstream fails).
std::optional<LoadedCatalog> loadCatalog(const config::Config& cfg, const std::string& role,
                                         std::string& error);

// Puts a catalog the look-up loaded again in force (for every loop).
using InstallCatalog = std::function<void(const LoadedCatalog&)>;

// The catalog's look-up on demand (CatalogRefresher, on its thread): does pg_proc now have any
// of the names asked for, or has it changed since the installed catalog was read (its
// `fingerprint`)? If so, the whole catalog is loaded again and given to `install`.
session::CatalogRefresher::Lookup catalogLookup(std::shared_ptr<const config::Config> cfg,
                                                std::string role, std::string fingerprint,
                                                InstallCatalog install);

}  // namespace pgro::server
