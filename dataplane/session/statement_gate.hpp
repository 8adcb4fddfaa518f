// The policy check on every statement text the client sends (simple Query and Parse), with
// a per-loop verdict cache so a repeated text costs a hash lookup, not a parse.
#pragma once

#include <memory>
#include <string_view>

#include "policy/classifier.hpp"
#include "protocol/messages.hpp"

namespace pgro::session {

struct ProxyContext;

// The verdict for `sql` as seen by a session whose search_path is `search_path` (the same
// text can resolve to different functions under different search paths).
std::shared_ptr<const policy::Verdict> classifyStatement(const ProxyContext& context,
                                                         std::string_view sql,
                                                         std::string_view search_path);

// The ErrorResponse for a refused verdict.
protocol::PgError refusalError(const policy::Verdict& verdict);

}  // namespace pgro::session
