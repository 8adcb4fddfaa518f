#include "policy/parameter_rules.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <unordered_map>

#include "protocol/setting_values.hpp"

namespace pgro::policy::detail {
namespace {

// The SET allowlist, one place. Everything not listed is refused with 42501: role,
// session_authorization, session_replication_role, lc_messages, any custom "x.y" name, ...
// Parameters a client needs for formatting, planning and timeouts are here; none of them
// can make a session write or read another user's data.
constexpr std::array kParameterRules = {
    // Session formatting and identity.
    ParameterRule{"application_name"},
    ParameterRule{"search_path", ValueRule::Any, false, /*list_quote=*/true},
    ParameterRule{"timezone"},
    ParameterRule{"datestyle"},
    ParameterRule{"intervalstyle"},
    ParameterRule{"extra_float_digits"},
    ParameterRule{"client_encoding", ValueRule::ClientEncoding},
    ParameterRule{"standard_conforming_strings", ValueRule::MustBeOn},
    ParameterRule{"escape_string_warning"},
    ParameterRule{"bytea_output"},
    ParameterRule{"xmloption"},
    ParameterRule{"xmlbinary"},
    ParameterRule{"array_nulls"},
    ParameterRule{"quote_all_identifiers"},
    ParameterRule{"lc_monetary"},
    ParameterRule{"lc_numeric"},
    ParameterRule{"lc_time"},
    ParameterRule{"client_min_messages"},
    ParameterRule{"default_text_search_config"},
    ParameterRule{"transform_null_equals"},
    ParameterRule{"row_security"},
    // Timeouts and memory.
    ParameterRule{"statement_timeout"},
    ParameterRule{"lock_timeout"},
    ParameterRule{"idle_in_transaction_session_timeout"},
    ParameterRule{"idle_session_timeout"},
    ParameterRule{"work_mem"},
    ParameterRule{"hash_mem_multiplier"},
    ParameterRule{"maintenance_work_mem"},
    ParameterRule{"temp_buffers"},
    // Transactions. READ WRITE in any spelling is refused.
    ParameterRule{"default_transaction_isolation"},
    ParameterRule{"transaction_isolation"},
    ParameterRule{"default_transaction_deferrable"},
    ParameterRule{"transaction_deferrable"},
    ParameterRule{"default_transaction_read_only", ValueRule::MustBeTrue},
    ParameterRule{"transaction_read_only", ValueRule::MustBeTrue},
    // Planner.
    ParameterRule{"enable_", ValueRule::Any, /*prefix=*/true},
    ParameterRule{"jit", ValueRule::Any, /*prefix=*/true},
    ParameterRule{"geqo", ValueRule::Any, /*prefix=*/true},
    ParameterRule{"random_page_cost"},
    ParameterRule{"seq_page_cost"},
    ParameterRule{"cpu_tuple_cost"},
    ParameterRule{"cpu_index_tuple_cost"},
    ParameterRule{"cpu_operator_cost"},
    ParameterRule{"parallel_setup_cost"},
    ParameterRule{"parallel_tuple_cost"},
    ParameterRule{"min_parallel_table_scan_size"},
    ParameterRule{"min_parallel_index_scan_size"},
    ParameterRule{"effective_cache_size"},
    ParameterRule{"effective_io_concurrency"},
    ParameterRule{"max_parallel_workers_per_gather"},
    ParameterRule{"force_parallel_mode"},
    ParameterRule{"plan_cache_mode"},
    ParameterRule{"cursor_tuple_fraction"},
    ParameterRule{"from_collapse_limit"},
    ParameterRule{"join_collapse_limit"},
    ParameterRule{"constraint_exclusion"},
    ParameterRule{"gin_fuzzy_search_limit"},
    ParameterRule{"recursive_worktable_factor"},
    ParameterRule{"synchronize_seqscans"},
    // pg_dump 15.8+ narrows what it reads with this; restricting further is harmless.
    ParameterRule{"restrict_nonsystem_relation_kind"},
    // The proxy's own switch, never forwarded.
    ParameterRule{"pgro.cache", ValueRule::Boolean, false, false, /*proxy_only=*/true},
};

// Extra-parameter overrides share this rule.
constexpr ParameterRule kExtraParameterRule{"", ValueRule::Any};

const std::unordered_map<std::string_view, const ParameterRule*>& exactRules() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string_view, const ParameterRule*>();
    for (const ParameterRule& rule : kParameterRules) {
      if (!rule.prefix) {
        m->emplace(rule.name, &rule);
      }
    }
    return m;
  }();
  return *map;
}

