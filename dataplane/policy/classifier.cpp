#include "policy/classifier.hpp"

#include <algorithm>
#include <climits>
#include <functional>
#include <string>

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <pg_query.h>

#include "pg_query.pb.h"
#include "policy/cache_rules.hpp"
#include "policy/denial.hpp"
#include "policy/fingerprint.hpp"
#include "policy/parameter_rules.hpp"
#include "policy/parser_stack.hpp"
#include "policy/statement_rules.hpp"
#include "protocol/sqlstate.hpp"

namespace pgro::policy {
namespace {

namespace sqlstate = protocol::sqlstate;
constexpr std::string_view kStatementTooComplex = "54001";

// A comment marker, looked up in the raw text: libpg_query drops comments, and this is not
// SQL parsing, only the client's explicit request not to cache.
constexpr std::string_view kNoCacheMarker = "/* pgro:nocache */";

std::string_view sqlstateFor(Refusal refusal) {
  switch (refusal) {
    case Refusal::None:
      return {};
    case Refusal::Write:
      return sqlstate::kReadOnlySqlTransaction;
    case Refusal::ForbiddenFunction:
    case Refusal::ForbiddenParameter:
    case Refusal::SecretRead:
      return sqlstate::kInsufficientPrivilege;
    case Refusal::ParseError:
      return sqlstate::kSyntaxError;
    case Refusal::Unsupported:
      return sqlstate::kFeatureNotSupported;
    case Refusal::TooComplex:
      return kStatementTooComplex;
    case Refusal::UnknownFunction:
      return sqlstate::kUndefinedFunction;
    case Refusal::Sleep:
      return sqlstate::kInsufficientPrivilege;
  }
  return sqlstate::kInsufficientPrivilege;
}

// Nothing of a refused string reaches upstream, so none of its facts matter but one: whether
// a newer pg_proc could judge it otherwise.
Verdict refused(detail::Denial denial, int statement_count = 0) {
  Verdict verdict;
  verdict.calls_user_functions = denial.calls_user_functions;
  verdict.allowed = false;
  verdict.refusal = denial.refusal;
  verdict.sqlstate = sqlstateFor(denial.refusal);
  verdict.message = std::move(denial.message);
  verdict.position = denial.position;
  verdict.statement_count = statement_count;
  return verdict;
}

bool isCacheResetCall(const pg_query::FuncCall& call) {
  if (call.funcname_size() != 1 || !call.funcname(0).has_string() || call.args_size() != 0 ||
      call.agg_order_size() != 0 || call.has_agg_filter() || call.has_over() || call.agg_star() ||
      call.agg_distinct() || call.func_variadic()) {
    return false;
  }
  const std::string name = detail::lowercase(call.funcname(0).string().sval());
  return name == "pgro_cache_reset" || name == "rustproxy_cache_reset";
}

// Exactly one `SELECT pgro_cache_reset()` (or the seed's rustproxy_cache_reset()).
bool isCacheReset(const pg_query::ParseResult& tree) {
  if (tree.stmts_size() != 1 || !tree.stmts(0).stmt().has_select_stmt()) {
    return false;
  }
  const pg_query::SelectStmt& select = tree.stmts(0).stmt().select_stmt();
  if (select.target_list_size() != 1 || select.from_clause_size() != 0 ||
      select.has_where_clause() || select.group_clause_size() != 0 || select.has_having_clause() ||
      select.window_clause_size() != 0 || select.values_lists_size() != 0 ||
      select.sort_clause_size() != 0 || select.has_limit_count() || select.has_limit_offset() ||
      select.has_with_clause() || select.distinct_clause_size() != 0 || select.has_larg() ||
      select.has_into_clause() || select.locking_clause_size() != 0) {
    return false;
  }
  const pg_query::Node& target = select.target_list(0);
  return target.has_res_target() && target.res_target().name().empty() &&
         target.res_target().indirection_size() == 0 && target.res_target().val().has_func_call() &&
         isCacheResetCall(target.res_target().val().func_call());
}

// Each statement's text in `sql`: RawStmt offsets are bytes, stmt_len 0 means "to the end",
// and a statement's span starts right after the previous `;` (whitespace and comments
// included), so the whitespace is trimmed here.
std::vector<StatementSpan> statementSpans(const pg_query::ParseResult& tree, std::string_view sql) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  };
  std::vector<StatementSpan> spans;
  spans.reserve(static_cast<std::size_t>(tree.stmts_size()));
  for (const pg_query::RawStmt& raw : tree.stmts()) {
    std::size_t at =
        std::min(static_cast<std::size_t>(std::max(raw.stmt_location(), 0)), sql.size());
    std::size_t end = raw.stmt_len() > 0
                          ? std::min(at + static_cast<std::size_t>(raw.stmt_len()), sql.size())
                          : sql.size();
    while (at < end && space(sql[at])) ++at;
    while (end > at && (space(sql[end - 1]) || (raw.stmt_len() == 0 && sql[end - 1] == ';'))) --end;
    spans.push_back({at, end - at});
  }
  return spans;
}

