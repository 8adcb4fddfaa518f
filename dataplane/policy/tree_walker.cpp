#include "policy/tree_walker.hpp"

#include <string_view>
#include <vector>

#include "pg_query.pb.h"

namespace pgro::policy::detail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

// Per message type: what it is and which of its fields can hold other messages. Built once
// from the descriptors, then read-only (shared by all threads).
struct Plan {
  NodeKind kind = NodeKind::Other;
  std::vector<const OneofDescriptor*> oneofs;  // Node's big oneof, A_Const's value, ...
  std::vector<const FieldDescriptor*> fields;  // message fields outside oneofs
};

NodeKind kindOf(const Descriptor* descriptor) {
  std::string_view name = descriptor->name();
  if (name == "SelectStmt") {
    return NodeKind::SelectStmt;
  }
  if (name == "FuncCall") {
    return NodeKind::FuncCall;
  }
  if (name == "RangeVar") {
    return NodeKind::RangeVar;
  }
  if (name == "ColumnRef") {
    return NodeKind::ColumnRef;
  }
  if (name == "A_Indirection") {
    return NodeKind::AIndirection;
  }
  if (name == "SQLValueFunction") {
    return NodeKind::SQLValueFunction;
  }
  if (name == "RangeTableSample") {
    return NodeKind::RangeTableSample;
  }
  if (name == "A_Const") {
    return NodeKind::AConst;
  }
  if (name == "A_Expr") {
    return NodeKind::AExpr;
  }
  if (name == "SubLink") {
    return NodeKind::SubLink;
  }
  if (name == "SortBy") {
    return NodeKind::SortBy;
  }
  if (name != "RawStmt" && name.ends_with("Stmt")) {
    return NodeKind::Statement;
  }
  return NodeKind::Other;
}

Plan makePlan(const Descriptor* descriptor) {
  Plan plan;
  plan.kind = kindOf(descriptor);
  for (int i = 0; i < descriptor->oneof_decl_count(); ++i) {
    const OneofDescriptor* oneof = descriptor->oneof_decl(i);
    for (int j = 0; j < oneof->field_count(); ++j) {
      if (oneof->field(j)->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        plan.oneofs.push_back(oneof);
        break;
      }
    }
  }
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        field->containing_oneof() == nullptr) {
      plan.fields.push_back(field);
    }
  }
  return plan;
}

class PlanTable {
 public:
  PlanTable() : file_(pg_query::ParseResult::descriptor()->file()) {
    plans_.reserve(static_cast<std::size_t>(file_->message_type_count()));
    for (int i = 0; i < file_->message_type_count(); ++i) {
      plans_.push_back(makePlan(file_->message_type(i)));
    }
  }

  const Plan& planFor(const Descriptor* descriptor) const {
    // pg_query.proto has only top-level messages, so index() addresses the table.
    if (descriptor->file() == file_ && descriptor->containing_type() == nullptr) {
      return plans_[static_cast<std::size_t>(descriptor->index())];
    }
    static const Plan kEmpty;  // not a parse-tree message: nothing to walk
    return kEmpty;
  }

 private:
  const google::protobuf::FileDescriptor* file_;
  std::vector<Plan> plans_;
};

const PlanTable& planTable() {
  static const PlanTable table;
  return table;
}

void walk(const Message& message, TreeVisitor& visitor, int depth, const PlanTable& table) {
  const Plan& plan = table.planFor(message.GetDescriptor());
  if (!visitor.enter(message, plan.kind, depth) || visitor.done()) {
    return;
  }
  const Reflection* reflection = message.GetReflection();
  for (const OneofDescriptor* oneof : plan.oneofs) {
    const FieldDescriptor* field = reflection->GetOneofFieldDescriptor(message, oneof);
    if (field != nullptr && field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      walk(reflection->GetMessage(message, field), visitor, depth + 1, table);
      if (visitor.done()) {
        return;
      }
    }
  }
  for (const FieldDescriptor* field : plan.fields) {
    if (field->is_repeated()) {
      const int size = reflection->FieldSize(message, field);
      for (int i = 0; i < size; ++i) {
        walk(reflection->GetRepeatedMessage(message, field, i), visitor, depth + 1, table);
        if (visitor.done()) {
          return;
        }
      }
    } else if (reflection->HasField(message, field)) {
      walk(reflection->GetMessage(message, field), visitor, depth + 1, table);
      if (visitor.done()) {
        return;
      }
    }
  }
}

}  // namespace

void walkTree(const Message& root, TreeVisitor& visitor) {
  walk(root, visitor, 0, planTable());
}

}  // namespace pgro::policy::detail
