// One client connection, from the startup packet to Terminate.
//
// Two coroutines share the session's event loop (so no locking between them):
//  - clientLoop reads client messages and decides per message: forward to the attached server
//    connection, answer locally, or refuse;
//  - serverPump, alive while a server connection is attached, forwards the server's replies to
//    the client byte for byte and returns the connection to the pool at ReadyForQuery 'I'
//    (transaction pooling) when nothing is pending.
// Replies pgro produces itself while server replies are still pending are queued behind them
// (Pending), so the client sees answers in the order it asked.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "audit/statement_trail.hpp"
#include "cache/inflight.hpp"
#include "cache/result_cache.hpp"
#include "policy/cache_rules.hpp"
#include "policy/classifier.hpp"
#include "protocol/framing.hpp"
#include "protocol/messages.hpp"
#include "session/governor.hpp"
#include "session/lazy_timer.hpp"
#include "session/outbound.hpp"
#include "session/proxy_context.hpp"
#include "upstream/server_connection.hpp"

namespace pgro::session {

namespace asio = boost::asio;

// Snapshot for listings (admin API).
struct SessionInfo {
  std::string user;
  std::string client_address;
  std::string application_name;
  std::string state;
  std::chrono::system_clock::time_point since;
  std::string query;
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  // `ticket`: the connection's share of MAX_UNAUTHENTICATED_PER_ADDRESS, given back at login.
  ClientSession(asio::ip::tcp::socket socket, std::shared_ptr<ProxyContext> context, int loop,
                UnauthenticatedLimit::Ticket ticket = {});
  ~ClientSession();

  void start();

  // Thread-safe snapshot for the admin API's session listing.
  SessionInfo info() const;

  // Thread-safe entry points (they post to the session's loop).
  void requestShutdown();  // end the session once it is outside a transaction
  void terminate();        // end it now with 57P01
  void cancelQuery();      // forward a CancelRequest to the backend serving this client

 private:
  enum class State {
    Startup,         // reading the startup packet, answering SSL/GSS requests
    Authenticating,  // SCRAM exchange with the client
    Ready,           // query loop
    SkipUntilSync,   // an extended-protocol error: discard messages until Sync
    Closing,         // FATAL sent or peer gone; no further input is processed
  };
  // What the client is owed, in order: one entry per forwarded message the server answers,
  // and the replies pgro makes itself. The pump matches server replies to the front entry.
  // The fleet cache's key (CACHE_L2_URL) for a local miss, made before the query ran: the
  // fill is written there too, unless a reset came in between. Empty: not written through.
  struct FleetClaim {
    std::string key;
    bool lease = false;  // this session holds the lease of `key`
  };
  // Recording of a cacheable reply as it streams to the client.
  struct CacheCapture {
    std::string key;
    std::string bytes;
    bool ok = true;
    std::optional<cache::InFlight::Leader> leader;  // waiters are released when it ends
    std::chrono::steady_clock::time_point started;
    // A background refresh's share of CACHE_REFRESH_CONCURRENCY, given back when it ends.
    std::shared_ptr<void> refresh_slot;
    cache::EntryPolicy policy;  // from the statement's cache rule and TTL hint
    // Where the fill is written through in the fleet cache (empty key: nowhere).
    FleetClaim fleet;
  };
  // How a statement that cacheAllowed() is cached: its cache rule and TTL hint applied.
  struct CachePlan {
    bool cache = false;  // false: a nocache rule or a hint of 0
    // Older entries are not served: a rule's or hint's TTL, lower than the one they had.
    std::chrono::steady_clock::duration max_age = std::chrono::steady_clock::duration::max();
    cache::EntryPolicy policy;
    // The matching rule's counters; valid until the next co_await (the rules may change).
    policy::CacheRuleCounters* counters = nullptr;
  };
  // A follower of a coalesced miss waits here for the leader's reply.
  struct CoalesceWait {
    explicit CoalesceWait(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::shared_ptr<const cache::CachedReply> reply;
    bool done = false;
  };

