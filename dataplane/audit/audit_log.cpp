#include "audit/audit_log.hpp"

#include <pg_query.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "audit/hash_chain.hpp"
#include "audit/json.hpp"
#include "policy/fingerprint.hpp"
#include "policy/shape.hpp"

namespace pgro::audit {

namespace {

constexpr std::size_t kMinCaptureBytes = 16 * 1024;  // fingerprints need the whole text
constexpr std::size_t kFingerprintCacheEntries = 4096;
// The writer gathers records for up to this long (or this many bytes) per write, so a busy
// proxy costs it one write(2) per batch, not per statement.
constexpr auto kBatchWindow = std::chrono::milliseconds(2);
constexpr std::size_t kBatchBytes = 256 * 1024;

std::size_t recordSize(const Record& r) {
  return sizeof(Record) + r.text.size() + r.application_name.size() + r.statement.size() +
         r.portal.size() + r.reason.size() + (r.bind ? r.bind->size() : 0);
}

// The last line of the file at `path` ("" when there is none), read from its end.
std::string lastLine(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::streamoff end = in.tellg();
  std::string tail;
  constexpr std::streamoff kChunk = 64 * 1024;
  while (end > 0) {
    const std::streamoff from = std::max<std::streamoff>(0, end - kChunk);
    std::string chunk(static_cast<std::size_t>(end - from), '\0');
    in.seekg(from);
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    tail.insert(0, chunk);
    end = from;
    std::string_view body = tail;
    while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (body.empty()) continue;
    const std::size_t nl = body.rfind('\n');
    if (nl != std::string_view::npos) return std::string(body.substr(nl + 1));
    if (from == 0) return std::string(body);
  }
  return {};
}

}  // namespace

AuditLog::AuditLog(Settings settings)
    : settings_(std::move(settings)),
      capture_bytes_(std::max(settings_.format.max_text_bytes, kMinCaptureBytes)),
      prev_hash_(kChainStart) {
  if (!open()) {
    throw std::runtime_error("AUDIT_LOG: cannot open " + settings_.destination + ": " +
                             std::strerror(errno));
  }
  if (settings_.hash_chain && own_file_) {
    // Appending to an earlier log: the chain goes on from its last line.
    const std::string last = lastLine(settings_.destination);
    if (!last.empty()) {
      prev_hash_ = sha256Hex(last);
      if (const auto link = chainLink(last)) seq_ = link->seq;
    }
  }
  writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
  if (own_file_ && file_ != nullptr) std::fclose(file_);
}

void AuditLog::submit(std::unique_ptr<Record> record) {
  const std::size_t size = recordSize(*record);
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queued_bytes_ + size > settings_.queue_bytes) {
      ++dropped_;
      dropped_total_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Only the first record of a batch, or one that fills it, wakes the writer: the others
    // cost no system call.
    wake = queue_.empty() || (queued_bytes_ < kBatchBytes && queued_bytes_ + size >= kBatchBytes);
    queued_bytes_ += size;
    ++submitted_;
    queue_.push_back(std::move(record));
  }
  if (wake) wake_.notify_one();
}

void AuditLog::reopen() {
  {
    std::lock_guard lock(mu_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = submitted_;
  drained_.wait(lock, [&] { return done_ >= target || stop_; });
}

bool AuditLog::open() {
  if (settings_.destination == "stdout") {
    file_ = stdout;
    own_file_ = false;
    return true;
  }
  file_ = std::fopen(settings_.destination.c_str(), "a");
  own_file_ = true;
  return file_ != nullptr;
}

std::string AuditLog::fingerprint(std::string_view text) {
  auto shape = policy::numericShape(text);
  std::string key = shape ? std::move(*shape) : std::string(text);
  if (auto it = fingerprints_.find(key); it != fingerprints_.end()) return it->second;
  const std::string terminated(text);
  PgQueryFingerprintResult result = pg_query_fingerprint(terminated.c_str());
  std::string value = result.error == nullptr && result.fingerprint_str != nullptr
                          ? std::string(result.fingerprint_str)
                          : std::string();
  pg_query_free_fingerprint_result(result);
  if (fingerprints_.size() >= kFingerprintCacheEntries) fingerprints_.clear();
  if (key.size() <= 4096) fingerprints_.emplace(std::move(key), value);
  return value;
}

void AuditLog::writeLine(std::string& line) {
  // formatRecord's closing brace makes room for the writer's fields.
  line.pop_back();
  line += ",\"seq\":";
  line += std::to_string(++seq_);
  if (settings_.hash_chain) {
    line += ",\"prev\":\"";
    line += prev_hash_;
    line += "\"}";
    prev_hash_ = sha256Hex(line);
  } else {
    line += '}';
  }
  batch_ += line;
  batch_ += '\n';
  ++batch_lines_;
}

void AuditLog::run() {
  std::unique_lock lock(mu_);
  std::string line;
  while (true) {
    wake_.wait(lock, [&] { return stop_ || reopen_ || !queue_.empty(); });
    wake_.wait_for(lock, kBatchWindow,
                   [&] { return stop_ || reopen_ || queued_bytes_ >= kBatchBytes; });
    std::deque<std::unique_ptr<Record>> work;
    work.swap(queue_);
    queued_bytes_ = 0;
    const std::uint64_t dropped = dropped_;
    dropped_ = 0;
    const bool reopen = reopen_;
    reopen_ = false;
    const bool stop = stop_;
    lock.unlock();

    if (reopen && own_file_) {
      if (file_ != nullptr) std::fclose(file_);
      if (open()) {
        spdlog::info("audit log reopened: {}", settings_.destination);
      } else {
        spdlog::error("audit log: cannot reopen {}: {}; audit lines are lost until it can be",
                      settings_.destination, std::strerror(errno));
      }
    }
    if (dropped > 0) {
      spdlog::warn("audit log: {} line(s) dropped, the writer could not keep up", dropped);
      line.clear();
      line += "{\"time\":\"";
      appendTimestamp(line, std::chrono::system_clock::now());
      line += "\",\"event\":\"dropped\",\"lines\":";
      line += std::to_string(dropped);
      line += '}';
      writeLine(line);
    }
    for (const auto& record : work) {
      line.clear();
      // The session's fingerprint when it had one (query statistics on), else computed here.
      const std::string fp = record->fingerprint ? policy::fingerprintHex(*record->fingerprint)
                             : record->text_length == record->text.size()
                                 ? fingerprint(record->text)
                                 : std::string();
      formatRecord(line, *record, settings_.format, fp);
      writeLine(line);
    }
    if (!batch_.empty()) {
      if (file_ == nullptr) {
        failed_.fetch_add(batch_lines_, std::memory_order_relaxed);  // reopen failed: logged
      } else if (std::fwrite(batch_.data(), 1, batch_.size(), file_) != batch_.size() ||
                 std::fflush(file_) != 0) {
        failed_.fetch_add(batch_lines_, std::memory_order_relaxed);
        spdlog::error("audit log: write to {} failed: {}", settings_.destination,
                      std::strerror(errno));
      } else {
        written_.fetch_add(batch_lines_, std::memory_order_relaxed);
      }
    }
    batch_.clear();
    batch_lines_ = 0;
    if (batch_.capacity() > (std::size_t{1} << 20)) std::string().swap(batch_);
    lock.lock();
    done_ += work.size();
    drained_.notify_all();
    if (stop && queue_.empty()) return;
  }
}

}  // namespace pgro::audit
