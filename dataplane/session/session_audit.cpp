// The session's side of the audit log and the query-shape statistics (dataplane/audit): who
// the session is, and the records that end with a server error or never get their reply.
#include "protocol/messages.hpp"
#include "session/client_session.hpp"

namespace pgro::session {

void ClientSession::startAudit() {
  if (ctx_->audit == nullptr && ctx_->query_stats == nullptr) return;
  auto who = std::make_shared<audit::Identity>();
  who->login = user_;
  who->client_address = client_address_;
  who->database = database_;
  who->session_id = session_id_;
  audit_.attach(ctx_->audit, ctx_->query_stats, static_cast<std::size_t>(loop_), std::move(who),
                client_params_.current());
}

void ClientSession::auditServerError(std::string_view body) {
  if (!audit_.on() || pending_.empty()) return;
  const auto fields = protocol::parseErrorFields(body);
  const std::string_view sqlstate = fields ? fields->sqlstate : std::string_view("XX000");
  Pending& front = pending_.front();
  if (front.audit && front.audit->sqlstate.empty()) {
    front.audit->sqlstate = std::string(sqlstate);
    if (fields) front.audit->reason = std::string(fields->message);
  }
  if (front.message == 'Q' || front.message == 'S') return;  // ends at its ReadyForQuery
  // Extended protocol: the server skips everything up to the Sync (onServerError drops
  // those entries), so the Executes among them end here, with this error.
  for (auto& p : pending_) {
    if (p.message == 'S') break;
    if (p.audit) audit_.finish(std::move(p.audit), sqlstate);
  }
}

void ClientSession::auditAbandoned(std::string_view sqlstate) {
  for (auto& p : pending_) {
    if (p.audit) audit_.finish(std::move(p.audit), sqlstate);
  }
}

std::string_view ClientSession::statementText(std::string_view name) const {
  const std::string* key = nullptr;
  if (name.empty()) {
    if (unnamed_) key = &*unnamed_;
  } else if (auto it = statements_.find(std::string(name)); it != statements_.end()) {
    key = &it->second;
  }
  if (key == nullptr) return {};
  return std::string_view(*key).substr(0, key->find('\0'));
}

}  // namespace pgro::session
