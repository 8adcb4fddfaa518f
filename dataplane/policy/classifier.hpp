// The read-only classifier: DESIGN.md section 3, layers 2 (statements), 3 (functions) and
// 4 (session parameters). A pure function of the SQL text and the options: no I/O, no
// globals that change, safe to call from any thread at the same time.
//
// classify() parses with libpg_query (PostgreSQL 15's own grammar, never regexes), walks
// every node of every statement and answers allowed / refused (with the SQLSTATE and the
// message the client must see) plus the facts the session and the result cache need.
// checkParameter() applies the same SET rules to startup parameters and `options -c`.
//
// Where to add a rule: statement kinds in statement_rules.cpp, functions in the table of
// function_table.cpp, parameters in the table of parameter_rules.cpp, relations (secrets,
// live system views) in tree_rules.cpp. Every rule has a unit test in tests/unit/policy and
// attack strings in tests/security/refuse.sql.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgro::policy {

// Why a string was refused. Each kind has one SQLSTATE (Verdict::sqlstate).
enum class Refusal : std::uint8_t {
  None,
  Write,               // 25006 read_only_sql_transaction: the statement writes or changes state
  ForbiddenFunction,   // 42501 insufficient_privilege: a denied or unknown-volatile function
  ForbiddenParameter,  // 42501: SET of a parameter or value outside the allowlist, READ WRITE
  SecretRead,          // 42501: pg_authid, pg_shadow, pg_user_mapping(s)
  ParseError,          // 42601 syntax_error, with PostgreSQL's parser message and position
  Unsupported,         // 0A000 feature_not_supported: valid SQL pgro cannot serve safely
  TooComplex,          // 54001 statement_too_complex: nesting beyond what is parsed safely
  // 42883 undefined_function: a function the loaded catalog does not know (created after it
  // was loaded, or not existing at all). The session looks the names up again
  // (Verdict::unknown_functions) and classifies once more; still unknown: refused.
  UnknownFunction,
  // 42501: pg_sleep, pg_sleep_for or pg_sleep_until while ALLOW_PG_SLEEP is off (the query
  // governor: a sleeping statement holds a pooled server connection).
  Sleep,
};

// Stable lowercase name of a refusal kind, for metric labels and logs ("write", ...).
std::string_view refusalName(Refusal refusal);

// One parameter change the session must track (and replay on another server connection
// in transaction pooling). Apply it only after PostgreSQL accepted the statement.
struct SetAction {
  std::string name;  // lowercased ("timezone", "search_path", "pgro.cache"); "" for RESET ALL
  // The value as PostgreSQL stores it: SET's argument list flattened the way PostgreSQL
  // does (`SET search_path = a, "B"` -> `a, "B"`), or set_config()'s text argument.
  // Replaying it as `SELECT pg_catalog.set_config(name, value, is_local)` is exact.
  // Empty for resets.
  std::string value;
  bool is_local = false;      // SET LOCAL, SET TRANSACTION, set_config(..., true)
  bool is_reset = false;      // RESET name, SET name TO DEFAULT, set_config(name, NULL, ...)
  bool is_reset_all = false;  // RESET ALL
  bool proxy_only = false;    // a pgro.* parameter: the session handles it, never forwarded
};

// A named SQL-level prepared statement: the PREPARE text to replay on another connection.
struct PreparedSql {
  std::string name;
  std::string sql;  // the whole `PREPARE name (...) AS ...` statement, as the client sent it
};

// A statement about the client's own session state that pgro answers for the client
// (under transaction pooling the server connection is shared): DEALLOCATE and DISCARD.
struct SessionStatement {
  enum class Kind : std::uint8_t {
    Deallocate,     // DEALLOCATE name
    DeallocateAll,  // DEALLOCATE ALL
    DiscardAll,
    DiscardPlans,
    DiscardSequences,
    DiscardTemp,
  };
  Kind kind = Kind::Deallocate;
  std::string name;        // Deallocate: the statement name
  int index = 0;           // which statement of the string (0-based)
  std::size_t at = 0;      // its text: byte offset and length in the string
  std::size_t length = 0;  // (without the `;` that ends it)
};

