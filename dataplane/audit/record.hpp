// One audit record: what a client asked, how pgro judged it and what came back. Built on the
// session's event loop with copies only (no formatting there); the writer thread turns it
// into one JSON line (formatRecord).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgro::audit {

// How the result cache took part (hit: served from it; coalesced: waited for another
// session's identical miss; miss: asked upstream and recorded for the cache; stale: served
// past its TTL; bypass: not looked up, the statement or session is not cacheable).
enum class CacheOutcome : std::uint8_t { Bypass, Hit, Miss, Coalesced, Stale };
std::string_view cacheOutcomeName(CacheOutcome outcome);

// AUDIT_PARAMETERS: Bind parameter values in the line, as text (binary ones in hex), or
// only their number, NULLs kept (redacted), or nothing.
enum class ParameterMode : std::uint8_t { Off, On, Redacted };

// Who a session is; shared by its records.
struct Identity {
  std::string login;
  std::string client_address;
  std::string database;
  std::uint64_t session_id = 0;
};

struct Record {
  using SteadyTime = std::chrono::steady_clock::time_point;
  std::chrono::system_clock::time_point time;  // when the statement arrived
  SteadyTime started{};                        // the same instant, for durations
  SteadyTime forwarded{};                      // sent upstream; epoch when answered by pgro
  SteadyTime finished{};
  std::shared_ptr<const Identity> who;
  std::string application_name;
  bool extended = false;  // Parse/Bind/Execute rather than Query
  std::string statement;  // extended: the client's statement name ("" = unnamed)
  std::string portal;     // extended: the portal executed
  // At most the capture limit (AuditLog::captureBytes); without an audit log, only the
  // sample text of a shape the query statistics do not know yet.
  std::string text;
  std::size_t text_length = 0;  // the whole text's length
  // The Bind message after the statement name (formats, values, result formats), when
  // AUDIT_PARAMETERS is not off; at most the capture limit.
  std::optional<std::string> bind;
  bool refused = false;  // pgro's policy refused it; nothing went upstream
  // Never ran: it came in one Query message with a statement that was refused (nothing of
  // the string went upstream) or that failed (the server skips the rest of the string).
  bool skipped = false;
  std::string reason;  // refused: why; an error: its message
  CacheOutcome cache = CacheOutcome::Bypass;
  // The result sent to the client: DataRow (and CopyData) messages and their bytes, the
  // same whether they came from upstream or from the cache.
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
  std::string sqlstate;  // of the first error; "" on success (written as 00000)
  // libpg_query's fingerprint of the whole text, when the session knows it (the verdict's,
  // or cachedFingerprint() for the extended protocol); the audit writer computes it when not.
  std::optional<std::uint64_t> fingerprint;
  // The next statement of the same simple Query message (StatementTrail::split), whose reply
  // follows this one's CommandComplete. Null when the writer gets the record.
  std::unique_ptr<Record> next;
};

struct FormatOptions {
  std::size_t max_text_bytes = 4096;
  ParameterMode parameters = ParameterMode::Off;
};

// The JSON object of `record` (no newline), without the fields the writer adds (seq, prev).
// `fingerprint`: libpg_query's fingerprint of the text, empty when it has none.
void formatRecord(std::string& out, const Record& record, const FormatOptions& options,
                  std::string_view fingerprint);

// "2026-12-07T18:34:53.123456Z"
void appendTimestamp(std::string& out, std::chrono::system_clock::time_point time);

}  // namespace pgro::audit
