// Internal: SET / RESET / SET TRANSACTION / SET SESSION CHARACTERISTICS and the transaction
// statements (BEGIN, START TRANSACTION, COMMIT, ...), whose options share one grammar.
#pragma once

#include "pg_query.pb.h"
#include "policy/classifier.hpp"
#include "policy/denial.hpp"

namespace pgro::policy::detail {

// `sql` is the whole string the statement came from (node locations are offsets into it).
MaybeDenial checkVariableSet(const pg_query::VariableSetStmt& set, std::string_view sql,
                             const ClassifierOptions& options, Verdict& verdict);

MaybeDenial checkTransaction(const pg_query::TransactionStmt& transaction, std::string_view sql,
                             Verdict& verdict);

}  // namespace pgro::policy::detail