  // CommandCompletes pgro adds to a forwarded Query's reply for the statements it removed
  // from the text (session statements: DEALLOCATE, DISCARD). Each is sent once `after` of
  // the server's CommandCompletes have passed, and not at all if the server reports an error
  // first (PostgreSQL stops the string there).
  struct ReplyTag {
    int after = 0;
    std::string tag;
    std::string forget;       // a client statement dropped when the tag is sent
    bool forget_all = false;  // every client statement dropped when the tag is sent
  };
  struct ReplyTags {
    std::vector<ReplyTag> tags;  // in order of `after`
    std::size_t next = 0;
    int completes = 0;  // the server's CommandCompletes so far
    bool failed = false;
  };

  struct Pending {
    enum class Kind : uint8_t {
      Forward,   // a client message: its replies go to the client
      Swallow,   // a message pgro injected: its replies (but errors) are not forwarded
      Local,     // a reply pgro made: sent when it reaches the front
      Internal,  // a Query pgro sent for itself: no reply is forwarded, not even an error
    };
    Kind kind = Kind::Forward;
    char message = 0;    // the frontend message answered: 'Q','P','B','D','E','C','S'
    bool ready = false;  // Local: append ReadyForQuery with the status current at emission
    // Local: the reply. Parse: the statement key (to forget on error). Injected Close: the
    // evicted statement's key (to restore if the Close is skipped after an error).
    std::string bytes;
    std::string statement;  // Parse: the client's statement name. Injected Close: pgro's name
    uint64_t unnamed = 0;   // Parse of the unnamed statement: the client's unnamed_serial_
    // Internal: the read-back of the session's settings (its DataRows are collected, not
    // streamed), and the value of settings_changes_ it verifies.
    bool settings = false;
    uint64_t settings_epoch = 0;
    std::shared_ptr<CacheCapture> capture;  // the reply is recorded for the cache
    // A background refresh (stale-while-revalidate): its reply is recorded for the cache
    // (`capture`) and nothing of it, an error neither, is forwarded to the client.
    bool refresh = false;
    std::shared_ptr<ReplyTags> tags;             // Query: tags pgro adds to the reply
    std::chrono::steady_clock::time_point sent;  // Query/Sync: for the latency histogram
    std::unique_ptr<audit::Record> audit;        // Query/Execute: its audit record, if any
  };

