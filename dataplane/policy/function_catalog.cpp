// The function catalog: pg_proc judged once, when a snapshot is loaded (DESIGN.md section 3,
// layer 3). Built-in functions keep the reviewed table and their volatility; every other
// function is judged by what it is:
//   - LANGUAGE sql and plpgsql: by its body, every statement and expression of which must
//     pass the classifier as a plain read (no SET, no transaction control, no cursors held
//     outside it), calling only functions that pass in turn;
//   - aggregates: by their support functions;
//   - other languages: only from pgro's reviewed list of read-only extension functions or
//     the operator's READ_ONLY_FUNCTIONS.
// Calls between user functions are judged as a greatest fixpoint: every body is first
// assumed read-only, then bodies are judged again against the refusals so far until
// nothing changes. A cycle of functions that only read passes; a cycle with a writer in it
// is refused as a whole.
#include <algorithm>

#include "policy/classifier.hpp"
#include "policy/denial.hpp"
#include "policy/function_body.hpp"
#include "policy/function_table.hpp"

namespace pgro::policy {
namespace {

// 'v' > 's' > 'i': keep the most volatile overload of a name within a schema.
int rank(char volatility) {
  switch (volatility) {
    case 'i':
      return 0;
    case 's':
      return 1;
    default:
      return 2;  // 'v' and anything unexpected: assume the worst
  }
}

// `name` or `schema.name`, as READ_ONLY_FUNCTIONS lists them (lowercase).
bool listed(const std::vector<std::string>& list, std::string_view schema, std::string_view name) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& item) {
    const std::string lower = detail::lowercase(item);
    const std::size_t dot = lower.rfind('.');
    if (dot == std::string::npos) {
      return lower == name;
    }
    return std::string_view(lower).substr(0, dot) == schema &&
           std::string_view(lower).substr(dot + 1) == name;
  });
}

// What a function body may be: reads only. The classifier allows more for a client's
// session (SET, transactions, cursors, PREPARE, LOCK, COPY TO STDOUT), and all of those
// would change the session's state behind pgro's back when run inside a function.
bool plainRead(const Verdict& verdict) {
  const StatementKinds& kinds = verdict.kinds;
  return verdict.sets.empty() && !kinds.has_set && !kinds.has_transaction_control &&
         !kinds.declares_cursor && !kinds.uses_cursor && kinds.holds.empty() &&
         kinds.closes.empty() && !kinds.closes_all && kinds.prepares.empty() &&
         kinds.executes.empty() && kinds.deallocates.empty() && !kinds.deallocates_all &&
         kinds.session_statements.empty() && !kinds.has_lock && !kinds.has_copy_out &&
         !kinds.seeds_random && !verdict.is_cache_reset;
}

struct BodyVerdict {
  std::string refusal;  // empty: read-only
  bool uncacheable = false;
};

BodyVerdict judgeBody(const std::vector<detail::BodySql>& body, const ClassifierOptions& options) {
  BodyVerdict out;
  for (const detail::BodySql& sql : body) {
    bool parsed = false;
    for (const std::string& reading : sql.readings) {
      const Verdict verdict = classify(reading, options);
      if (verdict.refusal == Refusal::ParseError) {
        continue;  // not this reading (an expression is not a statement, and back)
      }
      parsed = true;
      if (!verdict.allowed) {
        out.refusal = "calling a function whose body pgro refuses (" + verdict.message + ")";
        return out;
      }
      if (!plainRead(verdict)) {
        out.refusal =
            "calling a function whose body changes session state (SET, transaction control, "
            "cursors, PREPARE, LOCK or COPY)";
        return out;
      }
      out.uncacheable = out.uncacheable || !verdict.cacheable;
    }
    if (!parsed) {
      out.refusal = "calling a function whose body pgro cannot parse";
      return out;
    }
  }
  return out;
}

// Bounds the judging of call chains: each round settles at least one more link of the
// longest chain of calls to a refused function. Beyond it, what is left is refused.
constexpr int kMaxRounds = 64;

}  // namespace