// What the string does, beyond allowed/refused (all statements of the string together).
struct StatementKinds {
  bool has_transaction_control = false;  // BEGIN/START/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/...
  bool begins_transaction = false;       // BEGIN, START TRANSACTION, COMMIT/ROLLBACK AND CHAIN
  bool ends_transaction = false;         // COMMIT/END, ROLLBACK/ABORT (not ROLLBACK TO)
  bool has_savepoint = false;            // SAVEPOINT, RELEASE, ROLLBACK TO
  // Isolation level requested by BEGIN/START/SET TRANSACTION, lowercased ("serializable",
  // "repeatable read", ...); empty when none was requested.
  std::string isolation;
  bool has_set = false;                  // SET/RESET/SET TRANSACTION/SET SESSION ..., set_config()
  bool has_show = false;                 // SHOW
  bool has_explain = false;              // EXPLAIN (ANALYZE only of allowed queries)
  bool has_lock = false;                 // LOCK ... IN ACCESS SHARE MODE
  bool has_copy_out = false;             // COPY ... TO STDOUT: the answer is a CopyOut stream
  bool declares_cursor = false;          // DECLARE
  bool uses_cursor = false;              // FETCH, MOVE, CLOSE
  std::vector<std::string> holds;        // DECLARE name ... WITH HOLD: outlives the transaction
  std::vector<std::string> closes;       // CLOSE name
  bool closes_all = false;               // CLOSE ALL
  bool seeds_random = false;             // calls setseed(), in any spelling
  std::vector<PreparedSql> prepares;     // PREPARE
  std::vector<std::string> executes;     // EXECUTE name, EXPLAIN EXECUTE name
  std::vector<std::string> deallocates;  // DEALLOCATE name
  bool deallocates_all = false;          // DEALLOCATE ALL
  std::vector<SessionStatement> session_statements;  // DEALLOCATE, DISCARD, in string order
};

// A change the session makes to the text before it goes upstream: `length` bytes at byte
// offset `at` become `text`.
struct TextEdit {
  std::size_t at = 0;
  std::size_t length = 0;
  std::string text;
};

// One statement of a string of several: its text, a byte offset and length in the string,
// without the whitespace around it and the `;` that ends it.
struct StatementSpan {
  std::size_t at = 0;
  std::size_t length = 0;
};

struct Verdict {
  bool allowed = true;
  Refusal refusal = Refusal::None;
  std::string_view sqlstate;  // "" when allowed; otherwise "25006", "42501", ... (static)
  // For ErrorResponse: e.g. "Write operations are not permitted: INSERT statements are not
  // allowed", "permission denied for function pg_read_file: ...".
  std::string message;
  int position = 0;  // parse errors: 1-based character position (ErrorResponse 'P'), else 0

  // A read whose result may be cached: only SELECT/VALUES/TABLE (and WITH of them), no
  // volatile or time/session-dependent function, no monitoring view, no TABLESAMPLE
  // without REPEATABLE, and no `/* pgro:nocache */` marker in the text.
  bool cacheable = false;
  // Cacheable statements only: the TTL its `/* pgro:ttl=... */` hint asks for. It holds for
  // every text of the same numeric shape (a hint is a comment, which the shape keeps
  // verbatim). See also `fingerprint`, below, which the cache rules (cache_rules.hpp) match on.
  std::optional<std::chrono::milliseconds> hint_ttl;
  // Exactly `SELECT pgro_cache_reset()` or `SELECT rustproxy_cache_reset()` (any case,
  // spacing, comments, optional `;`): the proxy answers it itself and clears its cache.
  bool is_cache_reset = false;
  std::vector<SetAction> sets;  // in statement order
  // Applied to the text before it goes upstream (applyEdits), in order of `at`, never
  // overlapping: `BEGIN READ WRITE` (lib/pq's every transaction) goes up as `BEGIN READ ONLY`.
  std::vector<TextEdit> edits;
  StatementKinds kinds;
  int statement_count = 0;  // 0 for an empty string or only comments (EmptyQueryResponse)
  // A string of several statements (statement_count > 1, allowed or refused): each one's text,
  // in order, so the audit log and the query statistics see statements, not strings. Empty
  // for one statement, and for a string that does not parse.
  std::vector<StatementSpan> statements;
  // A refused string of several statements: which one (0-based) the refusal is about; -1 when
  // it is about the string as a whole (it does not parse, or is too long).
  int refused_statement = -1;
  // This verdict holds for every text of the same numeric shape (shape.hpp): one allowed
  // SELECT that sets nothing and is not the cache reset. No rule may read the value of a
  // numeric constant in such a statement (the only ones that do, SET and set_config(),
  // produce `sets`, which rules shape_safe out); a new rule that does must clear it.
  bool shape_safe = false;
  // UnknownFunction: the called names the catalog does not know, lowercase, schema-qualified
  // when the call was ("w", "ext.kill_it"), each once, in order of appearance.
  std::vector<std::string> unknown_functions;
  // Calls an extension or user function (allowed or refused): its judgement comes from a
  // pg_proc snapshot that a CREATE OR REPLACE may have outdated (the session checks that the
  // snapshot is current first, CATALOG_CHECK_INTERVAL_MS).
  bool calls_user_functions = false;
  // libpg_query's fingerprint of the whole text (fingerprint.hpp), when the text parses and is
  // cacheable (the cache rules match on it) or ClassifierOptions::fingerprint asked for it
  // (query-shape statistics). The same for every text of the same numeric shape (constants
  // do not change a fingerprint), so a shape_safe verdict may carry it to them.
  std::optional<std::uint64_t> fingerprint;
};

