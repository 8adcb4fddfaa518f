// Internal: the rules applied to every node of a statement, wherever it sits (target list,
// WHERE, JOIN ... ON, ORDER BY, LIMIT, VALUES, FILTER, window clauses, ROWS FROM, LATERAL,
// subqueries, CTEs, EXPLAIN/DECLARE/PREPARE/COPY bodies, EXECUTE parameters, defaults).
#pragma once

#include <google/protobuf/message.h>

#include "policy/classifier.hpp"
#include "policy/denial.hpp"
#include "policy/function_rules.hpp"

namespace pgro::policy::detail {

struct TreeOptions {
  // EXPLAIN EXECUTE: the one statement node allowed below the root besides SELECT.
  bool allow_nested_execute = false;
};

// Walks `root` (a top-level statement whose own kind the caller already accepted) and
// refuses: any other statement node below it (a data-modifying CTE, EXPLAIN INSERT,
// PREPARE of a DELETE, ...), SELECT INTO and locking clauses, denied functions (layer 3),
// secret relations. Records cacheability and set_config() actions in `facts`.
MaybeDenial checkTree(const google::protobuf::Message& root, const ClassifierOptions& options,
                      const TreeOptions& tree_options, FunctionFacts& facts);

}  // namespace pgro::policy::detail
