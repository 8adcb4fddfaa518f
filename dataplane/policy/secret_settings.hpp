// Internal: server settings whose values may hold a credential, and the reads that reach them.
//
// PostgreSQL hides primary_conninfo and ssl_passphrase_command from roles without
// pg_read_all_settings, but not restore_command, archive_command, archive_cleanup_command or
// recovery_end_command, which often carry a password (scp, an S3 key, a conninfo), nor the
// custom settings of extensions and applications (anon.salt, myapp.api_token). Every role
// can read them with SHOW, current_setting() and pg_settings, so pgro refuses those reads
// itself: by name where the name is a constant, and fail closed where it is not.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pg_query.pb.h"
#include "policy/denial.hpp"

namespace pgro::policy::detail {

// Whether a setting (any case) may hold a credential: the *_command settings, conninfo,
// and every name that says password, secret, key, token, salt or credential.
bool isSecretSetting(std::string_view name);

// 42501 for reading `name`, or "every setting" when the read is not by name.
Denial secretSettingDenial(std::string_view name);

// pg_settings, schema-less or in pg_catalog.
bool isSettingsRelation(const pg_query::RangeVar& range);

// Whether `select`'s WHERE has a top-level conjunct that keeps `range` (one of its FROM
// items) to constant, non-secret names: name = 'work_mem', s.name IN ('a', 'b').
bool selectsNamedSettings(const pg_query::SelectStmt& select, const pg_query::RangeVar& range);

// For a `name` or `q.name` column reference: its qualifier ("" when unqualified). nullopt
// for anything else.
std::optional<std::string> nameColumnQualifier(const pg_query::Node& node);

// The pg_settings columns that carry a value: setting, reset_val, boot_val.
bool isSettingValueColumn(std::string_view column);

}  // namespace pgro::policy::detail