// One row of pg_proc, optional. Load it with (see loadCatalog in main.cpp)
//   SELECT n.nspname, p.proname, p.provolatile, p.oid < 16384, l.lanname, <body>
//   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
//   JOIN pg_catalog.pg_language l ON l.oid = p.prolang
// Immutable once built: share one instance between threads through a
// std::shared_ptr<const FunctionCatalog>.
struct FunctionInfo {
  std::string schema;
  std::string name;
  char volatility = 'v';  // pg_proc.provolatile: 'i' immutable, 's' stable, 'v' volatile
  // oid < 16384 (FirstNormalObjectId): the PostgreSQL release's own function, judged by the
  // reviewed function table and its volatility. Every other function (extensions', users')
  // is judged by what it is, whatever its volatility label.
  bool builtin = false;
  std::string language;  // pg_language.lanname: "sql", "plpgsql", "c", ...; "aggregate"
  // What the function runs, for judging it: LANGUAGE sql, prosrc ("" for a BEGIN ATOMIC
  // body, which is refused); plpgsql, the whole CREATE FUNCTION text (pg_get_functiondef);
  // "aggregate", `SELECT s.f(), ...` naming its support functions. Empty for the others.
  std::string body;
};

// One row of pg_operator with the function it calls (see loadCatalog in main.cpp).
struct OperatorInfo {
  std::string symbol;    // oprname
  bool builtin = false;  // oid < 16384
  std::string function_schema;
  std::string function_name;
  std::string function_language;  // pg_language.lanname of the function
};

class FunctionCatalog {
 public:
  struct Entry {
    std::string schema;
    char volatility = 'i';  // the most volatile built-in overload ('i' when none is built in)
    // Every extension or user overload of this name in this schema was judged read-only
    // (its body, the reviewed list of extension functions or READ_ONLY_FUNCTIONS); when
    // not, `reason` says why. Overloads cannot be told apart by name: one refused overload
    // refuses the name.
    bool read_only = true;
    bool uncacheable = false;  // an extension/user overload is volatile or calls such
    // An extension or user overload exists: its judgement holds only while pg_proc is as
    // loaded (the session checks the catalog's fingerprint before such calls run).
    bool user_defined = false;
    std::string reason;
  };

  // `read_only_functions`: the operator's allowlist (READ_ONLY_FUNCTIONS), names with an
  // optional schema ("f", "s.f"), for extension and user functions of any language.
  // `allow_pg_sleep`: whether a body may call pg_sleep (ClassifierOptions::allow_pg_sleep).
  // Judges every function once, here: a call then costs one hash lookup.
  // `operators`: pg_operator; an extension or user operator is judged by the function it
  // calls when that function is written in SQL or a procedural language (C operators of
  // extensions are comparisons, and their functions are not on the reviewed list by name).
  explicit FunctionCatalog(const std::vector<FunctionInfo>& functions,
                           const std::vector<std::string>& read_only_functions = {},
                           const std::vector<OperatorInfo>& operators = {},
                           bool allow_pg_sleep = false);