// clean_encoding_name() in PostgreSQL: keep alphanumerics, lowercase.
std::string cleanEncodingName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    }
  }
  return out;
}

// Spellings of the client encodings PostgreSQL 15 accepts (encnames.c), cleaned, minus
// SJIS, SHIFT_JIS_2004, BIG5, GBK, GB18030, UHC and JOHAB (and their Windows code-page
// aliases 932/936/949/950): in those, the second byte of a character can be 0x5C ('\') or
// other ASCII, so the server and a client could split a string literal differently.
struct EncodingName {
  std::string_view spelling;   // cleaned
  std::string_view canonical;  // as PostgreSQL reports it (pg_enc2name_tbl)
};
constexpr EncodingName kSafeEncodings[] = {
    {"abc", "WIN1258"},
    {"alt", "WIN866"},
    {"euccn", "EUC_CN"},
    {"eucjis2004", "EUC_JIS_2004"},
    {"eucjp", "EUC_JP"},
    {"euckr", "EUC_KR"},
    {"euctw", "EUC_TW"},
    {"iso88591", "LATIN1"},
    {"iso885910", "LATIN6"},
    {"iso885913", "LATIN7"},
    {"iso885914", "LATIN8"},
    {"iso885915", "LATIN9"},
    {"iso885916", "LATIN10"},
    {"iso88592", "LATIN2"},
    {"iso88593", "LATIN3"},
    {"iso88594", "LATIN4"},
    {"iso88595", "ISO_8859_5"},
    {"iso88596", "ISO_8859_6"},
    {"iso88597", "ISO_8859_7"},
    {"iso88598", "ISO_8859_8"},
    {"iso88599", "LATIN5"},
    {"koi8", "KOI8R"},
    {"koi8r", "KOI8R"},
    {"koi8u", "KOI8U"},
    {"latin1", "LATIN1"},
    {"latin10", "LATIN10"},
    {"latin2", "LATIN2"},
    {"latin3", "LATIN3"},
    {"latin4", "LATIN4"},
    {"latin5", "LATIN5"},
    {"latin6", "LATIN6"},
    {"latin7", "LATIN7"},
    {"latin8", "LATIN8"},
    {"latin9", "LATIN9"},
    {"muleinternal", "MULE_INTERNAL"},
    {"sqlascii", "SQL_ASCII"},
    {"tcvn", "WIN1258"},
    {"tcvn5712", "WIN1258"},
    {"unicode", "UTF8"},
    {"utf8", "UTF8"},
    {"vscii", "WIN1258"},
    {"win", "WIN1251"},
    {"win1250", "WIN1250"},
    {"win1251", "WIN1251"},
    {"win1252", "WIN1252"},
    {"win1253", "WIN1253"},
    {"win1254", "WIN1254"},
    {"win1255", "WIN1255"},
    {"win1256", "WIN1256"},
    {"win1257", "WIN1257"},
    {"win1258", "WIN1258"},
    {"win866", "WIN866"},
    {"win874", "WIN874"},
    {"windows1250", "WIN1250"},
    {"windows1251", "WIN1251"},
    {"windows1252", "WIN1252"},
    {"windows1253", "WIN1253"},
    {"windows1254", "WIN1254"},
    {"windows1255", "WIN1255"},
    {"windows1256", "WIN1256"},
    {"windows1257", "WIN1257"},
    {"windows1258", "WIN1258"},
    {"windows866", "WIN866"},
    {"windows874", "WIN874"},
};

bool isTrue(std::string_view value) {
  auto parsed = parsePgBool(value);
  return parsed.has_value() && *parsed;
}

}  // namespace

