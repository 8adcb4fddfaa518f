// The audit records of one client session, on the session's event loop (not thread-safe).
// The session calls it at a few points: a statement begins (simple Query), is refused, is
// answered by pgro (cache, errors), goes upstream, or its reply ends. For the extended
// protocol a Bind remembers what its portal runs, and each Execute of the portal makes the
// record, so a line names the statement and the portal that actually ran, also when the
// statement was prepared on another server connection or answered from the cache before.
//
// A finished record goes to the audit log (AUDIT_LOG) and to the query-shape statistics
// (QUERY_STATS_TOP_K), either or both: the trail is on when one of them is. Without an audit
// log no text is kept, but a shape's first sample.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/audit_log.hpp"
#include "audit/query_stats.hpp"
#include "audit/record.hpp"

namespace pgro::audit {

class StatementTrail {
 public:
  // Off until attached.
  StatementTrail() = default;
  ~StatementTrail();
  StatementTrail(const StatementTrail&) = delete;
  StatementTrail& operator=(const StatementTrail&) = delete;

  // `params`: where the session keeps its current settings (application_name is read from
  // them per record); it must outlive the trail. `stats` (may be null) counts the records in
  // shard `shard` (the session's loop).
  void attach(std::shared_ptr<AuditLog> log, std::shared_ptr<QueryStats> stats, std::size_t shard,
              std::shared_ptr<const Identity> who,
              const std::shared_ptr<const std::map<std::string, std::string>>* params);
  bool on() const { return log_ != nullptr || stats_ != nullptr; }

  // A statement pgro is about to judge and answer or forward: a simple Query, or an
  // extended-protocol batch answered from the cache (`bind`: its Bind's parameter section).
  void begin(std::string_view text, bool extended = false, std::string_view statement = {},
             std::string_view bind = {});
  // The current (simple Query) statement's fingerprint, from its verdict; `text` is its text.
  void shape(std::optional<std::uint64_t> fingerprint, std::string_view text);
  // The current simple Query holds several statements (`texts`, in order): one record each,
  // chained (Record::next). `refused_at`: the one (0-based) a refusal to come is about, -1
  // when the refusal, if any, is not about one of them.
  void split(std::span<const std::string_view> texts, int refused_at);
  // The policy refused `text` (the current statement's, or a Parse's).
  void refused(std::string_view text, std::string_view reason);
  // pgro answered the current statement (or a message outside any, e.g. a Bind of an unknown
  // statement) with an error of its own.
  void error(std::string_view sqlstate, std::string_view message);
  // The current statement was answered from the cache with `reply` (backend messages).
  void cached(CacheOutcome outcome, std::string_view reply);
  // The current statement goes upstream: its record travels with the pending reply.
  std::unique_ptr<Record> forwarded(CacheOutcome outcome);
  // A forwarded statement that pgro answers itself after all (from a stale entry, the
  // upstream having gone away before replying): its record is the current one again.
  void resume(std::unique_ptr<Record> record) { current_ = std::move(record); }
  // Bind: what `portal` runs from now on.
  void bind(std::string_view portal, std::string_view statement, std::string_view text,
            std::string_view parameters);
  // Execute of `portal`, sent upstream now.
  std::unique_ptr<Record> execute(std::string_view portal, CacheOutcome outcome);
  // The current statement, answered by pgro alone, is complete.
  void flush();
  // A forwarded statement's reply ended (or never will: `sqlstate` then says why). The
  // statements chained after it end too: skipped when it failed.
  void finish(std::unique_ptr<Record> record, std::string_view sqlstate = {});
  // The client got a CommandComplete for `record`'s statement, a simple Query's: when more
  // statements of the string follow, it is finished and `record` becomes the next one's.
  void advance(std::unique_ptr<Record>& record);

  // Counting a reply as it passes (null-safe for statements without a record).
  static void countReply(Record* record, char type, std::size_t bytes) {
    if (record == nullptr || (type != 'D' && type != 'd')) return;
    ++record->rows;
    record->bytes += bytes;
  }

 private:
  struct Portal {
    std::string statement;
    std::optional<std::uint64_t> fingerprint;
    std::string text;
    std::size_t text_length = 0;
    std::optional<std::string> bind;
    std::chrono::system_clock::time_point time;
    std::chrono::steady_clock::time_point started;
    bool executed = false;
  };
  std::unique_ptr<Record> make(std::string_view text);
  // One record, to the statistics and the log.
  void submit(std::unique_ptr<Record> record);
  // Text kept in a record: the audit log's capture, or none.
  std::size_t captureBytes() const { return log_ ? log_->captureBytes() : 0; }
  // With statistics on: `text`'s fingerprint (cached per loop), and the sample a shape new to
  // the statistics needs when no audit log captures the text.
  void fingerprintText(Record& record, std::string_view text);
  void sampleText(std::string& into, std::optional<std::uint64_t> fingerprint,
                  std::string_view text);

  std::shared_ptr<AuditLog> log_;
  std::shared_ptr<QueryStats> stats_;
  std::size_t shard_ = 0;
  std::shared_ptr<const Identity> who_;
  const std::shared_ptr<const std::map<std::string, std::string>>* params_ = nullptr;
  std::unique_ptr<Record> current_;
  int refused_at_ = -1;  // split(): the statement of current_'s chain a refusal is about
  // Portals exist until their transaction ends; a client that opens many is bounded here.
  std::unordered_map<std::string, Portal> portals_;
};

}  // namespace pgro::audit