FunctionCatalog::FunctionCatalog(const std::vector<FunctionInfo>& functions,
                                 const std::vector<std::string>& read_only_functions,
                                 const std::vector<OperatorInfo>& operators, bool allow_pg_sleep) {
  struct Pending {
    std::string name;
    std::string schema;
    std::vector<detail::BodySql> body;
    Entry* entry = nullptr;
  };
  std::vector<Pending> pending;
  auto refuse = [](Entry& entry, std::string reason) {
    if (entry.read_only) {
      entry.read_only = false;
      entry.reason = std::move(reason);
    }
  };

  for (const FunctionInfo& info : functions) {
    std::string name = detail::lowercase(info.name);
    std::string schema = detail::lowercase(info.schema);
    std::vector<Entry>& entries = by_name_[name];
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const Entry& entry) { return entry.schema == schema; });
    if (it == entries.end()) {
      entries.push_back(Entry{.schema = schema});
      it = entries.end() - 1;
    }
    Entry& entry = *it;
    if (info.builtin) {
      if (rank(info.volatility) > rank(entry.volatility)) {
        entry.volatility = rank(info.volatility) == 2 ? 'v' : info.volatility;
      }
      continue;
    }
    entry.user_defined = true;
    if (rank(info.volatility) == 2) {
      entry.uncacheable = true;
    }
    if (listed(read_only_functions, schema, name)) {
      continue;  // the operator vouches for it
    }
    const std::string language = detail::lowercase(info.language);
    if (language == "sql" || language == "aggregate") {
      if (info.body.empty()) {
        refuse(entry, "a SQL function whose BEGIN ATOMIC body pgro could not read");
        continue;
      }
      pending.push_back(Pending{name, schema, {detail::BodySql{{info.body}}}});
    } else if (language == "plpgsql") {
      detail::PlpgsqlBody body = detail::readPlpgsqlBody(info.body);
      if (!body.refusal.empty()) {
        refuse(entry, std::move(body.refusal));
        continue;
      }
      pending.push_back(Pending{name, schema, std::move(body.sql)});
    } else if (!detail::isReadOnlyExtensionFunction(name)) {
      refuse(entry, "a LANGUAGE " + (language.empty() ? std::string("unknown") : language) +
                        " function that is not on pgro's list of read-only extension "
                        "functions nor on READ_ONLY_FUNCTIONS");
    }
  }
  // No entry is added from here on: the pointers stay valid.
  for (Pending& p : pending) {
    std::vector<Entry>& entries = by_name_.find(p.name)->second;
    p.entry = &*std::find_if(entries.begin(), entries.end(),
                             [&](const Entry& entry) { return entry.schema == p.schema; });
  }

  // Operators: every symbol is known; those of extensions and users are judged by the
  // function they call (in the rounds below, since bodies may use operators and operators
  // call functions with bodies).
  struct UserOperator {
    std::string symbol;
    const Entry* function = nullptr;
    std::string name;  // schema.name of the function
  };
  std::vector<UserOperator> judged_operators;
  for (const OperatorInfo& op : operators) {
    OperatorEntry& entry = operators_[op.symbol];
    if (op.builtin) {
      continue;
    }
    entry.user_defined = true;
    const std::string language = detail::lowercase(op.function_language);
    if (language == "c" || language == "internal") {
      continue;
    }
    const auto found = by_name_.find(detail::lowercase(op.function_name));
    const Entry* function = nullptr;
    if (found != by_name_.end()) {
      for (const Entry& candidate : found->second) {
        if (candidate.schema == detail::lowercase(op.function_schema)) {
          function = &candidate;
        }
      }
    }
    if (function == nullptr) {
      entry.refusal = "it calls " + op.function_schema + "." + op.function_name +
                      ", which pgro's catalog does not know";
      continue;
    }
    judged_operators.push_back({op.symbol, function, op.function_schema + "." + op.function_name});
  }
  auto judgeOperators = [&] {
    bool changed = false;
    for (const UserOperator& op : judged_operators) {
      OperatorEntry& entry = operators_[op.symbol];
      if (!op.function->read_only && entry.refusal.empty()) {
        entry.refusal = "it calls " + op.name + ": " + op.function->reason;
        changed = true;
      }
    }
    return changed;
  };

  ClassifierOptions options;
  options.catalog = this;
  options.refuse_unknown_functions = true;
  options.allow_pg_sleep = allow_pg_sleep;
  for (int round = 0;; ++round) {
    bool changed = judgeOperators();
    for (Pending& p : pending) {
      if (!p.entry->read_only) {
        continue;
      }
      BodyVerdict verdict = judgeBody(p.body, options);
      if (!verdict.refusal.empty()) {
        refuse(*p.entry, std::move(verdict.refusal));
        changed = true;
      } else if (verdict.uncacheable && !p.entry->uncacheable) {
        p.entry->uncacheable = true;
        changed = true;
      }
    }
    changed = judgeOperators() || changed;
    if (!changed) {
      break;
    }
    if (round == kMaxRounds) {
      for (Pending& p : pending) {
        refuse(*p.entry, "calling a function whose calls are nested too deeply to judge");
      }
      break;
    }
  }
}

const FunctionCatalog::OperatorEntry* FunctionCatalog::findOperator(std::string_view symbol) const {
  auto it = operators_.find(symbol);
  return it == operators_.end() ? nullptr : &it->second;
}

const std::vector<FunctionCatalog::Entry>* FunctionCatalog::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace pgro::policy