  asio::awaitable<void> run(std::shared_ptr<ClientSession> self);
  // Startup phase (session_startup.cpp).
  asio::awaitable<bool> startup();
  // Answers an SSLRequest: 'N', or 'S' and the TLS handshake. False if the session ends.
  asio::awaitable<bool> negotiateTls();
  asio::awaitable<bool> authenticate(const protocol::StartupMessage& startup);
  asio::awaitable<std::optional<std::string>> readAuthMessage();
  // Before an authentication outcome is sent: waits as long as the address's failed logins
  // say (LoginThrottle), and records this attempt's failure first, so a client that hangs up
  // during the wait still counts. False if the session ended meanwhile.
  asio::awaitable<bool> throttleLogin(bool failed);
  // The AUTH_TIMEOUT_SECONDS deadline passed before ReadyForQuery.
  void loginTimedOut();
  // Holds CLIENT_BUFFER_BUDGET_BYTES for a partly received message of `total` bytes; false
  // (and a FATAL 53200) when the budget has no room for it.
  bool holdBuffer(std::size_t total);
  void releaseBuffer();
  bool acceptParameters(const protocol::StartupMessage& startup);
  void sendStartupReply();
  // Query phase (session_query.cpp).
  asio::awaitable<void> clientLoop();
  asio::awaitable<bool> readMore();
  void handleMessage(char type, std::string_view body, std::string_view raw, bool server_ready);
  // The verdict for a statement text (session_classify.cpp): from the loop's verdict cache,
  // else classified (long texts on the classification pool); a verdict naming functions the
  // catalog does not know waits for a catalog look-up and is classified again; one that
  // calls extension or user functions waits for a check of pg_proc when the last one is
  // older than CATALOG_CHECK_INTERVAL_MS. Callers check state_ after it (the session may
  // have been closed meanwhile).
  asio::awaitable<std::shared_ptr<const policy::Verdict>> classifyText(std::string_view sql);
  // classifyText without the check of pg_proc.
  asio::awaitable<std::shared_ptr<const policy::Verdict>> judgeText(std::string_view sql);
  asio::awaitable<std::shared_ptr<const policy::Verdict>> runClassifier(
      std::string_view sql, std::shared_ptr<const policy::ClassifierOptions> options);
  asio::awaitable<CatalogRefresher::Outcome> awaitCatalogLookup(
      const std::vector<std::string>& names);
  // `verdict` (from classifyText) when allowed and the statement still needs an answer;
  // nullptr when refused or already answered by pgro.
  std::shared_ptr<const policy::Verdict> admitStatement(
      std::string_view sql, bool extended, std::shared_ptr<const policy::Verdict> verdict);
  // A Parse message: `verdict` is its text's, null when the message is malformed.
  std::shared_ptr<const policy::Verdict> admitParse(std::string_view body,
                                                    std::shared_ptr<const policy::Verdict> verdict);
  // Before a connection goes back to the pool (transaction pooling), pgro undoes what the
  // client left on it that the next borrower would inherit: statements prepared with SQL
  // PREPARE are deallocated, a setseed() is covered by a random seed. Internal queries; the
  // connection is released after their replies.
  void cleanBeforeRelease();
  // What pgro refuses of an allowed statement because of how the session shares server
  // connections (SQL PREPARE under transaction pooling, ...).
  std::optional<protocol::PgError> sessionRefusal(const policy::Verdict& verdict,
                                                  bool extended) const;
  // The Parse message with the verdict's edits applied to its text.
  static std::string editedParse(std::string_view body, const policy::Verdict& verdict);
  asio::awaitable<void> handleQuery(std::string_view raw, std::string_view body);
  // An extended-protocol batch Parse?/Bind/Describe?/Execute/Sync already buffered whole:
  // answered from the cache, or forwarded with its reply recorded. False: not cacheable,
  // nothing consumed; `parse_verdict` is then the verdict of the batch's Parse, if it has one
  // and got that far.
  asio::awaitable<bool> tryCachedBatch(std::shared_ptr<const policy::Verdict>& parse_verdict);
  // A Parse?/Bind/Describe?/Execute/Sync batch whose messages are all buffered already.
  struct BufferedBatch {
    struct Frame {
      char type = 0;
      std::string_view body;
      std::string_view raw;
    };
    std::array<Frame, 5> frames{};
    std::size_t count = 0;
    std::size_t end = 0;  // in_ offset after the Sync
    std::string shape;    // the message types, e.g. "PBDES"
  };
  bool bufferedBatch(BufferedBatch& batch) const;
  bool tryLocalDeallocate();
  // The session statements of an admitted Query (DEALLOCATE, DISCARD): answered for the
  // client, removed from the text that goes upstream. Returns false when the Query has been
  // answered or refused here; otherwise `edits` and `tags` say what to forward.
  bool planSessionStatements(const policy::Verdict& verdict, std::vector<policy::TextEdit>& edits,
                             ReplyTags& tags);
  // Before server message `type` answering a Query with pgro's tags: appends the tags now
  // due to `out` (and drops the statements they name). Returns how many.
  std::size_t dueTags(ReplyTags& tags, char type, std::string& out);
  // DISCARD ALL: the client's statements, pgro settings and session settings as at login.
  void discardSessionState();
  // Waits for another session's identical in-flight miss, or becomes its leader.
  asio::awaitable<std::shared_ptr<const cache::CachedReply>> coalesce(
      const std::string& key, std::optional<cache::InFlight::Leader>& leader);
  // The fleet cache after a local miss this session leads: the reply from L2 or from another
  // replica's fill (the local cache is filled with it), or nullptr: run the query, with
  // `claim` saying where to write its result through (session_fleet.cpp).
  asio::awaitable<std::shared_ptr<const cache::CachedReply>> fleetLookup(const std::string& key,
                                                                         const CachePlan& plan,
                                                                         FleetClaim& claim);
  // The end of a capture: its reply (null: nothing cacheable) written through to L2.
  void fleetFill(const FleetClaim& claim, const cache::CachedReply* reply);
  // The fleet cache's key for a local cache key, empty when L2 is off or not usable now.
  std::string fleetKey(std::string_view key) const;
  // Result cache (simple protocol): key, admission, replay.
  bool cacheAllowed(const policy::Verdict& verdict) const;
  // For a statement that cacheAllowed(): its rule (counted as matched) and hint applied.
  CachePlan cachePlan(const policy::Verdict& verdict);
  std::string cacheKey(char kind, std::string_view text);
  void replyFromCache(const cache::CachedReply& reply,
                      std::chrono::steady_clock::time_point started, audit::CacheOutcome outcome);
  // Stale-if-error: after ensureServer() failed with last_error_, answers from the entry
  // under `key` if it is within its stale window and the error means upstream is
  // unavailable. false: nothing sent, the caller reports the error. `begin_record` starts the
  // audit record of a statement that has none yet (an extended-protocol batch), only when the
  // entry is served; the record's cache outcome is then `stale`.
  // `sent`: what of the reply the client already has (a RowDescription forwarded before the
  // upstream went away); the entry must begin with it, and only the rest is sent.
  bool replyStale(std::string_view key, std::chrono::steady_clock::time_point started,
                  const std::function<void()>& begin_record = {}, std::string_view sent = {});
  // Stale-while-revalidate: after the client was answered from `hit`, due for refresh,
  // sends `query` (the client's Query message) upstream once more to replace the entry, if
  // this session is first to claim it, between transactions, and a refresh slot is free.
  asio::awaitable<void> refreshCached(std::string key,
                                      std::shared_ptr<const cache::CachedReply> hit,
                                      std::string_view query, cache::EntryPolicy policy);
  void finishCapture(Pending& entry);
  void emitStreamed(std::string_view bytes);
  void captureReply(CacheCapture& capture, std::string_view bytes);
  bool defaultIsolationIsSnapshot() const;
  // Drops the client's names a DEALLOCATE (or DEALLOCATE ALL) refers to; false if it names
  // none of them.
  bool forgetStatements(const policy::StatementKinds& kinds);
  void answerCacheReset(std::string_view sql);
  void trackSettings(const policy::Verdict& verdict);
  // At a ReadyForQuery: ends the unit of work when `status` is 'I' (applies its SETs if it
  // committed).
  void endUnit(char status);
  void applySets(const std::vector<policy::SetAction>& sets);
  // The read-back of the session's settings (see settings_changes_): its rows, then the
  // model replaced by them at its ReadyForQuery.
  bool readingSettings() const {
    return !pending_.empty() && pending_.front().kind == Pending::Kind::Internal &&
           pending_.front().settings;
  }
  void collectServerSetting(std::string_view data_row);
  void adoptServerSettings(const Pending& readback);
  bool settingsVerified() const { return settings_changes_ == settings_verified_; }
  // Before a cache lookup: a read-back already under way is waited for, so that the
  // statement right after a SET can be answered from the cache under the verified settings.
  asio::awaitable<void> waitForSettings();
  // search_path as the next statement will see it (a SET earlier in this unit counts).
  std::string_view effectiveSearchPath() const;
  void protocolViolation(const std::string& message);
  asio::awaitable<bool> ensureServer();
  asio::awaitable<bool> syncParameters();
  // At login: startup setting values the upstream has not accepted yet are tried there once;
  // false (and FATAL, as PostgreSQL) when one is invalid.
  asio::awaitable<bool> checkStartupSettings();
  void forwardToServer(std::string_view raw, char type);
  void injectToServer(std::string bytes, char type);
  void replyLocal(std::string bytes, bool ready);
  // Named prepared statements under transaction pooling (PgBouncer 1.21's approach).
  void handleNamedParse(std::string_view statement, std::string_view query,
                        std::string_view param_types);
  void handleUnnamedParse(std::string_view raw, std::string_view query,
                          std::string_view param_types);
  // Makes the client's unnamed statement the server connection's before a Bind or Describe
  // of it; false (and a 26000 error) when the client has none.
  bool prepareUnnamed();
  const std::string* serverStatementFor(std::string_view client_statement);
  // Records `key` as prepared on the server connection under a new name, after injecting a
  // Close for the least recently used statements when the connection holds its limit.
  const std::string& addServerStatement(const std::string& key);
  void onServerError();
  asio::awaitable<void> flushToServer();
  void emitLocalReplies();
  // Replies pgro makes itself (cache hits, refusals) obey the same bound as forwarded ones: a
  // client that pipelines requests without reading the answers stops being read, whether
  // the replies wait in to_client_ or in pending_ behind a server reply.
  asio::awaitable<void> waitForReplyRoom();
  void refuse(const protocol::PgError& error, bool extended);
  // Fails the server's transaction block after pgro refused a statement in it.
  void abortServerTransaction();
  // Server side (session_server.cpp).
  asio::awaitable<void> serverPump(std::shared_ptr<ClientSession> self,
                                   upstream::ServerConnectionPtr server);
  bool handleServerMessage(char type, std::string_view body, std::string_view raw);
  void onReadyForQuery(char status);
  void detachServer(bool reusable);
  void serverLost(const std::string& reason);
  // Stale-if-error after a cacheable simple Query was sent: an upstream going away (57P01 at a
  // fast shutdown, 57P02, 08xxx) before any of the reply reached the client, outside a
  // transaction, with a stale entry for it. The error is held (stale_error_) and, when the
  // connection ends, the Query is answered from the entry as if connecting had failed.
  bool holdForStale(const Pending& front, std::string_view body, std::string_view raw);
  // The connection ended with an error held: true when the Query was answered stale; false
  // (the held error forwarded) when it could not be.
  bool answerStaleAfterLoss(const std::string& reason);