const ParameterRule* findParameterRule(std::string_view name, const ClassifierOptions& options) {
  const auto& exact = exactRules();
  if (auto it = exact.find(name); it != exact.end()) {
    return it->second;
  }
  for (const ParameterRule& rule : kParameterRules) {
    if (rule.prefix && name.starts_with(rule.name)) {
      return &rule;
    }
  }
  // Overrides may add parameters, never relax the rules above.
  if (std::find(options.extra_parameters.begin(), options.extra_parameters.end(), name) !=
      options.extra_parameters.end()) {
    return &kExtraParameterRule;
  }
  return nullptr;
}

std::optional<bool> parsePgBool(std::string_view value) {
  // parse_bool_with_len() in src/backend/utils/adt/bool.c, byte for byte.
  auto prefixOf = [&](std::string_view word) {
    if (value.empty() || value.size() > word.size()) {
      return false;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      char c = value[i];
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
      if (c != word[i]) {
        return false;
      }
    }
    return true;
  };
  if (value.empty()) {
    return std::nullopt;
  }
  switch (value[0]) {
    case 't':
    case 'T':
      if (prefixOf("true")) {
        return true;
      }
      break;
    case 'f':
    case 'F':
      if (prefixOf("false")) {
        return false;
      }
      break;
    case 'y':
    case 'Y':
      if (prefixOf("yes")) {
        return true;
      }
      break;
    case 'n':
    case 'N':
      if (prefixOf("no")) {
        return false;
      }
      break;
    case 'o':
    case 'O':
      // "o" alone is ambiguous: "on" must be complete, "of" is enough for off.
      if (value.size() == 2 && prefixOf("on")) {
        return true;
      }
      if (value.size() >= 2 && prefixOf("off")) {
        return false;
      }
      break;
    case '1':
      if (value.size() == 1) {
        return true;
      }
      break;
    case '0':
      if (value.size() == 1) {
        return false;
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

std::string quoteIdentifier(std::string_view ident) {
  bool safe = !ident.empty() && ((ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_');
  for (char c : ident) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      safe = false;
    }
  }
  if (safe) {
    return std::string(ident);
  }
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::optional<std::string_view> canonicalClientEncoding(std::string_view encoding) {
  const std::string clean = cleanEncodingName(encoding);
  for (const EncodingName& name : kSafeEncodings) {
    if (name.spelling == clean) return name.canonical;
  }
  return std::nullopt;
}

bool isSafeClientEncoding(std::string_view encoding) {
  return canonicalClientEncoding(encoding).has_value();
}

namespace {

std::string memoryText(double kb) {
  const auto whole = static_cast<std::int64_t>(kb);
  if (whole % (1024 * 1024) == 0) return std::to_string(whole / 1024 / 1024) + "GB";
  if (whole % 1024 == 0) return std::to_string(whole / 1024) + "MB";
  return std::to_string(whole) + "kB";
}

// The operator's ceilings on work_mem-class settings (MAX_WORK_MEM & co.). Resetting is
// always allowed: it returns to the server's own value.
MaybeDenial checkCeiling(std::string_view name, std::string_view value,
                         const ClassifierOptions& options) {
  std::int64_t ceiling_kb = 0;
  const char* setting = nullptr;
  if (name == "work_mem") {
    ceiling_kb = options.max_work_mem_kb;
    setting = "MAX_WORK_MEM";
  } else if (name == "maintenance_work_mem") {
    ceiling_kb = options.max_maintenance_work_mem_kb;
    setting = "MAX_MAINTENANCE_WORK_MEM";
  } else if (name == "hash_mem_multiplier") {
    if (options.max_hash_mem_multiplier <= 0) return std::nullopt;
    const auto v = protocol::parseRealSetting(value);
    if (!v) {
      return parameterDenial(
          name, "pgro cannot read the value \"" + std::string(value) + "\" as a number");
    }
    if (*v > options.max_hash_mem_multiplier) {
      std::string ceiling = std::to_string(options.max_hash_mem_multiplier);
      while (ceiling.back() == '0') ceiling.pop_back();
      if (ceiling.back() == '.') ceiling.pop_back();
      return parameterDenial(name,
                             "the value is above pgro's MAX_HASH_MEM_MULTIPLIER (" + ceiling + ")");
    }
    return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (ceiling_kb <= 0) return std::nullopt;
  const auto kb = protocol::parseMemoryKb(value);
  if (!kb) {
    return parameterDenial(name, "pgro cannot read the value \"" + std::string(value) +
                                     "\" as a memory size (use e.g. 64MB)");
  }
  if (*kb > static_cast<double>(ceiling_kb)) {
    return parameterDenial(name, std::string("the value is above pgro's ") + setting + " (" +
                                     memoryText(static_cast<double>(ceiling_kb)) + ")");
  }
  return std::nullopt;
}

}  // namespace

SettingCheck checkSetting(std::string_view name, std::optional<std::string_view> value,
                          bool is_local, const ClassifierOptions& options) {
  SettingCheck result;
  std::string lower = lowercase(name);
  if (lower == "role" || lower == "session_authorization") {
    result.denial = parameterDenial(lower, "pgro sessions cannot change role");
    return result;
  }
  const ParameterRule* rule = findParameterRule(lower, options);
  if (rule == nullptr) {
    result.denial = parameterDenial(lower, "it is not on pgro's allowlist");
    return result;
  }
  // Measured on PostgreSQL 15 in a session started with default_transaction_read_only=on:
  // `RESET transaction_read_only`, `SET transaction_read_only TO DEFAULT` and
  // set_config('transaction_read_only', NULL, ...) make the transaction READ WRITE (its reset
  // value is off), even inside an implicit transaction: refused. Resetting
  // default_transaction_read_only returns it to pgro's startup option `-c
  // default_transaction_read_only=on` (psycopg2 sends SET ... TO DEFAULT when a pooled
  // connection leaves read-only mode): allowed, and the tripwire watches its reported value.
  if (!value.has_value() && rule->rule == ValueRule::MustBeTrue &&
      lower != "default_transaction_read_only") {
    result.denial = readWriteDenial(lower);
    return result;
  }
  if (value.has_value()) {
    switch (rule->rule) {
      case ValueRule::Any:
        break;
      case ValueRule::MustBeTrue:
        if (!isTrue(*value)) {
          result.denial = readWriteDenial(lower);
          return result;
        }
        break;
      case ValueRule::MustBeOn:
        if (!isTrue(*value)) {
          result.denial = parameterDenial(lower, "only on is allowed");
          return result;
        }
        break;
      case ValueRule::ClientEncoding:
        if (!isSafeClientEncoding(*value)) {
          result.denial =
              parameterDenial(lower,
                              "this encoding is not allowed (multi-byte characters may contain "
                              "ASCII quote or backslash bytes, or the name is unknown)");
          return result;
        }
        break;
      case ValueRule::Boolean:
        if (!parsePgBool(*value).has_value()) {
          result.denial = parameterDenial(lower, "the value must be on or off");
          return result;
        }
        break;
    }
  }
  if (value.has_value()) {
    if (auto denial = checkCeiling(lower, *value, options)) {
      result.denial = std::move(denial);
      return result;
    }
  }
  result.action.value = value.has_value() ? std::string(*value) : std::string();
  if (value.has_value() && rule->rule == ValueRule::ClientEncoding) {
    // As PostgreSQL reports it ("utf-8" -> "UTF8"): the client and the pool see one name.
    result.action.value = std::string(*canonicalClientEncoding(*value));
  }
  result.action.name = std::move(lower);
  result.action.is_local = is_local;
  result.action.is_reset = !value.has_value();
  result.action.proxy_only = rule->proxy_only;
  return result;
}

}  // namespace pgro::policy::detail

namespace pgro::policy {

bool settingChangesResults(std::string_view name) {
  // Allowlisted settings that only change limits, logging or the session's label; every
  // other setting (a new one too) keeps cached answers apart.
  static constexpr std::string_view kNeutral[] = {
      "application_name",      "client_min_messages",
      "escape_string_warning", "statement_timeout",
      "lock_timeout",          "idle_in_transaction_session_timeout",
      "idle_session_timeout",  "work_mem",
      "hash_mem_multiplier",   "maintenance_work_mem",
      "temp_buffers",
  };
  const std::string lower = detail::lowercase(name);
  return std::find(std::begin(kNeutral), std::end(kNeutral), lower) == std::end(kNeutral);
}

}  // namespace pgro::policy
