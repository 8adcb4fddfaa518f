// Query phase, client side: frame client messages, forward them to the attached server
// connection in batches, answer or refuse locally (PostgreSQL docs 55.2.2-55.2.3).
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

#include <boost/asio/post.hpp>

#include "cache/stale.hpp"
#include "protocol/frontend.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/sqlstate.hpp"
#include "session/client_session.hpp"
#include "session/session_parameters.hpp"
#include "session/statement_gate.hpp"

namespace pgro::session {

namespace {

namespace sqlstate = protocol::sqlstate;

constexpr std::size_t kServerBatchFlush = 64 * 1024;
constexpr std::size_t kBackpressureHigh = 1024 * 1024;
constexpr std::size_t kBackpressureLow = 256 * 1024;

// The frontend message types PostgreSQL accepts after startup (postgres.c, SocketBackend).
bool isFrontendMessageType(char type) {
  switch (type) {
    case 'Q':
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'C':
    case 'H':
    case 'S':
    case 'F':
    case 'd':
    case 'c':
    case 'f':
    case 'X':
      return true;
    default:
      return false;
  }
}

// Messages that need an upstream connection (everything forwarded).
bool needsServer(char type) {
  switch (type) {
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'C':
    case 'H':
      return true;
    default:
      return false;
  }
}

}  // namespace

asio::awaitable<bool> ClientSession::readMore() {
  // Compact what was consumed.
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  if (in_.empty() && server_ == nullptr && state_ == State::Ready) {
    // Idle between transactions: hold no buffers while waiting.
    std::string().swap(in_);
    to_client_.trim();
  }
  boost::system::error_code ec;
  reading_client_ = true;
  governorArmIdle();
  const bool got = co_await client_.readSome(in_, ec);
  reading_client_ = false;
  governorArmIdle();
  if (client_.hasWirePending()) to_client_.flush();
  co_return got&& state_ != State::Closing;
}

asio::awaitable<void> ClientSession::clientLoop() {
  const uint32_t max_len = ctx_->config->max_message_bytes;
  while (state_ != State::Closing) {
    audit_.flush();  // the last message's statement, if pgro answered it alone, is complete
    // Judged on its first byte, before any length is believed: a StartupMessage sent after
    // login (its first byte is a length byte, usually 0) must not make pgro wait for the
    // "message" its next bytes seem to announce.
    if (in_pos_ < in_.size() && !isFrontendMessageType(in_[in_pos_])) {
      protocolViolation("invalid frontend message type " +
                        std::to_string(static_cast<unsigned char>(in_[in_pos_])));
      break;
    }
    auto r = protocol::nextFrame(std::string_view(in_).substr(in_pos_), max_len);
    if (r.status == protocol::FrameStatus::Message) {
      // The whole message is here: what it held of the budget goes back.
      releaseBuffer();
      if (local_queued_ > kBackpressureHigh || to_client_.queued() > kBackpressureHigh) {
        co_await waitForReplyRoom();
        continue;
      }
      const char type = r.frame.type;
      const std::size_t total = r.frame.total_size;
      if (type == 'Q' && state_ == State::Ready) {
        // Policy, cache and coalescing come before an upstream connection is needed.
        co_await handleQuery(std::string_view(in_).substr(in_pos_, total), r.frame.body);
        in_pos_ += total;
        continue;
      }
      // The verdict of this Parse's text when tryCachedBatch() classified it already.
      std::shared_ptr<const policy::Verdict> classified;
      if ((type == 'P' || type == 'B') && state_ == State::Ready && ctx_->cache->enabled() &&
          !cache_opt_out_ && unit_sets_.empty() && co_await tryCachedBatch(classified)) {
        continue;
      }
      if (type == 'P' && state_ == State::Ready && tryLocalDeallocate()) continue;
      std::string edited;  // a Parse whose text goes upstream changed (Verdict::edits)
      if (type == 'P' && state_ == State::Ready) {
        const auto parse = protocol::parseParse(r.frame.body);
        if (parse && classified == nullptr) {
          classified = co_await classifyText(parse->query);
          if (state_ == State::Closing) break;
        }
        // r.frame views into in_, which only this loop changes: still valid.
        const auto verdict = admitParse(r.frame.body, std::move(classified));
        if (verdict == nullptr) {
          in_pos_ += total;
          continue;
        }
        if (!verdict->edits.empty()) edited = editedParse(r.frame.body, *verdict);
      }
      bool server_ready = server_ != nullptr;
      if (!server_ready && needsServer(type) && state_ == State::Ready) {
        server_ready = co_await ensureServer();
      }
      // ensureServer() may suspend; in_ is only changed by this loop, so re-slice after it.
      const std::string_view raw =
          edited.empty() ? std::string_view(in_).substr(in_pos_, total) : std::string_view(edited);
      handleMessage(type, raw.substr(protocol::kTypedHeaderSize), raw, server_ready);
      in_pos_ += total;
      if (type == 'H' || server_batch_.size() >= kServerBatchFlush) co_await flushToServer();
      continue;
    }
    if (r.status == protocol::FrameStatus::ProtocolError) {
      protocolViolation("pgro: " + std::string(r.error));
      break;
    }
    // A partly received message: the bytes it announces are held against the budget of all
    // clients before they are read (its length is already checked against MAX_MESSAGE_BYTES).
    if (in_.size() - in_pos_ >= protocol::kTypedHeaderSize &&
        !holdBuffer(std::size_t{protocol::typedLength(std::string_view(in_).substr(in_pos_))} +
                    1)) {
      break;
    }
    co_await flushToServer();
    if (!co_await readMore()) break;
  }
}

asio::awaitable<void> ClientSession::flushToServer() {
  if (server_batch_.empty()) co_return;
  if (server_ == nullptr) {
    server_batch_.clear();
    co_return;
  }
  to_server_.appendOwned(std::move(server_batch_));
  server_batch_.clear();
  if (to_server_.queued() > kBackpressureHigh) co_await to_server_.waitBelow(kBackpressureLow);
}

void ClientSession::forwardToServer(std::string_view raw, char type) {
  server_batch_.append(raw);
  if (type == 'H') {  // Flush: answered by nothing
    unsynced_ = true;
    return;
  }
  pending_.push_back({.kind = Pending::Kind::Forward, .message = type});
  pending_.back().capture = batch_capture_;
  if (type == 'Q' || type == 'E' || type == 'S') governorStatementSent();
  if (type == 'Q' || type == 'S') {
    pending_.back().sent = std::chrono::steady_clock::now();
    ++pending_syncs_;
    unsynced_ = false;
  } else {
    unsynced_ = true;
  }
}

void ClientSession::injectToServer(std::string bytes, char type) {
  server_batch_.append(bytes);
  pending_.push_back({.kind = Pending::Kind::Swallow, .message = type});
  if (type == 'S') {
    ++pending_syncs_;
  } else {
    unsynced_ = true;
  }
}

void ClientSession::replyLocal(std::string bytes, bool ready) {
  // A background refresh alone in flight answers nothing to the client: no need to wait.
  if (pending_.empty() || (pending_.size() == 1 && pending_.front().refresh)) {
    if (batch_capture_ && !ready) captureReply(*batch_capture_, bytes);
    if (ready) protocol::appendReadyForQuery(bytes, tx_status_);
    to_client_.appendOwned(std::move(bytes));
    return;
  }
  local_queued_ += bytes.size();
  pending_.push_back({.kind = Pending::Kind::Local, .ready = ready, .bytes = std::move(bytes)});
  pending_.back().capture = batch_capture_;
}

void ClientSession::emitLocalReplies() {
  while (!pending_.empty() && pending_.front().kind == Pending::Kind::Local) {
    auto entry = std::move(pending_.front());
    pending_.pop_front();
    local_queued_ -= entry.bytes.size();
    if (entry.capture && !entry.ready) captureReply(*entry.capture, entry.bytes);
    if (entry.ready) protocol::appendReadyForQuery(entry.bytes, tx_status_);
    to_client_.appendOwned(std::move(entry.bytes));
  }
  if (local_queued_ <= kBackpressureLow) local_drained_.cancel();
}

asio::awaitable<void> ClientSession::waitForSettings() {
  // The read-back is answered in order on the attached connection; the tick notices a server
  // or client gone meanwhile.
  while (readback_in_flight_ && server_ != nullptr && state_ != State::Closing) {
    auto& timer = settings_read_.get(client_.socket().get_executor());
    timer.expires_after(std::chrono::milliseconds(100));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> ClientSession::waitForReplyRoom() {
  if (to_client_.queued() > kBackpressureHigh) co_await to_client_.waitBelow(kBackpressureLow);
  // Local replies behind a server reply drain as the server answers (emitLocalReplies wakes
  // this); the tick notices a client or server gone meanwhile.
  while (local_queued_ > kBackpressureHigh && server_ != nullptr && !to_client_.failed() &&
         state_ != State::Closing) {
    auto& timer = local_drained_.get(client_.socket().get_executor());
    timer.expires_after(std::chrono::milliseconds(100));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void ClientSession::refuse(const protocol::PgError& error, bool extended) {
  audit_.error(error.sqlstate, error.message);
  std::string out;
  protocol::appendError(out, error);
  if (extended) {
    // As PostgreSQL does after an error in the extended protocol: skip until Sync. Messages
    // of this batch that already went upstream are closed with a Sync of our own first, so
    // their replies come before the error; that Sync's ReadyForQuery is not forwarded.
    if (server_ != nullptr && unsynced_) {
      std::string sync;
      protocol::appendSync(sync);
      injectToServer(std::move(sync), 'S');
    }
    abortServerTransaction();
    replyLocal(std::move(out), false);
    state_ = State::SkipUntilSync;
  } else {
    abortServerTransaction();
    replyLocal(std::move(out), true);
  }
}

void ClientSession::abortServerTransaction() {
  // In a transaction block an error fails the transaction: PostgreSQL then answers 25P02
  // until ROLLBACK, and a COMMIT rolls back. A statement pgro refuses must do the same, so
  // the upstream transaction is failed with a statement that says why (in the server's log).
  if (server_ == nullptr || tx_status_ != 'T') return;
  protocol::appendQuery(server_batch_,
                        "SELECT 'pgro refused a statement of this transaction'::pg_catalog.int4");
  pending_.push_back({.kind = Pending::Kind::Internal, .message = 'Q'});
  ++pending_syncs_;
}

void ClientSession::handleMessage(char type, std::string_view body, std::string_view raw,
                                  bool server_ready) {
  if (state_ == State::SkipUntilSync && type != 'S' && type != 'X') return;
  switch (type) {
    case 'Q':  // Query: handled by handleQuery() (dropped here while skipping to Sync)
      return;
    case 'P': {  // Parse
      protocol::MessageReader reader(body);
      const std::string_view statement = reader.cstring();
      const std::string_view sql = reader.cstring();
      const std::string_view param_types = reader.rest();
      if (!reader.ok()) {
        protocolViolation("invalid Parse message");
        return;
      }
      if (!server_ready) {
        refuse(last_error_, true);
        return;
      }
      if (statement.empty()) {
        handleUnnamedParse(raw, sql, param_types);
      } else {
        handleNamedParse(statement, sql, param_types);
      }
      return;
    }
    case 'B':    // Bind
    case 'D':    // Describe
    case 'C': {  // Close
      if (!server_ready) {
        refuse(last_error_, true);
        return;
      }
      protocol::MessageReader reader(body);
      std::string_view portal;
      char target = 'S';
      if (type == 'B') {
        portal = reader.cstring();
      } else {
        target = reader.byte();
      }
      const std::string_view statement = reader.cstring();
      const std::string_view rest = reader.rest();
      if (!reader.ok() || (target != 'S' && target != 'P')) {
        protocolViolation("invalid Bind, Describe or Close message");
        return;
      }
      if (type == 'B') audit_.bind(portal, statement, statementText(statement), rest);
      if (target == 'P') {
        // Portals never outlive their transaction, so a portal this client did not create in
        // its current unit does not exist on the connection: PostgreSQL answers 34000.
        forwardToServer(raw, type);
        return;
      }
      if (statement.empty()) {
        if (type == 'C') {
          unnamed_.reset();
          std::string out;
          protocol::MessageWriter(out).begin('3').finish();  // CloseComplete
          replyLocal(std::move(out), false);
          return;
        }
        if (prepareUnnamed()) forwardToServer(raw, type);
        return;
      }
      if (type == 'C') {
        // The server-side statement stays (other clients may share it); the client's name goes.
        statements_.erase(std::string(statement));
        std::string out;
        protocol::MessageWriter(out).begin('3').finish();  // CloseComplete
        replyLocal(std::move(out), false);
        return;
      }
      const std::string* server_name = serverStatementFor(statement);
      if (server_name == nullptr) {
        refuse({.sqlstate = "26000",
                .message = "prepared statement \"" + std::string(statement) + "\" does not exist"},
               true);
        return;
      }
      std::string out;
      protocol::MessageWriter w(out);
      w.begin(type);
      if (type == 'B') {
        w.cstring(portal);
      } else {
        w.byte(target);
      }
      w.cstring(*server_name).bytes(rest).finish();
      forwardToServer(out, type);
      return;
    }
    case 'E':  // Execute
    case 'H':  // Flush
      if (!server_ready) {
        refuse(last_error_, true);
        return;
      }
      if (type == 'E') {
        ctx_->counters.queries_forwarded.fetch_add(1, std::memory_order_relaxed);
        // Which statement a portal runs is the server's business: any may be a SET.
        if (parsed_sets_) ++settings_changes_;
      }
      forwardToServer(raw, type);
      if (type == 'E' && audit_.on()) {
        protocol::MessageReader reader(body);
        pending_.back().audit =
            audit_.execute(reader.cstring(), batch_capture_ ? audit::CacheOutcome::Miss
                                                            : audit::CacheOutcome::Bypass);
      }
      return;
    case 'S':  // Sync
      if (state_ == State::SkipUntilSync) {
        state_ = State::Ready;
        // With a server connection attached (borrowed for the refused message, or held by a
        // transaction), its ReadyForQuery answers the Sync: the connection then goes back to
        // the pool as after any unit, and the client sees the true transaction status.
        if (server_ != nullptr) {
          forwardToServer(raw, 'S');
        } else {
          replyLocal({}, true);
        }
      } else if (server_ != nullptr) {
        forwardToServer(raw, 'S');
      } else {
        replyLocal({}, true);
      }
      return;
    case 'F':  // FunctionCall
      refuse({.sqlstate = std::string(sqlstate::kFeatureNotSupported),
              .message = "pgro: the FunctionCall protocol message is not supported"},
             false);
      return;
    case 'd':  // CopyData, CopyDone, CopyFail outside COPY FROM: PostgreSQL ignores them too.
    case 'c':
    case 'f':
      return;
    case 'X':  // Terminate
      state_ = State::Closing;
      return;
    default:
      protocolViolation("invalid frontend message type " +
                        std::to_string(static_cast<unsigned char>(type)));
      return;
  }
}

void ClientSession::handleNamedParse(std::string_view statement, std::string_view query,
                                     std::string_view param_types) {
  std::string name(statement);
  if (statements_.count(name) != 0) {
    refuse({.sqlstate = "42P05", .message = "prepared statement \"" + name + "\" already exists"},
           true);
    return;
  }
  if (statements_.size() >= static_cast<std::size_t>(ctx_->config->max_prepared_statements)) {
    // The client's names cost pgro memory whatever the server keeps: bounded per client.
    // Nothing goes upstream for this Parse.
    spdlog::warn("prepared statement \"{}\" refused: user={} client={} holds {} already",
                 name.substr(0, 64), user_, client_address_, statements_.size());
    refuse(
        {.sqlstate = std::string(sqlstate::kConfigurationLimitExceeded),
         .message = "pgro: too many prepared statements (MAX_PREPARED_STATEMENTS=" +
                    std::to_string(ctx_->config->max_prepared_statements) + "); close some first"},
        true);
    return;
  }
  std::string key(query);
  key.push_back('\0');
  key.append(param_types);
  if (server_->statements().use(key) != nullptr) {
    // Already prepared on this server connection (by this or another client).
    statements_.emplace(std::move(name), std::move(key));
    std::string out;
    protocol::MessageWriter(out).begin('1').finish();  // ParseComplete
    replyLocal(std::move(out), false);
    return;
  }
  const std::string& server_name = addServerStatement(key);
  std::string out;
  protocol::MessageWriter(out)
      .begin('P')
      .cstring(server_name)
      .cstring(query)
      .bytes(param_types)
      .finish();
  forwardToServer(out, 'P');
  pending_.back().bytes = key;
  pending_.back().statement = name;
  statements_.emplace(std::move(name), std::move(key));
}

void ClientSession::handleUnnamedParse(std::string_view raw, std::string_view query,
                                       std::string_view param_types) {
  std::string key(query);
  key.push_back('\0');
  key.append(param_types);
  unnamed_ = std::move(key);
  ++unnamed_serial_;
  forwardToServer(raw, 'P');
  pending_.back().unnamed = unnamed_serial_;
  server_->statements().setUnnamed({session_id_, unnamed_serial_});
}

bool ClientSession::prepareUnnamed() {
  if (!unnamed_) {
    // As PostgreSQL answers; never forwarded, since the connection may hold another
    // client's unnamed statement.
    refuse({.sqlstate = "26000", .message = "unnamed prepared statement does not exist"}, true);
    return false;
  }
  const upstream::ServerStatements::UnnamedOwner mine{session_id_, unnamed_serial_};
  if (server_->statements().unnamed() == mine) return true;
  const std::string_view key = *unnamed_;
  const auto nul = key.find('\0');
  std::string out;
  protocol::appendParse(out, "", key.substr(0, nul), key.substr(nul + 1));
  injectToServer(std::move(out), 'P');
  pending_.back().unnamed = unnamed_serial_;
  server_->statements().setUnnamed(mine);
  return true;
}

const std::string* ClientSession::serverStatementFor(std::string_view client_statement) {
  auto it = statements_.find(std::string(client_statement));
  if (it == statements_.end()) return nullptr;
  const std::string& key = it->second;
  if (const std::string* name = server_->statements().use(key)) return name;
  // Prepared on another server connection, or evicted from this one: prepare it here first;
  // the client does not expect that ParseComplete, so it is swallowed.
  const std::string& name = addServerStatement(key);
  const auto nul = key.find('\0');
  std::string out;
  protocol::MessageWriter(out)
      .begin('P')
      .cstring(name)
      .cstring(std::string_view(key).substr(0, nul))
      .bytes(std::string_view(key).substr(nul + 1))
      .finish();
  injectToServer(std::move(out), 'P');
  pending_.back().bytes = key;
  return &name;
}

const std::string& ClientSession::addServerStatement(const std::string& key) {
  // The server connection keeps at most MAX_PREPARED_STATEMENTS of pgro's statements: the
  // least recently used are closed first. Their clients keep them; the next Bind or Describe
  // prepares them again. Such a Close is answered by CloseComplete (swallowed), never by an
  // error, even in a failed transaction.
  while (auto evicted = server_->statements().evict()) {
    std::string out;
    protocol::MessageWriter(out).begin('C').byte('S').cstring(evicted->name).finish();
    injectToServer(std::move(out), 'C');
    pending_.back().bytes = std::move(evicted->key);
    pending_.back().statement = std::move(evicted->name);
  }
  return server_->statements().add(key);
}

void ClientSession::protocolViolation(const std::string& message) {
  ctx_->counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("protocol violation from client={} user={}: {}", client_address_, user_, message);
  fatal({.severity = "FATAL",
         .sqlstate = std::string(sqlstate::kProtocolViolation),
         .message = message});
}

std::shared_ptr<const policy::Verdict> ClientSession::admitParse(
    std::string_view body, std::shared_ptr<const policy::Verdict> verdict) {
  const auto parse = protocol::parseParse(body);
  if (!parse || verdict == nullptr) {
    protocolViolation("invalid Parse message");
    return nullptr;
  }
  return admitStatement(parse->query, true, std::move(verdict));
}

std::string ClientSession::editedParse(std::string_view body, const policy::Verdict& verdict) {
  const auto parse = protocol::parseParse(body);  // admitParse() checked it
  std::string out;
  protocol::appendParse(out, parse->statement, policy::applyEdits(parse->query, verdict.edits),
                        parse->param_types);
  return out;
}

asio::awaitable<void> ClientSession::handleQuery(std::string_view raw, std::string_view body) {
  const auto started = std::chrono::steady_clock::now();
  protocol::MessageReader reader(body);
  const std::string_view sql = reader.cstring();
  if (!reader.ok() || !reader.atEnd()) {
    protocolViolation("invalid Query message");
    co_return;
  }
  unnamed_.reset();  // a simple Query destroys the unnamed statement, whatever its outcome
  audit_.begin(sql);
  auto classified = co_await classifyText(sql);
  if (state_ == State::Closing) co_return;
  // raw and sql view into in_, which only clientLoop changes: still valid.
  audit_.shape(classified->fingerprint, sql);
  if (audit_.on() && classified->statements.size() > 1) {
    std::vector<std::string_view> texts;
    texts.reserve(classified->statements.size());
    for (const policy::StatementSpan& span : classified->statements) {
      texts.push_back(sql.substr(span.at, span.length));
    }
    audit_.split(texts, classified->refused_statement);
  }
  const auto verdict = admitStatement(sql, false, std::move(classified));
  if (verdict == nullptr) co_return;
  if (!verdict->sets.empty() &&
      std::all_of(verdict->sets.begin(), verdict->sets.end(),
                  [](const policy::SetAction& a) { return a.proxy_only; }) &&
      static_cast<std::size_t>(verdict->statement_count) == verdict->sets.size()) {
    // Only pgro's own settings (SET pgro.cache = off): answered here, never forwarded.
    std::string out;
    for (std::size_t i = 0; i < verdict->sets.size(); ++i) {
      protocol::appendCommandComplete(out, verdict->sets[i].is_reset ? "RESET" : "SET");
    }
    replyLocal(std::move(out), true);
    co_return;
  }
  // The verdict's edits, plus the session statements' when there are any (rare: only then
  // is anything copied).
  const std::vector<policy::TextEdit>* edits = &verdict->edits;
  std::vector<policy::TextEdit> planned;
  std::shared_ptr<ReplyTags> tags;
  if (!verdict->kinds.session_statements.empty()) {
    planned = verdict->edits;
    tags = std::make_shared<ReplyTags>();
    if (!planSessionStatements(*verdict, planned, *tags)) co_return;
    if (tags->tags.empty()) tags.reset();
    edits = &planned;
  }
  std::string key;
  std::optional<cache::InFlight::Leader> leader;
  FleetClaim fleet;
  if (verdict->cacheable && !settingsVerified()) co_await waitForSettings();
  CachePlan plan;
  if (cacheAllowed(*verdict)) plan = cachePlan(*verdict);
  if (plan.cache) {
    key = cacheKey('Q', sql);
    if (auto hit = ctx_->cache->get(key, plan.max_age)) {
      if (plan.counters != nullptr) plan.counters->hits.fetch_add(1, std::memory_order_relaxed);
      replyFromCache(*hit, started, audit::CacheOutcome::Hit);
      if (ctx_->cache->refreshDue(*hit) && edits->empty() && tags == nullptr) {
        co_await refreshCached(std::move(key), std::move(hit), raw, plan.policy);
      }
      co_return;
    }
    auto reply = co_await coalesce(key, leader);
    if (state_ == State::Closing) co_return;
    if (reply) {
      ctx_->counters.cache_coalesced.fetch_add(1, std::memory_order_relaxed);
      replyFromCache(*reply, started, audit::CacheOutcome::Coalesced);
      co_return;
    }
    if (leader) {
      reply = co_await fleetLookup(key, plan, fleet);
      if (state_ == State::Closing) co_return;
      if (reply) {
        leader->finish(reply);
        replyFromCache(*reply, started, audit::CacheOutcome::Hit);
        co_return;
      }
    }
  }
  // raw views into in_, which only this loop changes; still valid after the suspension.
  if (server_ == nullptr && !co_await ensureServer()) {
    if (!key.empty() && replyStale(key, started)) co_return;  // leader, or a waiter let down
    refuse(last_error_, false);
    co_return;
  }
  if (!leader) key.clear();  // the leader's reply was not cacheable: ask upstream ourselves
  ctx_->counters.queries_forwarded.fetch_add(1, std::memory_order_relaxed);
  server_->statements().setUnnamed({});
  if (edits->empty()) {
    forwardToServer(raw, 'Q');
  } else {
    std::string edited;
    protocol::appendQuery(edited, policy::applyEdits(sql, *edits));
    forwardToServer(edited, 'Q');
  }
  pending_.back().tags = std::move(tags);
  pending_.back().audit =
      audit_.forwarded(key.empty() ? audit::CacheOutcome::Bypass : audit::CacheOutcome::Miss);
  if (!key.empty()) {
    auto capture = std::make_shared<CacheCapture>();
    capture->key = std::move(key);
    capture->leader = std::move(leader);
    capture->started = std::chrono::steady_clock::now();
    capture->policy = plan.policy;
    capture->fleet = std::move(fleet);
    pending_.back().capture = std::move(capture);
  }
}

asio::awaitable<std::shared_ptr<const cache::CachedReply>> ClientSession::coalesce(
    const std::string& key, std::optional<cache::InFlight::Leader>& leader) {
  // Concurrent identical misses: one goes upstream, the others wait for its reply.
  auto wait = std::make_shared<CoalesceWait>(client_.socket().get_executor());
  auto ex = client_.socket().get_executor();
  const bool leads =
      ctx_->inflight->joinOrLead(key, [wait, ex](std::shared_ptr<const cache::CachedReply> reply) {
        asio::post(ex, [wait, reply = std::move(reply)]() mutable {
          wait->reply = std::move(reply);
          wait->done = true;
          wait->timer.cancel();
        });
      });
  if (leads) {
    leader.emplace(*ctx_->inflight, key);
    co_return nullptr;
  }
  wait->timer.expires_at(asio::steady_timer::time_point::max());
  boost::system::error_code ec;
  while (!wait->done && state_ != State::Closing) {
    co_await wait->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return wait->reply;
}

bool ClientSession::bufferedBatch(BufferedBatch& batch) const {
  if (unsynced_) return false;  // earlier messages still wait for their Sync upstream
  batch.end = in_pos_;
  const uint32_t max_len = ctx_->config->max_message_bytes;
  while (batch.count < batch.frames.size()) {
    auto r = protocol::nextFrame(std::string_view(in_).substr(batch.end), max_len);
    if (r.status != protocol::FrameStatus::Message) return false;
    batch.frames[batch.count++] = {r.frame.type, r.frame.body,
                                   std::string_view(in_).substr(batch.end, r.frame.total_size)};
    batch.end += r.frame.total_size;
    batch.shape.push_back(r.frame.type);
    if (r.frame.type == 'S') break;
  }
  const std::string& shape = batch.shape;
  return shape == "PBDES" || shape == "PBES" || shape == "BDES" || shape == "BES";
}

bool ClientSession::tryLocalDeallocate() {
  // Drivers drop statements with DEALLOCATE over the extended protocol too (psycopg 3):
  // a whole Parse/Bind/Describe?/Execute/Sync batch of it is answered here, since the
  // server knows the statement under pgro's name, shared with other clients.
  BufferedBatch batch;
  if (!bufferedBatch(batch) || batch.shape[0] != 'P') return false;
  protocol::MessageReader reader(batch.frames[0].body);
  const std::string_view name = reader.cstring();
  const std::string_view sql = reader.cstring();
  if (!reader.ok() || !name.empty() || sql.size() > 200) return false;
  const auto verdict = classifyStatement(*ctx_, sql, effectiveSearchPath());
  const auto& kinds = verdict->kinds;
  if (!verdict->allowed || verdict->statement_count != 1) return false;
  if (!forgetStatements(kinds)) return false;
  std::string out;
  protocol::MessageWriter(out).begin('1').finish();  // ParseComplete
  protocol::MessageWriter(out).begin('2').finish();  // BindComplete
  if (batch.shape.find('D') != std::string::npos) {
    protocol::MessageWriter(out).begin('n').finish();  // NoData
  }
  protocol::appendCommandComplete(out, kinds.deallocates_all ? "DEALLOCATE ALL" : "DEALLOCATE");
  replyLocal(std::move(out), true);
  in_pos_ = batch.end;
  return true;
}

asio::awaitable<bool> ClientSession::tryCachedBatch(
    std::shared_ptr<const policy::Verdict>& parse_verdict) {
  BufferedBatch batch;
  if (!bufferedBatch(batch)) co_return false;
  const auto& frames = batch.frames;
  const std::size_t count = batch.count;
  const std::size_t end = batch.end;
  const std::string& shape = batch.shape;

  std::size_t i = 0;
  std::string_view parse_name;
  std::string_view query;
  std::string_view param_types;
  if (frames[0].type == 'P') {
    protocol::MessageReader r(frames[0].body);
    parse_name = r.cstring();
    query = r.cstring();
    param_types = r.rest();
    // A named Parse that is a duplicate or over the client's limit gets its error on the
    // normal path.
    if (!r.ok() ||
        (!parse_name.empty() &&
         (statements_.count(std::string(parse_name)) != 0 ||
          statements_.size() >= static_cast<std::size_t>(ctx_->config->max_prepared_statements)))) {
      co_return false;
    }
    i = 1;
  }
  protocol::MessageReader bind(frames[i].body);
  const std::string_view portal = bind.cstring();
  const std::string_view bind_statement = bind.cstring();
  const std::string_view bind_rest = bind.rest();
  if (!bind.ok() || !portal.empty()) co_return false;
  if (i == 1) {
    if (bind_statement != parse_name) co_return false;
  } else {
    auto it = statements_.find(std::string(bind_statement));
    if (bind_statement.empty() || it == statements_.end()) co_return false;
    const std::string& stored = it->second;
    const auto nul = stored.find('\0');
    query = std::string_view(stored).substr(0, nul);
    param_types = std::string_view(stored).substr(nul + 1);
  }
  char describe_target = 0;
  if (shape.find('D') != std::string::npos) {
    protocol::MessageReader d(frames[i + 1].body);
    describe_target = d.byte();
    const std::string_view name = d.cstring();
    if (!d.ok() || !((describe_target == 'P' && name.empty()) ||
                     (describe_target == 'S' && name == bind_statement))) {
      co_return false;
    }
  }
  protocol::MessageReader exec(frames[count - 2].body);
  const std::string_view exec_portal = exec.cstring();
  const int32_t max_rows = exec.int32();
  if (!exec.ok() || !exec_portal.empty() || max_rows != 0) co_return false;

  const auto verdict = co_await classifyText(query);
  if (state_ == State::Closing) co_return true;
  if (i == 1) parse_verdict = verdict;  // for the normal path if the batch goes there
  if (verdict->allowed && verdict->cacheable && !settingsVerified()) co_await waitForSettings();
  if (!verdict->allowed || !verdict->edits.empty() || !cacheAllowed(*verdict)) co_return false;
  const CachePlan plan = cachePlan(*verdict);
  if (!plan.cache) co_return false;

  const auto started = std::chrono::steady_clock::now();
  std::string key = cacheKey('X', shape);
  key.push_back('\0');
  key += query;
  key.push_back('\0');
  key += param_types;
  key.push_back('\0');
  key += bind_rest;
  key.push_back(describe_target);

  // What the batch leaves behind on the client's side, also when it is answered from cache.
  auto remember_parse = [&] {
    if (i == 0) return;
    if (parse_name.empty()) {
      std::string key(query);  // the server never saw it: a later Bind prepares it there
      key.push_back('\0');
      key.append(param_types);
      unnamed_ = std::move(key);
      ++unnamed_serial_;
    } else {
      std::string stored(query);
      stored.push_back('\0');
      stored.append(param_types);
      statements_.emplace(std::string(parse_name), std::move(stored));
    }
  };
  std::optional<cache::InFlight::Leader> leader;
  auto reply = ctx_->cache->get(key, plan.max_age);
  auto outcome = audit::CacheOutcome::Hit;
  if (reply && plan.counters != nullptr) {
    plan.counters->hits.fetch_add(1, std::memory_order_relaxed);
  }
  FleetClaim fleet;
  if (!reply) {
    reply = co_await coalesce(key, leader);
    if (reply) ctx_->counters.cache_coalesced.fetch_add(1, std::memory_order_relaxed);
    outcome = audit::CacheOutcome::Coalesced;
    if (!reply && leader && state_ != State::Closing) {
      reply = co_await fleetLookup(key, plan, fleet);
      if (reply) {
        leader->finish(reply);
        outcome = audit::CacheOutcome::Hit;
      }
    }
  }
  if (state_ == State::Closing) co_return true;
  if (reply) {
    setActivity("active", query);
    remember_parse();
    audit_.begin(query, true, bind_statement, bind_rest);
    replyFromCache(*reply, started, outcome);
    in_pos_ = end;
    co_return true;
  }
  if (!leader) co_return false;  // the leader's reply was not cacheable: the normal path

  // This session asks upstream; everything the client receives for the batch is recorded.
  auto capture = std::make_shared<CacheCapture>();
  capture->key = std::move(key);
  capture->leader = std::move(leader);
  capture->policy = plan.policy;
  capture->fleet = std::move(fleet);
  // Connected first, so that an unavailable upstream can be answered from a stale entry.
  bool connect_failed = server_ == nullptr && state_ == State::Ready && !co_await ensureServer();
  if (connect_failed && state_ != State::Closing && replyStale(capture->key, started, [&] {
        audit_.begin(query, true, bind_statement, bind_rest);
      })) {
    setActivity("active", query);
    remember_parse();
    in_pos_ = end;
    co_return true;  // `capture` ends the flight: waiters ask upstream themselves
  }
  // The fill's cost (weighed by admission) is upstream time: from here, not from before the
  // wait for a pooled connection.
  capture->started = std::chrono::steady_clock::now();
  batch_capture_ = capture;
  for (std::size_t k = 0; k < count && state_ != State::Closing; ++k) {
    const auto& f = frames[k];
    if (f.type == 'P' && !admitParse(f.body, verdict)) continue;  // frames[0]: `query`
    bool server_ready = server_ != nullptr;
    if (!server_ready && state_ == State::Ready && !connect_failed) {
      server_ready = co_await ensureServer();
    }
    handleMessage(f.type, f.body, f.raw, server_ready);
  }
  batch_capture_.reset();
  in_pos_ = end;
  co_return true;
}

bool ClientSession::forgetStatements(const policy::StatementKinds& kinds) {
  if (kinds.deallocates_all) {
    statements_.clear();
    return true;
  }
  return kinds.deallocates.size() == 1 && statements_.erase(kinds.deallocates[0]) != 0;
}

// The client's protocol-level statement names live on server connections under pgro's names
// (shared between clients): DEALLOCATE of such a name, or DEALLOCATE ALL, only drops the
// client's mapping, wherever it stands in the string. The statement is blanked out of the
// text (an empty statement between semicolons is no statement to PostgreSQL) and its
// CommandComplete is made here, in its place among the server's. DISCARD PLANS, SEQUENCES
// and TEMP have nothing to discard that belongs to the client alone.
bool ClientSession::planSessionStatements(const policy::Verdict& verdict,
                                          std::vector<policy::TextEdit>& edits, ReplyTags& tags) {
  using Kind = policy::SessionStatement::Kind;
  const bool shared = ctx_->config->pool_mode == config::PoolMode::Transaction;
  int removed = 0;
  for (const policy::SessionStatement& statement : verdict.kinds.session_statements) {
    ReplyTag tag{.after = statement.index - removed};
    switch (statement.kind) {
      case Kind::Deallocate:
        if (statements_.count(statement.name) == 0) {
          // A name from SQL PREPARE: on the client's own connection (session pooling), or
          // prepared in this transaction.
          if (!shared || sql_statements_.count(statement.name) != 0) continue;
          refuse({.sqlstate = "26000",
                  .message = "prepared statement \"" + statement.name + "\" does not exist"},
                 false);
          return false;
        }
        tag.tag = "DEALLOCATE";
        tag.forget = statement.name;
        break;
      case Kind::DeallocateAll:
        tag.tag = "DEALLOCATE ALL";
        tag.forget_all = true;
        break;
      case Kind::DiscardPlans:
        tag.tag = "DISCARD PLANS";
        break;
      case Kind::DiscardSequences:
        tag.tag = "DISCARD SEQUENCES";
        break;
      case Kind::DiscardTemp:
        tag.tag = "DISCARD TEMP";
        break;
      case Kind::DiscardAll:
        if (verdict.statement_count > 1 || inTransaction() || server_batch_.size() > 0) {
          refuse(
              {.sqlstate = "25001", .message = "DISCARD ALL cannot run inside a transaction block"},
              false);
          return false;
        }
        discardSessionState();
        if (!shared) {
          // The client's own connection: PostgreSQL resets it (and drops pgro's statements
          // there), reporting the parameters it resets.
          if (server_ != nullptr) server_->statements().clear();
          continue;
        }
        tag.tag = "DISCARD ALL";
        break;
    }
    edits.push_back({statement.at, statement.length, std::string(statement.length, ' ')});
    ++removed;
    tags.tags.push_back(std::move(tag));
  }
  std::sort(edits.begin(), edits.end(),
            [](const policy::TextEdit& a, const policy::TextEdit& b) { return a.at < b.at; });
  if (removed < verdict.statement_count) return true;
  // Nothing left for the server: the whole string is answered here.
  std::string out;
  dueTags(tags, 'Z', out);
  replyLocal(std::move(out), true);
  return false;
}

std::size_t ClientSession::dueTags(ReplyTags& tags, char type, std::string& out) {
  if (tags.failed) return 0;
  std::size_t added = 0;
  while (tags.next < tags.tags.size() && tags.tags[tags.next].after <= tags.completes) {
    const ReplyTag& tag = tags.tags[tags.next++];
    if (tag.forget_all) statements_.clear();
    if (!tag.forget.empty()) statements_.erase(tag.forget);
    protocol::appendCommandComplete(out, tag.tag);
    ++added;
  }
  if (type == 'E') tags.failed = true;
  if (type == 'C') ++tags.completes;
  return added;
}

void ClientSession::discardSessionState() {
  statements_.clear();
  unnamed_.reset();
  cache_opt_out_ = false;
  if (ctx_->config->pool_mode != config::PoolMode::Transaction) {
    // PostgreSQL resets the settings of the client's own connection, as RESET ALL.
    unit_sets_.push_back({.is_reset_all = true});
    return;
  }
  // The settings as at login: the next borrowed connection is brought in line with them;
  // the client learns of its reported parameters that change, as PostgreSQL would tell it.
  std::string out;
  for (const auto& [name, value] : *login_params_) {
    auto it = client_params_.find(name);
    if (isReportedParameter(name) && (it == client_params_.end() || it->second != value)) {
      protocol::appendParameterStatus(out, name, value);
    }
  }
  client_params_.assign(login_params_);
  ++params_generation_;
  if (!out.empty()) replyLocal(std::move(out), false);
}

bool ClientSession::defaultIsolationIsSnapshot() const {
  auto it = client_params_.find("default_transaction_isolation");
  return it != client_params_.end() &&
         (it->second == "repeatable read" || it->second == "serializable");
}

bool ClientSession::cacheAllowed(const policy::Verdict& verdict) const {
  if (!verdict.cacheable || cache_opt_out_ || ctx_->cache == nullptr || !ctx_->cache->enabled()) {
    return false;
  }
  // A SET (LOCAL or not) earlier in this unit: the cache key's settings are not yet the ones
  // the statement runs under.
  if (!unit_sets_.empty()) return false;
  // Settings changed earlier that the server has not confirmed yet (read back at the end of
  // their unit): the key may not describe them.
  if (!settingsVerified()) return false;
  if (verdict.statement_count != 1) return false;
  // Extended-protocol messages sent upstream without a Sync yet: the server answers them only
  // when a Sync (or Query) reaches it, so this statement must go upstream too.
  if (unsynced_) return false;
  // In a failed transaction PostgreSQL answers every statement with an error; in a
  // REPEATABLE READ / SERIALIZABLE one the client asked for one snapshot across statements
  // (set when the BEGIN is admitted, before its reply).
  if (tx_status_ == 'E') return false;
  if (snapshot_transaction_) return false;
  return true;
}

ClientSession::CachePlan ClientSession::cachePlan(const policy::Verdict& verdict) {
  // A relaxed generation check per statement; the rule set is fetched only when it changed.
  const uint64_t generation = ctx_->cache_rules->generation();
  if (generation != cache_rules_generation_ || cache_rules_ == nullptr) {
    cache_rules_ = ctx_->cache_rules->current();
    cache_rules_generation_ = generation;
  }
  const policy::CacheRule* rule =
      verdict.fingerprint ? cache_rules_->find(*verdict.fingerprint) : nullptr;
  const auto treatment = policy::cacheTreatment(
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_->cache->ttl()), rule,
      verdict.hint_ttl);
  CachePlan plan;
  plan.cache = treatment.cache;
  plan.policy = {.ttl = std::nullopt,
                 .stale_if_error = treatment.stale_if_error,
                 .refresh_fraction = treatment.refresh_fraction};
  if ((rule != nullptr && rule->ttl) || verdict.hint_ttl) {
    // A lowered TTL applies to entries stored before it too (they were stored under a longer
    // one); a raised one from the next fill, as a new CACHE_TTL_SECONDS does.
    plan.max_age = treatment.ttl;
    plan.policy.ttl = treatment.ttl;
  }
  if (rule != nullptr) {
    plan.counters = rule->counters.get();
    plan.counters->matched.fetch_add(1, std::memory_order_relaxed);
  }
  return plan;
}

std::string ClientSession::cacheKey(char kind, std::string_view text) {
  // Everything that changes the bytes of a result: the database and every session setting
  // but those known not to (policy::settingChangesResults: fail closed, so a setting added
  // to the allowlist is in the key unless marked neutral there), and the policy generation:
  // a catalog loaded again may know a replaced function, whose old answers must not be served.
  const uint64_t policy = ctx_->policy_generation.load(std::memory_order_relaxed);
  if (cache_key_generation_ != params_generation_ || cache_key_policy_ != policy) {
    cache_key_prefix_.clear();
    cache_key_prefix_ += database_;
    cache_key_prefix_.push_back('\0');
    cache_key_prefix_ += std::to_string(policy);
    cache_key_prefix_.push_back('\0');
    for (const auto& [name, value] : client_params_) {  // ordered by name
      if (!policy::settingChangesResults(name)) continue;
      cache_key_prefix_ += name;
      cache_key_prefix_.push_back('=');
      cache_key_prefix_ += value;
      cache_key_prefix_.push_back('\0');
    }
    cache_key_generation_ = params_generation_;
    cache_key_policy_ = policy;
  }
  std::string key;
  key.reserve(cache_key_prefix_.size() + 1 + text.size());
  key += cache_key_prefix_;
  key.push_back(kind);
  key += text;
  return key;
}

void ClientSession::replyFromCache(const cache::CachedReply& reply,
                                   std::chrono::steady_clock::time_point started,
                                   audit::CacheOutcome outcome) {
  // A follower of a coalesced miss is counted as coalesced by its caller, not as a hit.
  if (outcome == audit::CacheOutcome::Hit) {
    ctx_->counters.cache_hits.fetch_add(1, std::memory_order_relaxed);
  }
  if (outcome == audit::CacheOutcome::Hit || outcome == audit::CacheOutcome::Coalesced) {
    // What answering upstream took when the entry was filled.
    ctx_->counters.cache_saved_micros.fetch_add(static_cast<uint64_t>(reply.cost.count()),
                                                std::memory_order_relaxed);
  }
  auto cut = governorCutCached(reply.bytes);  // past this login's result limits
  audit_.cached(outcome, cut ? std::string_view(*cut) : std::string_view(reply.bytes));
  metrics::observe(
      ctx_->metrics.query_duration_cache_hit,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (cut) {
    abortServerTransaction();  // an error fails a transaction block, as upstream
    replyLocal(std::move(*cut), true);
    return;
  }
  std::string out;
  out.reserve(reply.bytes.size() + 6);
  out += reply.bytes;
  replyLocal(std::move(out), true);
}

asio::awaitable<void> ClientSession::refreshCached(std::string key,
                                                   std::shared_ptr<const cache::CachedReply> hit,
                                                   std::string_view query,
                                                   cache::EntryPolicy policy) {
  // Only between transactions with nothing in flight: the refresh is then the only statement
  // on the connection it borrows, which ensureServer() brings to exactly this session's
  // settings, the ones in the key (cacheAllowed() held for it).
  if (tx_status_ != 'I' || !pending_.empty() || unsynced_ || !server_batch_.empty() ||
      state_ != State::Ready) {
    co_return;
  }
  auto& running = ctx_->counters.cache_refreshes_running;
  const int64_t limit = std::min<int64_t>(ctx_->config->cache_refresh_concurrency,
                                          std::max(1, ctx_->config->pool_size - 1));
  if (running.fetch_add(1, std::memory_order_relaxed) >= limit) {
    running.fetch_sub(1, std::memory_order_relaxed);
    co_return;  // a later hit claims it
  }
  std::shared_ptr<void> slot(nullptr, [ctx = ctx_](void*) {
    ctx->counters.cache_refreshes_running.fetch_sub(1, std::memory_order_relaxed);
  });
  if (!ctx_->cache->claimRefresh(key, *hit)) co_return;
  // The client has its reply; its next message waits for this at most POOL_TIMEOUT_SECONDS.
  if (server_ == nullptr && !co_await ensureServer()) {
    spdlog::debug("cache refresh not sent: {}", last_error_.message);
    co_return;
  }
  if (state_ != State::Ready) co_return;
  ctx_->counters.cache_refreshes.fetch_add(1, std::memory_order_relaxed);
  server_->statements().setUnnamed({});
  forwardToServer(query, 'Q');
  auto capture = std::make_shared<CacheCapture>();
  capture->key = std::move(key);
  capture->started = std::chrono::steady_clock::now();
  capture->refresh_slot = std::move(slot);
  capture->policy = std::move(policy);
  capture->fleet.key = fleetKey(capture->key);
  pending_.back().refresh = true;
  pending_.back().capture = std::move(capture);
}

bool ClientSession::replyStale(std::string_view key, std::chrono::steady_clock::time_point started,
                               const std::function<void()>& begin_record, std::string_view sent) {
  if (ctx_->cache == nullptr || !cache::upstreamUnavailable(last_error_.sqlstate)) return false;
  const auto reply = ctx_->cache->getStale(key);
  if (reply == nullptr) return false;
  auto cut = governorCutCached(reply->bytes);
  const std::string_view body = cut ? std::string_view(*cut) : std::string_view(reply->bytes);
  if (!body.starts_with(sent)) return false;
  if (begin_record) begin_record();
  audit_.cached(audit::CacheOutcome::Stale, reply->bytes);
  const auto age = std::chrono::steady_clock::now() - reply->stored;
  ctx_->counters.cache_stale_served.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("stale-if-error: user={} client={} answered from a cached result {} s old: {}",
               user_, client_address_,
               std::chrono::duration_cast<std::chrono::seconds>(age).count(), last_error_.message);
  std::string out;
  protocol::appendError(out,
                        {.severity = "NOTICE",
                         .sqlstate = std::string(protocol::sqlstate::kSuccessfulCompletion),
                         .message = cache::staleNoticeMessage(age, last_error_.message)},
                        'N');
  out += body.substr(sent.size());
  metrics::observe(
      ctx_->metrics.query_duration_cache_hit,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  replyLocal(std::move(out), true);
  return true;
}

std::shared_ptr<const policy::Verdict> ClientSession::admitStatement(
    std::string_view sql, bool extended, std::shared_ptr<const policy::Verdict> verdict) {
  if (!verdict->allowed) {
    ctx_->counters.queries_refused.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(ctx_->counters.refusals_mu);
      ++ctx_->counters.refused_by_reason[std::string(policy::refusalName(verdict->refusal))];
    }
    if (verdict->refusal == policy::Refusal::Sleep) {
      ctx_->governor.add(GovernorLimit::PgSleep, governor_user_);
    }
    spdlog::warn("refused: user={} client={} reason=\"{}\" query=\"{}\"", user_, client_address_,
                 verdict->message, sql.substr(0, 200));
    audit_.refused(sql, verdict->message);
    refuse(refusalError(*verdict), extended);
    return nullptr;
  }
  if (auto error = sessionRefusal(*verdict, extended)) {
    ctx_->counters.queries_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("refused: user={} client={} reason=\"{}\" query=\"{}\"", user_, client_address_,
                 error->message, sql.substr(0, 200));
    audit_.refused(sql, error->message);
    refuse(*error, extended);
    return nullptr;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("query user={} client={}: {}", user_, client_address_, sql.substr(0, 200));
  }
  setActivity("active", sql);
  if (verdict->is_cache_reset && !extended) {
    answerCacheReset(sql);
    return nullptr;
  }
  if (auto error = trackHeldCursors(verdict->kinds)) {
    refuse(*error, extended);
    return nullptr;
  }
  trackSettings(*verdict);
  // pgro.* settings never reach the server; any other SET, or a statement the rules see as
  // setting something without naming it, may change the server's.
  if ((verdict->kinds.has_set && verdict->sets.empty()) ||
      std::any_of(verdict->sets.begin(), verdict->sets.end(),
                  [](const policy::SetAction& set) { return !set.proxy_only; })) {
    ++settings_changes_;  // read back at the end of the unit (cleanBeforeRelease)
    if (extended) parsed_sets_ = true;
  }
  if (ctx_->config->pool_mode == config::PoolMode::Transaction) {
    for (const auto& prepared : verdict->kinds.prepares) sql_statements_.insert(prepared.name);
    if (verdict->kinds.seeds_random) seeded_random_ = true;
  }
  return verdict;
}

std::optional<protocol::PgError> ClientSession::sessionRefusal(const policy::Verdict& verdict,
                                                               bool extended) const {
  const auto& kinds = verdict.kinds;
  if (extended) {
    for (const auto& statement : kinds.session_statements) {
      using Kind = policy::SessionStatement::Kind;
      if (statement.kind == Kind::DiscardAll || statement.kind == Kind::DeallocateAll) {
        // Upstream they would drop the statements pgro keeps on a shared connection.
        return protocol::PgError{
            .sqlstate = std::string(sqlstate::kFeatureNotSupported),
            .message = "pgro: DISCARD ALL and DEALLOCATE ALL are supported as simple queries only"};
      }
    }
  }
  return std::nullopt;
}

std::optional<protocol::PgError> ClientSession::trackHeldCursors(
    const policy::StatementKinds& kinds) {
  if (ctx_->config->pool_mode != config::PoolMode::Transaction) return std::nullopt;
  auto& holding = ctx_->counters.sessions_holding_cursors;
  const bool held = !held_cursors_.empty();
  bool counted = held;
  if (!kinds.holds.empty() && !held) {
    // Each holding session keeps a pool connection: at most half the pool, so that others
    // are always served.
    const int64_t limit = std::max(1, ctx_->config->pool_size / 2);
    if (holding.fetch_add(1, std::memory_order_relaxed) >= limit) {
      holding.fetch_sub(1, std::memory_order_relaxed);
      return protocol::PgError{
          .sqlstate = std::string(sqlstate::kConfigurationLimitExceeded),
          .message = "pgro: too many sessions hold cursors WITH HOLD (at most " +
                     std::to_string(limit) +
                     " with POOL_SIZE=" + std::to_string(ctx_->config->pool_size) + ")",
          .hint =
              "Each keeps a server connection until its cursors are closed; CLOSE them, or "
              "use POOL_MODE=session."};
    }
    counted = true;
  }
  for (const auto& name : kinds.holds) held_cursors_.insert(name);
  for (const auto& name : kinds.closes) held_cursors_.erase(name);
  if (kinds.closes_all) held_cursors_.clear();
  if (counted && held_cursors_.empty()) holding.fetch_sub(1, std::memory_order_relaxed);
  return std::nullopt;
}

void ClientSession::answerCacheReset(std::string_view sql) {
  // `SELECT rustproxy_cache_reset()` / `SELECT pgro_cache_reset()`: answered by pgro, one
  // row, one bigint column named like the function: the entries cleared.
  std::string lowered(sql);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string column = lowered.find("rustproxy_cache_reset") != std::string::npos
                                 ? "rustproxy_cache_reset"
                                 : "pgro_cache_reset";
  const uint64_t cleared = ctx_->cache != nullptr ? ctx_->cache->clear() : 0;
  if (ctx_->l2 != nullptr) ctx_->l2->reset();  // every replica's, through the generation
  spdlog::info("cache reset by user={} client={}: {} entries cleared", user_, client_address_,
               cleared);
  std::string out;
  protocol::appendRowDescription(out, column, protocol::kInt8Oid, 8);
  protocol::appendDataRow(out, {std::to_string(cleared)});
  protocol::appendCommandComplete(out, "SELECT 1");
  replyLocal(std::move(out), true);
}

void ClientSession::trackSettings(const policy::Verdict& verdict) {
  const auto& kinds = verdict.kinds;
  if (kinds.begins_transaction) {
    snapshot_transaction_ = kinds.isolation == "repeatable read" ||
                            kinds.isolation == "serializable" || defaultIsolationIsSnapshot();
  } else if (kinds.ends_transaction) {
    snapshot_transaction_ = false;
  } else if (!kinds.isolation.empty()) {  // SET TRANSACTION ISOLATION LEVEL ...
    snapshot_transaction_ =
        kinds.isolation == "repeatable read" || kinds.isolation == "serializable";
  }
  // pgro.* settings are pgro's own and take effect at once; the others wait for the unit of
  // work to commit (endUnit).
  for (const auto& set : verdict.sets) {
    if (set.proxy_only) {
      if (set.name == "pgro.cache") {
        cache_opt_out_ =
            !set.is_reset && !set.is_reset_all &&
            (set.value == "off" || set.value == "false" || set.value == "0" || set.value == "no");
      }
      continue;
    }
    if (set.is_reset_all) cache_opt_out_ = false;
    unit_sets_.push_back(set);
  }
}

void ClientSession::endUnit(char status) {
  if (status != 'I') {
    unit_explicit_ = true;
    return;
  }
  // A transaction block ends with COMMIT or ROLLBACK (COMMIT of a failed block is reported
  // as ROLLBACK); a unit without one is an implicit transaction, undone by any error.
  const bool committed = unit_explicit_ ? unit_committed_ : !unit_error_;
  if (committed && !unit_sets_.empty()) applySets(unit_sets_);
  unit_sets_.clear();
  unit_explicit_ = false;
  unit_error_ = false;
  unit_committed_ = false;
}

// Session settings the client changed with SET are replayed on whichever server connection it
// borrows next (transaction pooling). Reported parameters come back by ParameterStatus; the
// others are recorded here. SET LOCAL ended with the transaction: nothing to keep.
void ClientSession::applySets(const std::vector<policy::SetAction>& sets) {
  for (const auto& set : sets) {
    if (set.is_local) continue;
    ++params_generation_;
    if (server_ != nullptr) server_->markSettings(session_id_, params_generation_);
    if (set.is_reset_all) {
      auto& params = client_params_.edit();
      for (auto it = params.begin(); it != params.end();) {
        it = isReportedParameter(it->first) ? std::next(it) : params.erase(it);
      }
      if (server_ != nullptr) server_->appliedSettings().clear();
      continue;
    }
    const std::string name = canonicalParameterName(set.name);
    if (isReportedParameter(name)) continue;
    if (set.is_reset) {
      client_params_.edit().erase(name);
      if (server_ != nullptr) server_->appliedSettings().erase(name);
    } else {
      client_params_.edit()[name] = set.value;
      if (server_ != nullptr) server_->appliedSettings()[name] = set.value;
    }
  }
}

std::string_view ClientSession::effectiveSearchPath() const {
  for (auto it = unit_sets_.rbegin(); it != unit_sets_.rend(); ++it) {
    if (it->is_reset_all) break;
    if (canonicalParameterName(it->name) == "search_path") {
      return it->is_reset ? std::string_view() : std::string_view(it->value);
    }
  }
  auto found = client_params_.find("search_path");
  return found == client_params_.end() ? std::string_view() : std::string_view(found->second);
}

asio::awaitable<bool> ClientSession::ensureServer() {
  if (server_ != nullptr) co_return true;
  const auto wait_started = std::chrono::steady_clock::now();
  if (!co_await acquireActiveSlot()) co_return false;
  auto result = co_await ctx_->pool->acquire(client_.socket().get_executor(), loop_);
  metrics::observe(
      ctx_->metrics.pool_wait,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_started).count());
  if (!result.connection) {
    releaseActiveSlot();
    last_error_ = result.error;
    last_error_.severity = "ERROR";
    co_return false;
  }
  if (state_ == State::Closing) {
    releaseActiveSlot();
    ctx_->pool->release(std::move(result.connection), true);
    last_error_ = {.sqlstate = std::string(sqlstate::kAdminShutdown),
                   .message = "terminating connection"};
    co_return false;
  }
  server_ = std::move(result.connection);
  to_server_.attach(&server_->stream(), weak_from_this());
  if (!co_await syncParameters()) {
    to_server_.detach();
    ctx_->pool->release(std::move(server_), false);
    server_ = nullptr;
    releaseActiveSlot();
    co_return false;
  }
  pump_running_ = true;
  asio::co_spawn(client_.socket().get_executor(), serverPump(shared_from_this(), server_),
                 asio::detached);
  co_return true;
}

}  // namespace pgro::session