  // Query governor (session_governor.cpp): the limits in force for this login, read again
  // after a reload; the statement timer (QUERY_TIMEOUT_SECONDS), armed when a statement goes
  // upstream and stopped when its reply ends; the 57014 answering pgro's own cancel, made to
  // name the limit (true: `body` was replaced for the client).
  const GovernorLimits& limits();
  // MAX_USER_CONNECTIONS at login (false: FATAL 53300 sent); MAX_USER_ACTIVE_QUERIES before
  // a pool connection is taken (false: last_error_ says why), given back when it is.
  bool admitLogin();
  asio::awaitable<bool> acquireActiveSlot();
  void releaseActiveSlot();
  void governorStatementSent();
  void governorStatementDone();
  void queryTimedOut();
  bool governorError(std::string_view body);
  // MAX_RESULT_ROWS / MAX_RESULT_BYTES for a row message of `size` bytes streaming to the
  // client: the limit it passes (it must not reach the client), else nullopt.
  std::optional<GovernorLimit> governorRowOverLimit(std::size_t size);
  // After the rows within the limit: the client gets the 54000, the statement is cancelled
  // upstream, and the rest of the unit's replies up to its ReadyForQuery are swallowed
  // (result_capped_).
  void governorCapResult(GovernorLimit limit);
  // A cached reply past the login's result limits: the part within them and the 54000,
  // counted and logged; nullopt when it is within them.
  std::optional<std::string> governorCutCached(std::string_view reply);
  // A CancelRequest for the attached backend, sent by the governor. Until PostgreSQL has
  // taken it (the postmaster closes the cancel connection after signalling the backend), the
  // pump holds the unit's ReadyForQuery: a cancel that arrives late then finds the backend
  // idle, where PostgreSQL ignores it, and never the next statement on the connection.
  void governorCancel();
  asio::awaitable<void> awaitGovernorCancel();
  // (Re)arms or stops the idle timer for what the session is doing now; called when pgro
  // starts and stops waiting for the client and when a reply or a server connection ends.
  void governorArmIdle();
  void idleTimedOut(bool holding);
  void stopIdleTimer();
  // Audit log glue (session_audit.cpp).
  void startAudit();
  // An ErrorResponse from the server: the records it ends (the failed statement's, and those
  // of Executes the server now skips until Sync) get its SQLSTATE.
  void auditServerError(std::string_view body);
  // Replies that will never come (server or session gone): their records end with `sqlstate`.
  void auditAbandoned(std::string_view sqlstate);
  // The text of the client's statement `name` ("" = unnamed), empty when it has none.
  std::string_view statementText(std::string_view name) const;

