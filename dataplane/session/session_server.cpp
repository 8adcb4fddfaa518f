// Query phase, server side: forward the attached server connection's replies to the client
// byte for byte, look only at the messages pgro must act on, and give the connection back
// to the pool at ReadyForQuery 'I' when nothing is pending (transaction pooling).
#include <array>
#include <optional>
#include <set>
#include <vector>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "cache/stale.hpp"
#include "protocol/frontend.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/sqlstate.hpp"
#include "session/client_session.hpp"
#include "session/session_parameters.hpp"

namespace pgro::session {

namespace {

namespace sqlstate = protocol::sqlstate;

constexpr std::size_t kBackpressureHigh = 1024 * 1024;
constexpr std::size_t kBackpressureLow = 256 * 1024;
// Replies larger than this are never needed whole by the proxy: they stream through.
constexpr uint32_t kMaxServerMessage = 1u << 30;

// DataRow and CopyData carry the bulk of a result and may be large: they stream through
// without being buffered whole. Every other message is small and looked at whole (it may
// end the reply to a frontend message, or be one pgro acts on).
bool streams(char type) {
  return type == 'D' || type == 'd';
}

// Whether backend message `type` is the last reply to frontend message `message`
// (PostgreSQL docs 55.2.3, "Extended Query").
bool endsReply(char message, char type) {
  switch (message) {
    case 'Q':
    case 'S':
      return type == 'Z';
    case 'P':
      return type == '1';
    case 'B':
      return type == '2';
    case 'C':
      return type == '3';
    case 'D':
      return type == 'T' || type == 'n';
    case 'E':
      return type == 'C' || type == 'I' || type == 's';
    default:
      return false;
  }
}

void putInt16(std::string& out, int16_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void putInt32(std::string& out, int32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Parse's parameter types: `count` times text (OID 25).
std::string textParameterTypes(int16_t count) {
  std::string out;
  putInt16(out, count);
  for (int16_t i = 0; i < count; ++i) putInt32(out, 25);
  return out;
}

// Bind's parameters after the statement name: all in text format, nullopt as NULL; results
// in text.
std::string textBindValues(std::initializer_list<std::optional<std::string_view>> values) {
  std::string out;
  putInt16(out, 0);  // every parameter in text format
  putInt16(out, static_cast<int16_t>(values.size()));
  for (const auto& value : values) {
    if (!value) {
      putInt32(out, -1);
      continue;
    }
    putInt32(out, static_cast<int32_t>(value->size()));
    out.append(*value);
  }
  putInt16(out, 0);  // results in text format
  return out;
}

using SettingChanges = std::vector<std::pair<std::string_view, std::optional<std::string_view>>>;

// How a batch of set_config() calls pgro sent for itself went.
struct SetConfigOutcome {
  bool usable = true;  // ReadyForQuery 'I' came back: the connection is in a known state
  std::optional<protocol::PgError> error;  // the first error (or why it is not usable)
  std::vector<std::string> values;         // what each set_config() returned, in order
};

std::string quoteIdent(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

asio::awaitable<SetConfigOutcome> runSetConfig(upstream::ServerConnection& server,
                                               const SettingChanges& changes, bool is_local) {
  // Names and values travel as Bind parameters, never as SQL text; NULL resets.
  server.statements().setUnnamed({});  // pgro's Parse replaces the unnamed statement
  std::string out;
  protocol::appendParse(out, "",
                        is_local ? "SELECT pg_catalog.set_config($1, $2, true)"
                                 : "SELECT pg_catalog.set_config($1, $2, false)",
                        textParameterTypes(2));
  for (const auto& [name, value] : changes) {
    protocol::appendBind(out, "", "", textBindValues({name, value}));
    protocol::appendExecute(out, "", 0);
  }
  protocol::appendSync(out);
  SetConfigOutcome outcome;
  boost::system::error_code ec;
  co_await server.stream().writeAll(out, ec);
  auto& buf = server.readBuffer();
  while (!ec) {
    auto r = protocol::nextFrame(buf, kMaxServerMessage);
    if (r.status == protocol::FrameStatus::ProtocolError) break;
    if (r.status == protocol::FrameStatus::NeedMoreData) {
      co_await server.stream().readSome(buf, ec);
      continue;
    }
    protocol::MessageReader reader(r.frame.body);
    if (r.frame.type == 'S') {
      auto name = std::string(reader.cstring());
      auto value = std::string(reader.cstring());
      if (upstream::ServerConnection::readOnlyViolated(name, value)) {
        outcome.usable = false;
        outcome.error =
            protocol::PgError{.sqlstate = std::string(sqlstate::kInternalError),
                              .message = "pgro: upstream session stopped being read-only"};
      }
      server.setParameter(name, std::move(value));
    } else if (r.frame.type == 'D') {
      // set_config() returns the value as PostgreSQL spells it.
      const int16_t columns = reader.int16();
      const int32_t length = reader.int32();
      outcome.values.emplace_back(columns == 1 && length >= 0
                                      ? reader.bytes(static_cast<std::size_t>(length))
                                      : std::string_view());
    } else if (r.frame.type == 'E' && !outcome.error) {
      auto fields = protocol::parseErrorFields(r.frame.body);
      spdlog::warn("could not apply client settings upstream: {}",
                   fields ? std::string(fields->message) : std::string("?"));
      outcome.error =
          protocol::PgError{.sqlstate = fields ? std::string(fields->sqlstate)
                                               : std::string(sqlstate::kInternalError),
                            .message = fields ? std::string(fields->message) : "invalid setting"};
    }
    const char type = r.frame.type;
    const char status = type == 'Z' ? reader.byte() : 'I';
    buf.erase(0, r.frame.total_size);
    if (type == 'Z') {
      if (status != 'I') outcome.usable = false;
      co_return outcome;
    }
  }
  outcome.usable = false;
  outcome.error = protocol::PgError{
      .sqlstate = std::string(sqlstate::kConnectionFailure),
      .message = "pgro: upstream connection lost while applying session settings"};
  co_return outcome;
}

}  // namespace

asio::awaitable<bool> ClientSession::syncParameters() {
  if (server_->settingsMatch(session_id_, params_generation_)) co_return true;
  server_->markSettings(session_id_, params_generation_);
  // set_config() stores the value exactly as PostgreSQL reported or stored it; `SET x TO '...'`
  // would re-parse list values (search_path = '"$user", public' would become one schema).
  SettingChanges changes;
  const auto& reported = server_->parameters();
  auto& applied = server_->appliedSettings();
  for (const auto& [name, value] : client_params_) {
    if (!isSyncableParameter(name)) continue;
    auto it = reported.find(name);
    const bool is_reported = it != reported.end();
    if (!is_reported) it = applied.find(name);
    const bool known = is_reported || it != applied.end();
    if (known && it->second == value) continue;
    changes.emplace_back(name, value);
    if (!is_reported) applied[name] = value;
  }
  std::vector<std::string> resets;  // erased from `applied` below: own the names
  for (auto it = applied.begin(); it != applied.end();) {
    if (!client_params_.contains(it->first)) {
      resets.push_back(it->first);
      it = applied.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& name : resets) changes.emplace_back(name, std::nullopt);
  if (changes.empty()) co_return true;
  const SetConfigOutcome outcome = co_await runSetConfig(*server_, changes, false);
  if (outcome.error) last_error_ = *outcome.error;
  co_return outcome.usable && !outcome.error;
}

asio::awaitable<bool> ClientSession::checkStartupSettings() {
  // PostgreSQL refuses a login whose startup values it cannot apply (TimeZone=Mars). pgro
  // applies them later, on each borrowed connection, so it tries each new value once at
  // login with set_config(..., is_local = true) in an implicit transaction, which leaves
  // the connection as it was. Without a connection now, they are checked when applied.
  // The session then holds (and reports) each value as PostgreSQL spells it.
  SettingChanges untried;
  const auto& server_values = ctx_->upstream_parameters;
  for (auto& [name, value] : client_params_.edit()) {
    if (!isSyncableParameter(name)) continue;
    auto it = server_values.find(name);
    if (it != server_values.end() && it->second == value) continue;
    if (auto canonical = ctx_->accepted_settings.find(name, value)) {
      value = std::move(*canonical);
      continue;
    }
    untried.emplace_back(name, value);
  }
  if (untried.empty()) co_return true;
  auto result = co_await ctx_->pool->acquire(client_.socket().get_executor(), loop_);
  if (!result.connection) co_return true;
  auto server = std::move(result.connection);
  const SetConfigOutcome outcome = co_await runSetConfig(*server, untried, true);
  ctx_->pool->release(std::move(server), outcome.usable);
  if (!outcome.usable) co_return true;
  if (outcome.error) {
    fatal({.severity = "FATAL",
           .sqlstate = outcome.error->sqlstate,
           .message = outcome.error->message});
    co_return false;
  }
  std::vector<std::pair<std::string, std::string>> spelled;  // `untried` views client_params_
  for (std::size_t i = 0; i < untried.size(); ++i) {
    const auto& [name, value] = untried[i];
    std::string canonical = i < outcome.values.size() ? outcome.values[i] : std::string(*value);
    ctx_->accepted_settings.add(name, *value, canonical);
    spelled.emplace_back(name, std::move(canonical));
  }
  for (auto& [name, canonical] : spelled) client_params_.edit()[name] = std::move(canonical);
  co_return true;
}

asio::awaitable<void> ClientSession::serverPump(std::shared_ptr<ClientSession> self,
                                                upstream::ServerConnectionPtr server) {
  auto& stream = server->stream();
  auto& buf = server->readBuffer();
  std::size_t passthrough = 0;  // bytes of a streamed message still to forward
  bool dropping = false;        // ... or to drop (a row past the governor's result limits)
  bool detach = false;
  boost::system::error_code ec;
  while (true) {
    // Frame what we have: the leftover of the last read plus this read.
    std::string_view data = buf;
    std::size_t pos = 0;
    std::size_t forwarded = 0;
    to_client_.cork();  // one write per server read, whatever it holds
    while (pos < data.size()) {
      if (passthrough > 0) {
        const std::size_t take = std::min(passthrough, data.size() - pos);
        pos += take;
        passthrough -= take;
        if (dropping) forwarded = pos;
        continue;
      }
      if (data.size() - pos < protocol::kTypedHeaderSize) break;
      const char type = data[pos];
      const uint32_t len = protocol::readUint32(data.data() + pos + 1);
      if (len < 4 || len > kMaxServerMessage) {
        serverLost("invalid message from upstream");
        co_return;
      }
      const std::size_t total = std::size_t{len} + 1;
      if (streams(type) && !readingSettings()) {
        passthrough = total;
        const bool capped = result_capped_.has_value();
        const auto limit = capped ? std::nullopt : governorRowOverLimit(total);
        if (capped || limit) {
          // The rows before it go out first, then the 54000.
          emitStreamed(data.substr(forwarded, pos - forwarded));
          forwarded = pos;
          dropping = true;
          if (limit) governorCapResult(*limit);
          continue;
        }
        dropping = false;
        if (!pending_.empty()) {
          audit::StatementTrail::countReply(pending_.front().audit.get(), type, total);
        }
        continue;
      }
      if (data.size() - pos < total) break;
      if (type == 'Z' && cancel_flight_ != nullptr && !cancel_flight_->done &&
          cancel_flight_->pid == server->backendPid()) {
        // The unit ends: its connection is not used again before the cancel has landed.
        emitStreamed(data.substr(forwarded, pos - forwarded));
        forwarded = pos;
        to_client_.uncork();
        co_await awaitGovernorCancel();
        to_client_.cork();
        data = buf;  // only this pump changes buf
      }
      emitStreamed(data.substr(forwarded, pos - forwarded));
      const std::string_view raw = data.substr(pos, total);
      pos += total;
      forwarded = pos;
      if (!handleServerMessage(type, raw.substr(protocol::kTypedHeaderSize), raw)) {
        co_return;  // connection closed (tripwire)
      }
      if (type == 'Z' && releasable()) {
        detach = true;
        break;
      }
    }
    emitStreamed(data.substr(forwarded, pos - forwarded));
    to_client_.uncork();
    buf.erase(0, pos);
    if (detach) {
      pump_running_ = false;
      detachServer(buf.empty());
      if (shutdown_requested_) {
        fatal({.severity = "FATAL",
               .sqlstate = std::string(sqlstate::kAdminShutdown),
               .message = "terminating connection due to administrator command"});
      }
      co_return;
    }
    if (to_client_.queued() > kBackpressureHigh) co_await to_client_.waitBelow(kBackpressureLow);
    if (to_client_.failed()) client_gone_ = true;
    if (client_gone_) break;

    const bool got = co_await stream.readSome(buf, ec);
    if (stream.hasWirePending()) to_server_.flush();
    if (client_gone_) break;
    if (!got) {
      serverLost(ec == asio::error::eof ? "upstream closed the connection" : ec.message());
      co_return;
    }
  }
  // The client went away while this connection was attached.
  pump_running_ = false;
  const bool clean = releasable() && buf.empty() && sql_statements_.empty() && !seeded_random_ &&
                     settingsVerified();
  if (!clean && (pending_syncs_ > 0 || unsynced_)) {
    // Stop the now orphaned query instead of letting it run to completion upstream.
    asio::co_spawn(client_.socket().get_executor(),
                   upstream::sendCancel(client_.socket().get_executor(), ctx_->pool->settings(),
                                        server->backendPid(), server->backendKey()),
                   asio::detached);
  }
  detachServer(clean);
  (void)self;
}

bool ClientSession::handleServerMessage(char type, std::string_view body, std::string_view raw) {
  protocol::MessageReader r(body);
  switch (type) {
    case 'S': {  // ParameterStatus: asynchronous, never ends a reply
      const std::string name(r.cstring());
      std::string value(r.cstring());
      if (!r.ok()) break;
      if (upstream::ServerConnection::readOnlyViolated(name, value)) {
        ctx_->counters.tripwire_trips.fetch_add(1, std::memory_order_relaxed);
        spdlog::error(
            "tripwire: upstream reported default_transaction_read_only={} on a session of "
            "user={} client={}; connection closed",
            value, user_, client_address_);
        server_->markBroken();
        serverLost("upstream session stopped being read-only");
        return false;
      }
      server_->setParameter(name, value);
      if (isSyncableParameter(name)) {
        client_params_.edit()[name] = std::move(value);
        server_->markSettings(session_id_, ++params_generation_);
      }
      to_client_.append(raw);
      return true;
    }
    case 'N':  // NoticeResponse, NotificationResponse: asynchronous
    case 'A':
      to_client_.append(raw);
      return true;
    case 'G':    // CopyInResponse
    case 'W': {  // CopyBothResponse
      // COPY FROM STDIN (or replication COPY BOTH) is never allowed: abort it upstream and
      // tell the client. The server answers the CopyFail with an error we do not forward.
      std::string fail;
      protocol::appendCopyFail(fail, "COPY FROM is not permitted through pgro");
      to_server_.append(fail);
      swallow_next_error_ = true;
      std::string out;
      protocol::appendError(out, {.sqlstate = std::string(sqlstate::kFeatureNotSupported),
                                  .message = "pgro: COPY FROM STDIN is not supported"});
      to_client_.appendOwned(std::move(out));
      return true;
    }
    default:
      break;
  }
  result_meter_.reset();  // rows are counted per result: every other message ends or starts one
  if (pending_.empty()) {
    // Nothing asked: an unsolicited message (a FATAL before the server closes). Forward it.
    to_client_.append(raw);
    return true;
  }
  if (stale_error_) {  // after the held error, only the connection's end is expected
    serverLost("upstream sent more after " + stale_error_->sqlstate);
    return false;
  }
  Pending& front = pending_.front();
  if (type == 'E' && holdForStale(front, body, raw)) return true;
  if (front.tags && !result_capped_) {
    std::string tags;
    // Each tag is the CommandComplete of a statement of the string that pgro answered.
    for (std::size_t n = dueTags(*front.tags, type, tags); n > 0; --n) audit_.advance(front.audit);
    if (!tags.empty()) to_client_.appendOwned(std::move(tags));
  }
  if (type == 'E' && front.kind == Pending::Kind::Internal) {
    if (front.settings) readback_failed_ = true;
    return true;
  }
  if (type == 'E' && front.refresh) {
    front.capture->ok = false;  // the old entry stays until it expires
    return true;
  }
  if (type == 'E') {
    unit_error_ = true;
    if (swallow_next_error_) {
      swallow_next_error_ = false;
    } else if (result_capped_) {
      // The client has its 54000; this is the server's answer to the cancel (57014), or
      // whatever else ended the statement. Either way the unit is over for the client.
    } else if (!governorError(body)) {
      to_client_.append(raw);
    }
    if (front.capture) front.capture->ok = false;  // errors are never cached
    auditServerError(body);
    onServerError();
    return true;
  }
  if (front.kind == Pending::Kind::Internal) {
    if (type == 'D' && front.settings) collectServerSetting(body);
    if (type == 'Z') {
      tx_status_ = r.byte();  // the session's true status, for the replies queued behind
      --pending_syncs_;
      if (front.settings) adoptServerSettings(front);
      pending_.pop_front();
      emitLocalReplies();
      governorArmIdle();
    }
    return true;
  }
  if (front.kind != Pending::Kind::Swallow) {
    if (!front.refresh && (!result_capped_ || type == 'Z')) to_client_.append(raw);
    audit::StatementTrail::countReply(front.audit.get(), type, raw.size());
    if (front.capture && type != 'Z') captureReply(*front.capture, raw);
  }
  if (type == 'C') {
    const std::string_view tag = r.cstring();
    if (tag == "COMMIT" || tag == "ROLLBACK") unit_committed_ = tag == "COMMIT";
    // A string's next statement; after a result cap the client sees none of the rest.
    if (front.message == 'Q' && !result_capped_) audit_.advance(front.audit);
  }
  if (!endsReply(front.message, type)) return true;
  if (front.audit) audit_.finish(std::move(front.audit));
  if (type == 'Z') {
    result_capped_.reset();
    tx_status_ = r.byte();
    endUnit(tx_status_);
    --pending_syncs_;
    if (front.kind == Pending::Kind::Forward) {
      metrics::observe(
          ctx_->metrics.query_duration_forwarded,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - front.sent).count());
    }
    if (pending_syncs_ == 0) {
      setActivity(tx_status_ == 'I'   ? "idle"
                  : tx_status_ == 'T' ? "idle in transaction"
                                      : "idle in transaction (aborted)",
                  {});
    }
    if (front.capture) finishCapture(front);
  }
  const bool statement_done =
      front.kind == Pending::Kind::Forward &&
      (front.message == 'Q' || front.message == 'E' || front.message == 'S');
  pending_.pop_front();
  if (statement_done) governorStatementDone();
  emitLocalReplies();
  if (type == 'Z' && tx_status_ == 'I' && pending_.empty()) cleanBeforeRelease();
  return true;
}

void ClientSession::cleanBeforeRelease() {
  std::string out;
  auto internal = [&](const std::string& sql) {
    protocol::appendQuery(out, sql);
    pending_.push_back({.kind = Pending::Kind::Internal, .message = 'Q'});
    ++pending_syncs_;
  };
  if (!settingsVerified()) {
    // Parameters the client can SET are visible in pg_settings under pg_read_all_data.
    internal("SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session'");
    pending_.back().settings = true;
    pending_.back().settings_epoch = settings_changes_;
    readback_failed_ = false;
    readback_in_flight_ = true;
    server_settings_.clear();
  }
  if (ctx_->config->pool_mode != config::PoolMode::Transaction ||
      (sql_statements_.empty() && !seeded_random_)) {
    to_server_.append(out);
    return;
  }
  // One Query each: a name whose PREPARE failed (or that the client deallocated) fails alone.
  for (const std::string& name : sql_statements_) internal("DEALLOCATE " + quoteIdent(name));
  sql_statements_.clear();
  if (seeded_random_) {
    int64_t seed = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof(seed));
    // setseed() takes a value in [-1, 1].
    internal("SELECT pg_catalog.setseed(" +
             std::to_string(static_cast<double>(seed % 1000000007) / 1000000007.0) + ")");
    seeded_random_ = false;
  }
  to_server_.append(out);
}

void ClientSession::collectServerSetting(std::string_view data_row) {
  protocol::MessageReader r(data_row);
  if (r.int16() != 2) {
    readback_failed_ = true;
    return;
  }
  std::array<std::string, 2> columns;
  for (auto& column : columns) {
    const int32_t length = r.int32();
    if (length < 0) {
      readback_failed_ = true;
      return;
    }
    column = std::string(r.bytes(static_cast<std::size_t>(length)));
  }
  if (!r.ok()) {
    readback_failed_ = true;
    return;
  }
  server_settings_.emplace_back(std::move(columns[0]), std::move(columns[1]));
}

void ClientSession::adoptServerSettings(const Pending& readback) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.swap(server_settings_);
  readback_in_flight_ = false;
  settings_read_.cancel();
  if (readback_failed_ || server_ == nullptr) {
    // The server's settings are unknown (a statement_timeout of 1 ms stops the read-back):
    // the connection is not reused; the client keeps its modelled settings.
    spdlog::warn(
        "could not read the session settings back (user={} client={}); the server "
        "connection is closed after this client's unit",
        user_, client_address_);
    if (server_ != nullptr) server_->markBroken();
    settings_verified_ = readback.settings_epoch;
    return;
  }
  // Reported parameters follow ParameterStatus; every other syncable one is exactly what the
  // server has at session level (what it does not list is at the connection's default).
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : client_params_) {
    if (isReportedParameter(name) || !isSyncableParameter(name)) params.emplace(name, value);
  }
  auto& applied = server_->appliedSettings();
  applied.clear();
  for (auto& [name, value] : rows) {
    std::string canonical = canonicalParameterName(name);
    if (isReportedParameter(canonical) || !isSyncableParameter(canonical)) continue;
    applied[canonical] = value;
    params[std::move(canonical)] = std::move(value);
  }
  if (params != client_params_.map()) {
    client_params_.assign(std::move(params));
    ++params_generation_;
  }
  server_->markSettings(session_id_, params_generation_);
  settings_verified_ = readback.settings_epoch;
}

void ClientSession::onServerError() {
  Pending& front = pending_.front();
  if (front.message == 'Q') return;  // a simple Query still ends with ReadyForQuery
  if (front.message == 'S') return;  // an error at Sync (e.g. commit failure) precedes 'Z'
  // Extended protocol: the server discards messages until Sync, so nothing before the next
  // Sync will be answered. A failed or skipped Parse left no statement behind, and a skipped
  // Close (an eviction) left its statement in place. Undone newest first: a statement
  // evicted and then prepared again in the skipped part ends up under its old name.
  std::size_t skipped = 0;
  while (skipped < pending_.size() && pending_[skipped].message != 'S') ++skipped;
  for (std::size_t i = skipped; i-- > 0;) {
    Pending& p = pending_[i];
    if (p.message == 'P' && p.unnamed != 0) {
      // No unnamed statement is left on the connection; a client Parse that failed leaves the
      // client without one (a re-preparation that failed keeps the client's: it is retried).
      server_->statements().setUnnamed({});
      if (p.kind == Pending::Kind::Forward && p.unnamed == unnamed_serial_) unnamed_.reset();
      continue;
    }
    if (p.kind == Pending::Kind::Local) {
      local_queued_ -= p.bytes.size();
      continue;
    }
    if (p.bytes.empty()) continue;
    if (p.message == 'P') {
      server_->statements().forget(p.bytes);
      if (!p.statement.empty()) statements_.erase(p.statement);
    } else if (p.message == 'C' && p.kind == Pending::Kind::Swallow) {
      server_->statements().restore({std::move(p.bytes), std::move(p.statement)});
    }
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(skipped));
}

void ClientSession::emitStreamed(std::string_view bytes) {
  if (bytes.empty()) return;
  // Rows of pgro's own queries are pgro's.
  if (!pending_.empty() && pending_.front().kind == Pending::Kind::Internal) return;
  if (pending_.empty() || !pending_.front().refresh) to_client_.append(bytes);
  if (!pending_.empty() && pending_.front().capture) captureReply(*pending_.front().capture, bytes);
}

void ClientSession::captureReply(CacheCapture& capture, std::string_view bytes) {
  if (!capture.ok) return;
  if (capture.bytes.size() + bytes.size() > ctx_->cache->limits().max_entry_bytes) {
    // Too large to cache: it streams through; stop recording and free what was kept.
    capture.ok = false;
    std::string().swap(capture.bytes);
    return;
  }
  capture.bytes.append(bytes);
}

void ClientSession::finishCapture(Pending& entry) {
  auto& capture = *entry.capture;
  std::shared_ptr<const cache::CachedReply> reply;
  if (capture.ok && !capture.bytes.empty()) {
    const auto now = std::chrono::steady_clock::now();
    const auto cost = std::chrono::duration_cast<std::chrono::microseconds>(now - capture.started);
    auto stored = std::make_shared<cache::CachedReply>();
    stored->bytes = capture.bytes;
    stored->stored = now;
    stored->expires = now + capture.policy.ttl.value_or(ctx_->cache->ttl());
    stored->cost = cost;
    ctx_->cache->put(capture.key, std::move(capture.bytes), cost, capture.policy);
    reply = std::move(stored);
  }
  fleetFill(capture.fleet, reply.get());
  if (capture.leader) capture.leader->finish(reply);
  entry.capture.reset();
}

bool ClientSession::releasable() const {
  return ctx_->config->pool_mode == config::PoolMode::Transaction && pending_.empty() &&
         !unsynced_ && tx_status_ == 'I' && server_batch_.empty() && to_server_.idle() &&
         held_cursors_.empty();
}

void ClientSession::detachServer(bool reusable) {
  if (server_ == nullptr) return;
  to_server_.detach();
  auto server = std::move(server_);
  server_ = nullptr;
  ctx_->pool->release(std::move(server), reusable);
  releaseActiveSlot();
  governorArmIdle();
}

bool ClientSession::holdForStale(const Pending& front, std::string_view body,
                                 std::string_view raw) {
  if (front.message != 'Q' || front.kind != Pending::Kind::Forward || !front.capture ||
      front.tags || pending_.size() != 1 || tx_status_ != 'I' || result_capped_ ||
      ctx_->cache == nullptr) {
    return false;
  }
  const auto fields = protocol::parseErrorFields(body);
  if (!fields || !cache::upstreamUnavailable(fields->sqlstate)) return false;
  // What the client already has (usually the RowDescription, sent before the query ran) must
  // be where the entry begins: the entry then completes the reply.
  const auto entry = ctx_->cache->getStale(front.capture->key);
  if (entry == nullptr || !std::string_view(entry->bytes).starts_with(front.capture->bytes)) {
    return false;
  }
  stale_error_ = protocol::PgError{.sqlstate = std::string(fields->sqlstate),
                                   .message = std::string(fields->message)};
  stale_error_raw_ = std::string(raw);
  server_->markBroken();  // never lent again, whatever comes next
  return true;
}

bool ClientSession::answerStaleAfterLoss(const std::string& reason) {
  protocol::PgError error = std::move(*stale_error_);
  stale_error_.reset();
  std::string raw = std::move(stale_error_raw_);
  if (state_ == State::Closing || server_ == nullptr || pending_.size() != 1) {
    to_client_.append(raw);
    return false;
  }
  spdlog::warn("upstream connection lost (user={} client={}): {}: {}", user_, client_address_,
               error.message, reason);
  Pending front = std::move(pending_.front());
  pending_.clear();
  pending_syncs_ = 0;
  front.capture->ok = false;  // nothing to store; waiters of its flight ask for themselves
  fleetFill(front.capture->fleet, nullptr);  // gives a fleet lease back
  unit_error_ = true;
  endUnit('I');
  governorStatementDone();
  detachServer(false);
  setActivity("idle", {});
  last_error_ = error;
  const auto resume = [&] { audit_.resume(std::move(front.audit)); };
  if (replyStale(front.capture->key, front.sent, resume, front.capture->bytes)) {
    return true;
  }
  if (front.audit) audit_.finish(std::move(front.audit), error.sqlstate);
  to_client_.append(raw);
  return false;
}

void ClientSession::serverLost(const std::string& reason) {
  pump_running_ = false;
  if (stale_error_ && answerStaleAfterLoss(reason)) return;
  auditAbandoned(sqlstate::kConnectionFailure);
  to_client_.uncork();
  if (server_ != nullptr) {
    spdlog::warn("upstream connection lost (user={} client={}): {}", user_, client_address_,
                 reason);
    server_->markBroken();
    detachServer(false);
  }
  if (state_ == State::Closing) return;
  // The server usually sent its own FATAL (forwarded above); like PostgreSQL, the client
  // connection ends with the server's.
  fatal({.severity = "FATAL",
         .sqlstate = std::string(sqlstate::kConnectionFailure),
         .message = "pgro: upstream connection lost: " + reason});
}

}  // namespace pgro::session
