// Internal: a generic walk over every message of a libpg_query parse tree.
//
// The walk uses protobuf reflection over the generated classes, so every field of every
// node type is visited, including node types added by a future grammar: no hand-written
// list of "fields that may hold an expression" can forget one (a FuncCall inside a FILTER
// clause, a column default, a lateral ROWS FROM, ...).
#pragma once

#include <cstdint>

#include <google/protobuf/message.h>

namespace pgro::policy::detail {

// The node types the rules look at; everything else is Other and only walked through.
enum class NodeKind : std::uint8_t {
  Other,
  Statement,  // any *Stmt except SelectStmt and RawStmt (InsertStmt, CreateStmt, ...)
  SelectStmt,
  FuncCall,
  RangeVar,
  ColumnRef,
  AIndirection,
  SQLValueFunction,
  RangeTableSample,
  AConst,
  AExpr,    // an operator expression: a + b, x = ANY (...), a OPERATOR(s.###) b
  SubLink,  // x ### ANY (SELECT ...) names an operator too
  SortBy,   // ORDER BY x USING ###
};

class TreeVisitor {
 public:
  virtual ~TreeVisitor() = default;
  // Called for every message, parents before children, `depth` 0 for the root. Returning
  // false skips this message's children.
  virtual bool enter(const google::protobuf::Message& message, NodeKind kind, int depth) = 0;
  // Checked after each enter(): true ends the whole walk (a refusal was found).
  [[nodiscard]] virtual bool done() const = 0;
};

void walkTree(const google::protobuf::Message& root, TreeVisitor& visitor);

}  // namespace pgro::policy::detail