  void fatal(const protocol::PgError& error);
  void closeNow();
  bool releasable() const;
  bool inTransaction() const { return tx_status_ != 'I'; }

  net::Stream client_;
  std::shared_ptr<ProxyContext> ctx_;
  const int loop_;
  std::string client_address_;
  std::string address_key_;  // what the per-address login limits count (addressKey)
  UnauthenticatedLimit::Ticket login_ticket_;
  std::size_t buffer_held_ = 0;  // bytes of CLIENT_BUFFER_BUDGET_BYTES this session holds
  asio::steady_timer* throttle_wait_ = nullptr;  // set while throttleLogin() waits
  // _pq_. startup options, all unrecognized (none is supported): NegotiateProtocolVersion.
  std::vector<std::string> unknown_protocol_options_;

  State state_ = State::Startup;
  std::string in_;          // unprocessed client bytes
  std::size_t in_pos_ = 0;  // start of unprocessed bytes in in_
  Outbound to_client_;
  Outbound to_server_;
  std::size_t local_queued_ = 0;  // bytes of Local entries in pending_
  LazyTimer local_drained_;       // cancelled when local_queued_ falls below the low mark

  std::string user_;
  std::string governor_user_;  // user_ as the governor's metric label (governor.hpp)
  std::string database_;
  SessionParams client_params_;  // the client's session settings
  // client_params_ at login (DISCARD ALL), shared with sessions that logged in alike.
  std::shared_ptr<const std::map<std::string, std::string>> login_params_;
  const uint64_t session_id_;       // process-unique, never reused
  uint64_t params_generation_ = 1;  // bumped whenever client_params_ changes
  int32_t proxy_pid_ = 0;
  int32_t proxy_key_ = 0;
  bool registered_ = false;

