#include "audit/statement_trail.hpp"

#include <algorithm>

namespace pgro::audit {

namespace {

// Named portals remembered per session (each holds a copy of its text and parameters); an
// Execute of one evicted earlier is logged without its text. Drivers use the unnamed one.
constexpr std::size_t kMaxPortals = 16;

// DataRows in a stored reply (backend messages, each type byte + Int32 length), counted as
// StatementTrail::countReply counts them on the way from upstream; with statements chained
// (a string of several), each CommandComplete hands the count on to the next one.
void countRows(Record& record, std::string_view reply) {
  Record* into = &record;
  std::size_t at = 0;
  while (reply.size() - at >= 5) {
    const auto* p = reinterpret_cast<const unsigned char*>(reply.data() + at);
    const std::size_t length =
        (std::size_t{p[1]} << 24) | (std::size_t{p[2]} << 16) | (std::size_t{p[3]} << 8) | p[4];
    if (length < 4 || reply.size() - at < 1 + length) break;
    StatementTrail::countReply(into, static_cast<char>(p[0]), 1 + length);
    if ((p[0] == 'C' || p[0] == 'I') && into->next) into = into->next.get();
    at += 1 + length;
  }
}

std::string skippedAfterRefusal(int refused_at) {
  return "not run: statement " + std::to_string(refused_at + 1) + " of the Query was refused";
}

constexpr std::string_view kSkippedAfterError = "not run: an earlier statement of the Query failed";

}  // namespace

StatementTrail::~StatementTrail() {
  flush();
}

void StatementTrail::attach(
    std::shared_ptr<AuditLog> log, std::shared_ptr<QueryStats> stats, std::size_t shard,
    std::shared_ptr<const Identity> who,
    const std::shared_ptr<const std::map<std::string, std::string>>* params) {
  log_ = std::move(log);
  stats_ = std::move(stats);
  shard_ = shard;
  who_ = std::move(who);
  params_ = params;
}

std::unique_ptr<Record> StatementTrail::make(std::string_view text) {
  auto record = std::make_unique<Record>();
  record->time = std::chrono::system_clock::now();
  record->started = std::chrono::steady_clock::now();
  record->who = who_;
  if (params_ != nullptr && log_ != nullptr) {
    if (auto it = (*params_)->find("application_name"); it != (*params_)->end()) {
      record->application_name = it->second;
    }
  }
  record->text = std::string(text.substr(0, captureBytes()));
  record->text_length = text.size();
  return record;
}

void StatementTrail::sampleText(std::string& into, std::optional<std::uint64_t> fingerprint,
                                std::string_view text) {
  if (log_ != nullptr || !stats_ || !fingerprint) return;  // the capture serves as sample
  if (!stats_->known(shard_, *fingerprint)) into = std::string(text.substr(0, kSampleTextBytes));
}

void StatementTrail::fingerprintText(Record& record, std::string_view text) {
  if (!stats_) return;
  record.fingerprint = cachedFingerprint(text);
  sampleText(record.text, record.fingerprint, text);
}

void StatementTrail::shape(std::optional<std::uint64_t> fingerprint, std::string_view text) {
  if (!current_) return;
  current_->fingerprint = fingerprint;
  sampleText(current_->text, fingerprint, text);
}

void StatementTrail::split(std::span<const std::string_view> texts, int refused_at) {
  if (!current_ || texts.size() < 2) return;
  refused_at_ = refused_at;
  Record* last = nullptr;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Record* record = current_.get();
    if (i > 0) {
      last->next = make(texts[i]);
      record = last->next.get();
      record->time = current_->time;
      record->started = current_->started;
    } else {
      record->text = std::string(texts[0].substr(0, captureBytes()));
      record->text_length = texts[0].size();
    }
    record->fingerprint.reset();  // the string's, not the statement's
    fingerprintText(*record, texts[i]);
    last = record;
  }
}

void StatementTrail::begin(std::string_view text, bool extended, std::string_view statement,
                           std::string_view bind) {
  if (!on()) return;
  flush();
  refused_at_ = -1;
  current_ = make(text);
  current_->extended = extended;
  current_->statement = std::string(statement);
  if (extended && log_ && log_->parameters() != ParameterMode::Off) {
    current_->bind = std::string(bind.substr(0, log_->captureBytes()));
  }
  if (extended) fingerprintText(*current_, text);  // a simple Query's comes with its verdict
}

void StatementTrail::refused(std::string_view text, std::string_view reason) {
  if (!on()) return;
  if (!current_) {
    current_ = make(text);
    current_->extended = true;  // only a Parse is refused outside begin()
    fingerprintText(*current_, text);
  }
  // A string of several: the refusal is its refused statement's; nothing of it runs.
  int index = 0;
  for (Record* r = current_.get(); r != nullptr; r = r->next.get(), ++index) {
    if (index == std::max(refused_at_, 0)) {
      r->refused = true;
      r->reason = std::string(reason);
    } else {
      r->skipped = true;
      r->reason = skippedAfterRefusal(std::max(refused_at_, 0));
    }
  }
}