void classifyText(const std::string& sql, const ClassifierOptions& options, Verdict& verdict) {
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(sql.c_str());
  if (result.error != nullptr) {
    verdict = refused(
        detail::Denial{Refusal::ParseError,
                       result.error->message != nullptr ? result.error->message : "syntax error",
                       result.error->cursorpos});
    pg_query_free_protobuf_parse_result(result);
    return;
  }
  google::protobuf::Arena arena;
  auto* tree = google::protobuf::Arena::CreateMessage<pg_query::ParseResult>(&arena);
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const std::uint8_t*>(result.parse_tree.data),
      static_cast<int>(result.parse_tree.len));
  // Depth is bounded by runWithParserStack(), not by protobuf's default limit of 100.
  input.SetRecursionLimit(INT_MAX);
  const bool decoded = tree->ParseFromCodedStream(&input) && input.ConsumedEntireMessage();
  pg_query_free_protobuf_parse_result(result);
  if (!decoded) {
    verdict = refused(detail::Denial{Refusal::ParseError, "pgro could not decode the parse tree"});
    return;
  }

  verdict = Verdict{};
  verdict.statement_count = tree->stmts_size();
  std::vector<StatementSpan> spans;
  if (tree->stmts_size() > 1) spans = statementSpans(*tree, sql);
  bool cacheable = verdict.statement_count > 0;
  int first_unknown = -1;  // the statement that named the first unknown function
  for (int index = 0; index < tree->stmts_size(); ++index) {
    if (auto denial =
            detail::classifyStatement(tree->stmts(index), sql, options, verdict, cacheable)) {
      verdict = refused(std::move(*denial), tree->stmts_size());
      verdict.statements = std::move(spans);
      if (!verdict.statements.empty()) verdict.refused_statement = index;
      return;
    }
    if (first_unknown < 0 && !verdict.unknown_functions.empty()) first_unknown = index;
    for (SessionStatement& statement : verdict.kinds.session_statements) {
      if (statement.index < 0) statement.index = index;
    }
  }
  verdict.is_cache_reset = isCacheReset(*tree);
  // pgro_cache_reset() is pgro's own: pg_proc never has it.
  if (!verdict.unknown_functions.empty() && !verdict.is_cache_reset) {
    // Every other rule passed; only the names stand between the string and upstream.
    std::vector<std::string> names = std::move(verdict.unknown_functions);
    // PostgreSQL's own wording (42883) would name the argument types, which a parse alone
    // does not know.
    std::string message = names.size() == 1 ? "function " : "functions ";
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) {
      message += (i == 0 ? "" : ", ") + names[i];
    }
    if (names.size() > 5) message += ", ...";
    message += names.size() == 1 ? " does not exist or is not known to pgro's catalog"
                                 : " do not exist or are not known to pgro's catalog";
    verdict =
        refused(detail::Denial{Refusal::UnknownFunction, std::move(message)}, tree->stmts_size());
    verdict.unknown_functions = std::move(names);
    verdict.statements = std::move(spans);
    if (!verdict.statements.empty()) verdict.refused_statement = first_unknown;
    return;
  }
  verdict.statements = std::move(spans);
  if (verdict.is_cache_reset || sql.find(kNoCacheMarker) != std::string::npos) {
    cacheable = false;
  }
  verdict.cacheable = cacheable;
  if (cacheable) {
    // A second parse, once per text (or numeric shape) the verdict cache has not seen, and
    // only for cacheable reads: libpg_query fingerprints text, not a tree it has returned.
    verdict.fingerprint = detail::fingerprintInPlace(sql);
    verdict.hint_ttl = hintTtl(sql);
  }
  verdict.shape_safe = verdict.statement_count == 1 && tree->stmts(0).stmt().has_select_stmt() &&
                       verdict.sets.empty() && !verdict.kinds.has_set && !verdict.is_cache_reset;
}

}  // namespace

std::string_view refusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::None:
      return "none";
    case Refusal::Write:
      return "write";
    case Refusal::ForbiddenFunction:
      return "forbidden_function";
    case Refusal::ForbiddenParameter:
      return "forbidden_parameter";
    case Refusal::SecretRead:
      return "secret_read";
    case Refusal::ParseError:
      return "parse_error";
    case Refusal::Unsupported:
      return "unsupported";
    case Refusal::TooComplex:
      return "too_complex";
    case Refusal::UnknownFunction:
      return "unknown_function";
    case Refusal::Sleep:
      return "pg_sleep";
  }
  return "unknown";
}

Verdict classify(std::string_view sql, const ClassifierOptions& options) {
  if (sql.size() > options.max_query_bytes) {
    return refused(detail::tooComplexDenial());
  }
  // The C parser would stop at a NUL and classify only a prefix of what we were given.
  if (sql.find('\0') != std::string_view::npos) {
    return refused(detail::Denial{Refusal::ParseError, "query string contains a zero byte"});
  }
  const std::string text(sql);  // NUL-terminated for libpg_query
  Verdict verdict;
  const std::function<void()> work = [&] {
    classifyText(text, options, verdict);
    if (options.fingerprint && !verdict.fingerprint) {
      verdict.fingerprint = detail::fingerprintInPlace(text);
    }
  };
  if (detail::runWithParserStack(text, work) != detail::StackOutcome::Ran) {
    return refused(detail::tooComplexDenial());
  }
  return verdict;
}

std::string applyEdits(std::string_view sql, const std::vector<TextEdit>& edits) {
  std::string out;
  out.reserve(sql.size());
  std::size_t done = 0;
  for (const TextEdit& edit : edits) {
    out.append(sql.substr(done, edit.at - done));
    out.append(edit.text);
    done = edit.at + edit.length;
  }
  out.append(sql.substr(std::min(done, sql.size())));
  return out;
}

Verdict checkParameter(std::string_view name, std::string_view value,
                       const ClassifierOptions& options) {
  detail::SettingCheck check = detail::checkSetting(name, value, /*is_local=*/false, options);
  if (check.denial.has_value()) {
    return refused(std::move(*check.denial));
  }
  Verdict verdict;
  verdict.kinds.has_set = true;
  verdict.sets.push_back(std::move(check.action));
  return verdict;
}

}  // namespace pgro::policy