  upstream::ServerConnectionPtr server_;
  std::deque<Pending> pending_;
  int pending_syncs_ = 0;  // Query/Sync entries in pending_ (their ReadyForQuery is due)
  bool unsynced_ = false;  // extended-protocol messages sent upstream since the last Sync
  char tx_status_ = 'I';   // from the last ReadyForQuery
  // The client's named statements: name -> key (query text + '\0' + parameter types).
  std::unordered_map<std::string, std::string> statements_;
  std::string server_batch_;      // client messages for the server, written at the end of a batch
  protocol::PgError last_error_;  // why ensureServer() failed
  std::optional<protocol::PgError> stale_error_;  // held by holdForStale()
  std::string stale_error_raw_;                   // ... and its bytes, if it is forwarded after all
  bool client_gone_ = false;                      // clientLoop ended while a server was attached
  bool pump_running_ = false;
  bool swallow_next_error_ = false;  // the error that answers our CopyFail
  bool shutdown_requested_ = false;
  bool cache_opt_out_ = false;  // SET pgro.cache = off
  // SETs of the current unit of work: from the first statement after a ReadyForQuery 'I' to
  // the next one. They reach client_params_ only if the unit commits (a rolled-back SET is
  // undone by PostgreSQL, so it must not be replayed on the next borrowed connection).
  std::vector<policy::SetAction> unit_sets_;
  bool unit_explicit_ = false;         // the unit opened a transaction block (status T or E seen)
  bool unit_error_ = false;            // an ErrorResponse arrived during the unit
  bool unit_committed_ = false;        // the last COMMIT/ROLLBACK CommandComplete said COMMIT
  bool snapshot_transaction_ = false;  // inside a REPEATABLE READ / SERIALIZABLE block
  // Database, policy generation (a function judged on a newer pg_proc may return other rows)
  // and result-changing settings.
  std::string cache_key_prefix_;
  std::shared_ptr<CacheCapture> batch_capture_;  // set while a recorded batch is processed
  // The client's unnamed statement (key as in statements_), and how many unnamed Parses it
  // has sent. The server connection records whose unnamed statement it holds; a Bind or
  // Describe of it on a connection that holds another one (another client's, or none: the
  // connection changed after a Sync, or the Parse was answered from the cache) prepares it
  // there first. A simple Query destroys it, as in PostgreSQL.
  // Names the client gave SQL PREPARE on the attached connection (transaction pooling).
  std::set<std::string> sql_statements_;
  bool seeded_random_ = false;  // the client called setseed() on the attached connection
  // The settings model (client_params_, from the statements pgro admitted) can differ from
  // the server's (ROLLBACK TO SAVEPOINT, COMMIT inside a string, a SET parsed and never
  // executed, a prepared SET executed again...). Every admitted statement that may change
  // settings counts here; at the end of such a unit pgro reads the session's settings back
  // from the server (pg_settings, source 'session') and replaces the model with them, before
  // the connection goes back to the pool. Until then the result cache is not used.
  uint64_t settings_changes_ = 0;
  uint64_t settings_verified_ = 0;
  bool parsed_sets_ = false;      // a Parse admitted a SET: every Execute may change settings
  bool readback_failed_ = false;  // the read-back in flight got an error
  bool readback_in_flight_ = false;
  LazyTimer settings_read_;  // cancelled when a read-back is adopted
  std::vector<std::pair<std::string, std::string>> server_settings_;  // its rows so far
  // Cursors WITH HOLD the client declared and has not closed: while there are any, the
  // session keeps its server connection (transaction pooling), within a bound.
  std::set<std::string> held_cursors_;
  // Tracks DECLARE ... WITH HOLD and CLOSE; an error when one more session may not hold.
  std::optional<protocol::PgError> trackHeldCursors(const policy::StatementKinds& kinds);
  std::optional<std::string> unnamed_;
  uint64_t unnamed_serial_ = 0;
  uint64_t cache_key_generation_ = 0;
  uint64_t cache_key_policy_ = 0;  // the policy generation in cache_key_prefix_
  // The cache rules as of generation cache_rules_generation_ (CacheRuleStore).
  std::shared_ptr<const policy::CacheRuleSet> cache_rules_;
  uint64_t cache_rules_generation_ = 0;
  void setActivity(const char* state, std::string_view query);