void StatementTrail::error(std::string_view sqlstate, std::string_view message) {
  if (!on()) return;
  if (!current_) {
    current_ = make({});
    current_->extended = true;
  }
  // The refused statement's, or the first: pgro answers the string with one error, and none
  // of it runs.
  Record* target = current_.get();
  for (Record* r = current_.get(); r != nullptr; r = r->next.get()) {
    if (r->refused) target = r;
  }
  if (target->sqlstate.empty()) {
    target->sqlstate = std::string(sqlstate);
    if (target->reason.empty()) target->reason = std::string(message);
  }
  for (Record* r = current_.get(); r != nullptr; r = r->next.get()) {
    if (r != target && !r->skipped) {
      r->skipped = true;
      r->reason = std::string(kSkippedAfterError);
    }
  }
}

void StatementTrail::cached(CacheOutcome outcome, std::string_view reply) {
  if (!current_) return;
  for (Record* r = current_.get(); r != nullptr; r = r->next.get()) r->cache = outcome;
  countRows(*current_, reply);
}

std::unique_ptr<Record> StatementTrail::forwarded(CacheOutcome outcome) {
  if (!current_) return nullptr;
  for (Record* r = current_.get(); r != nullptr; r = r->next.get()) r->cache = outcome;
  current_->forwarded = std::chrono::steady_clock::now();
  return std::move(current_);
}

void StatementTrail::advance(std::unique_ptr<Record>& record) {
  if (!record || !record->next) return;
  std::unique_ptr<Record> next = std::move(record->next);
  finish(std::move(record));
  // It starts when the one before it ends: the server runs a string's statements in turn.
  next->started = std::chrono::steady_clock::now();
  next->forwarded = next->started;
  record = std::move(next);
}

void StatementTrail::bind(std::string_view portal, std::string_view statement,
                          std::string_view text, std::string_view parameters) {
  if (!on()) return;
  auto it = portals_.find(std::string(portal));
  if (it == portals_.end()) {
    if (portals_.size() >= kMaxPortals) portals_.erase(portals_.begin());
    it = portals_.emplace(std::string(portal), Portal{}).first;
  }
  Portal& p = it->second;
  p.statement = std::string(statement);
  p.text = std::string(text.substr(0, captureBytes()));
  p.text_length = text.size();
  p.fingerprint.reset();
  if (stats_) {
    p.fingerprint = cachedFingerprint(text);
    sampleText(p.text, p.fingerprint, text);
  }
  p.bind.reset();
  if (log_ && log_->parameters() != ParameterMode::Off) {
    p.bind = std::string(parameters.substr(0, log_->captureBytes()));
  }
  p.time = std::chrono::system_clock::now();
  p.started = std::chrono::steady_clock::now();
  p.executed = false;
}

std::unique_ptr<Record> StatementTrail::execute(std::string_view portal, CacheOutcome outcome) {
  if (!on()) return nullptr;
  flush();
  std::unique_ptr<Record> record;
  auto it = portals_.find(std::string(portal));
  const auto now = std::chrono::steady_clock::now();
  if (it != portals_.end()) {
    Portal& p = it->second;
    record = make({});
    record->text = p.text;
    record->text_length = p.text_length;
    record->statement = p.statement;
    record->bind = p.bind;
    record->fingerprint = p.fingerprint;
    if (!p.executed) {  // the statement began at its Bind
      record->time = p.time;
      record->started = p.started;
    }
    p.executed = true;
  } else {
    record = make({});  // a portal pgro never saw bound: the server answers 34000
  }
  record->extended = true;
  record->portal = std::string(portal);
  record->cache = outcome;
  record->forwarded = now;
  return record;
}

void StatementTrail::flush() {
  if (!current_) return;
  finish(std::move(current_));
}

void StatementTrail::finish(std::unique_ptr<Record> record, std::string_view sqlstate) {
  if (!record || !on()) return;
  if (!sqlstate.empty() && record->sqlstate.empty()) record->sqlstate = std::string(sqlstate);
  const bool failed = record->refused || record->skipped || !record->sqlstate.empty();
  std::unique_ptr<Record> next = std::move(record->next);
  submit(std::move(record));
  // The rest of its string: answered along with it (pgro's local answers), or, after an
  // error, never run (the server skips to the end of the string).
  while (next) {
    std::unique_ptr<Record> after = std::move(next->next);
    if (failed && !next->skipped && !next->refused) {
      next->skipped = true;
      next->reason = std::string(kSkippedAfterError);
    }
    submit(std::move(next));
    next = std::move(after);
  }
}

void StatementTrail::submit(std::unique_ptr<Record> record) {
  record->finished = std::chrono::steady_clock::now();
  if (stats_ && !record->skipped) stats_->add(shard_, *record);
  if (log_) log_->submit(std::move(record));
}

}  // namespace pgro::audit
