// The policy check on every statement text the client sends (simple Query and Parse), with
// a per-loop verdict cache so a repeated text costs a hash lookup, not a parse.
//
// The session classifies in three steps (ClientSession::classifyText): findVerdict() on its
// loop; on a miss the classifier, on the loop or (long texts) on the classification pool;
// keepVerdict() back on the loop. classifyStatement() does the three at once, on the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policy/classifier.hpp"
#include "protocol/messages.hpp"

namespace pgro::session {

struct ProxyContext;

// A cache hit, or what a miss needs to be classified and kept.
struct VerdictLookup {
  std::shared_ptr<const policy::Verdict> verdict;  // the cached verdict, or null
  std::shared_ptr<const policy::ClassifierOptions> options;
  uint64_t generation = 0;           // of `options`
  std::optional<std::string> shape;  // the text's numeric shape, when it has one
};

// The cached verdict for `sql` as seen by a session whose search_path is `search_path` (the
// same text can resolve to different functions under different search paths). Call on the
// session's loop.
VerdictLookup findVerdict(const ProxyContext& context, std::string_view sql,
                          std::string_view search_path);

// Keeps `verdict`, classified with the options of `lookup`, unless the policy changed since
// (a verdict of the old catalog must not outlive it) or it names functions the catalog does not
// know (the next arrival of the text looks them up again). Call on the session's loop.
void keepVerdict(const ProxyContext& context, std::string_view sql, std::string_view search_path,
                 const VerdictLookup& lookup,
                 const std::shared_ptr<const policy::Verdict>& verdict);

// findVerdict(), the classifier on the calling thread, keepVerdict(): for short texts whose
// verdict needs no catalog look-up to be acted on (a refusal stays a refusal).
std::shared_ptr<const policy::Verdict> classifyStatement(const ProxyContext& context,
                                                         std::string_view sql,
                                                         std::string_view search_path);

// The ErrorResponse for a refused verdict.
protocol::PgError refusalError(const policy::Verdict& verdict);

}  // namespace pgro::session