  GovernorLimits limits_;
  uint64_t limits_generation_ = 0;
  LazyTimer statement_timer_;
  uint64_t statement_serial_ = 0;  // a timer firing for an older arming is ignored
  bool statement_timer_armed_ = false;
  bool governor_cancel_sent_ = false;  // pgro cancelled the running statement (time limit)
  // A governor CancelRequest on its way to the postmaster (governorCancel).
  struct CancelFlight {
    explicit CancelFlight(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    bool done = false;
    int32_t pid = 0;  // the backend cancelled
  };
  std::shared_ptr<CancelFlight> cancel_flight_;
  ResultMeter result_meter_;  // rows of the result streaming now
  // The limit a result of the current unit passed: its replies up to the ReadyForQuery are
  // not the client's (it has the 54000).
  std::optional<GovernorLimit> result_capped_;
  LazyTimer idle_timer_;
  uint64_t idle_serial_ = 0;
  bool idle_timer_armed_ = false;
  bool counts_connection_ = false;  // counted in UserGate (MAX_USER_CONNECTIONS)
  bool holds_active_slot_ = false;  // a UserGate slot for the attached server connection
  bool reading_client_ = false;     // clientLoop waits for client bytes
  // One audit record per statement, for AUDIT_LOG and QUERY_STATS_TOP_K; off when both are.
  audit::StatementTrail audit_;

  // What info() reports; written by the session's loop at statement boundaries only.
  mutable std::mutex info_mu_;
  SessionInfo info_;
};

}  // namespace pgro::session
