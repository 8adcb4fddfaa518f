// Internal: the "<KIND>" of "Write operations are not permitted: <KIND> statements are not
// allowed", named the way PostgreSQL's command tags name it (INSERT, CREATE TABLE, VACUUM).
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace pgro::policy::detail {

std::string statementKind(const google::protobuf::Message& statement);

}  // namespace pgro::policy::detail