  // Every schema that has a function of this (lowercase) name, nullptr if none.
  [[nodiscard]] const std::vector<Entry>* find(std::string_view name) const;

  struct OperatorEntry {
    bool user_defined = false;  // an extension or user operator has this symbol
    std::string refusal;        // non-empty: one of them calls a function judged not read-only
  };
  // What the catalog knows of an operator symbol, nullptr if no operator has it.
  [[nodiscard]] const OperatorEntry* findOperator(std::string_view symbol) const;
  // Whether pg_operator was loaded (a catalog built without it knows no operator at all).
  [[nodiscard]] bool hasOperators() const { return !operators_.empty(); }
  [[nodiscard]] std::size_t size() const { return by_name_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<Entry>, Hash, std::equal_to<>> by_name_;
  std::unordered_map<std::string, OperatorEntry, Hash, std::equal_to<>> operators_;
};

struct ClassifierOptions {
  // pg_proc, judged. Without it, only the built-in denylist applies to functions (a
  // user-defined function that writes is then caught only by the upstream role and
  // read-only transaction); with it, every volatile built-in outside the safe list and
  // every extension or user function not judged read-only is refused, and a call of a name
  // it does not know is refused as UnknownFunction (fail closed) unless a fresh catalog
  // knows it (the session looks the name up).
  const FunctionCatalog* catalog = nullptr;
  // Overrides, all lowercase and schema-less:
  std::vector<std::string> extra_denied_functions;  // refused like the built-in denylist
  std::vector<std::string> extra_safe_functions;    // volatile in the catalog, allowed anyway
  std::vector<std::string> extra_parameters;        // SET-able with any value
  // pg_sleep, pg_sleep_for and pg_sleep_until (any schema, any spelling) are refused unless
  // set (ALLOW_PG_SLEEP): a sleeping statement holds a pooled server connection and does
  // nothing else, so a few clients could take the whole pool with it.
  bool allow_pg_sleep = false;
  // Ceilings on the values a client may give work_mem and maintenance_work_mem (kB) and
  // hash_mem_multiplier (MAX_WORK_MEM & co.); 0 = none. A value above one, or that pgro
  // cannot read as PostgreSQL would, is refused (42501).
  std::int64_t max_work_mem_kb = 0;
  std::int64_t max_maintenance_work_mem_kb = 0;
  double max_hash_mem_multiplier = 0;
  // A function call whose name the catalog does not know is refused. Set while function
  // bodies are judged (a body that calls a function created later must wait for a reload).
  bool refuse_unknown_functions = false;
  // Longest SQL string classified at all (longer: TooComplex). Strings longer than a few
  // kilobytes are parsed on a helper thread with a stack sized for them, because
  // libpg_query recurses once per nesting level (`1+1+...+1` is nesting).
  std::size_t max_query_bytes = 4U << 20;
  // Verdict::fingerprint is filled in (query-shape statistics are on): one more parse of
  // each text the verdict cache does not know.
  bool fingerprint = false;
};

// Classify one simple-Query string (or one Parse message's text). Never throws on any
// input except std::bad_alloc. Uses up to ~2 MB of the caller's stack; strings that could
// nest deeper are parsed on a short-lived helper thread with a larger stack (see
// parser_stack.hpp), and chains too deep to parse cheaply are refused (TooComplex).
// With the extended protocol, apply `sets` when the statement is executed, not parsed.
[[nodiscard]] Verdict classify(std::string_view sql, const ClassifierOptions& options = {});

// Whether a session setting can change the bytes of a result (and so belongs in a result
// cache key). Fail closed: true for every name but the few known not to (application_name,
// timeouts, memory sizes, client_min_messages).
[[nodiscard]] bool settingChangesResults(std::string_view name);

// `sql` with `edits` applied (see Verdict::edits).
[[nodiscard]] std::string applyEdits(std::string_view sql, const std::vector<TextEdit>& edits);

// The SET rules for one parameter given as name and raw value text (startup packet
// parameters, `options=-c name=value`, set_config()). On success `sets` holds the one
// action, with the name lowercased.
[[nodiscard]] Verdict checkParameter(std::string_view name, std::string_view value,
                                     const ClassifierOptions& options = {});

}  // namespace pgro::policy
