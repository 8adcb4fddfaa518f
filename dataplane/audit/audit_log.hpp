// The audit log's sink: records go into a bounded in-memory queue (never blocking the event
// loop that submits them) and one writer thread formats them as JSON lines, fingerprints
// their text with libpg_query and writes them to AUDIT_LOG (stdout or a file, opened again
// on reopen() for logrotate). When the queue is full a record is dropped and counted; the
// writer then writes a line saying how many were dropped, and logs it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "audit/record.hpp"

namespace pgro::audit {

struct Settings {
  std::string destination;  // "stdout" or a file path
  FormatOptions format;
  bool hash_chain = false;
  std::size_t queue_bytes = std::size_t{16} << 20;  // records waiting, by their size
};

class AuditLog {
 public:
  // Opens the destination (appending; a chained file continues the chain of its last line).
  // Throws std::runtime_error when it cannot be opened.
  explicit AuditLog(Settings settings);
  ~AuditLog();  // writes what is queued, then stops the writer
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Thread-safe, never blocks on I/O. Dropped (and counted) when the queue is full.
  void submit(std::unique_ptr<Record> record);
  // Text and parameters kept in a record: enough for the line and the fingerprint.
  std::size_t captureBytes() const { return capture_bytes_; }
  ParameterMode parameters() const { return settings_.format.parameters; }
  // Thread-safe: the writer closes and opens the file again before its next write.
  void reopen();
  // Blocks until every record submitted so far is written (tests, shutdown).
  void flush();

  // Lines in the destination (records and dropped-lines notes); records dropped because the
  // queue was full; lines lost because a write failed or the file could not be reopened.
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_total_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void run();
  bool open();
  void writeLine(std::string& line);
  std::string fingerprint(std::string_view text);

  const Settings settings_;
  const std::size_t capture_bytes_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<std::unique_ptr<Record>> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;  // since the writer last reported
  std::uint64_t submitted_ = 0;
  std::uint64_t done_ = 0;  // records handled by the writer
  bool reopen_ = false;
  bool stop_ = false;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::uint64_t> failed_{0};

  // Writer thread only.
  std::FILE* file_ = nullptr;
  bool own_file_ = false;
  std::string prev_hash_;
  std::uint64_t seq_ = 0;
  std::string batch_;
  std::uint64_t batch_lines_ = 0;
  std::unordered_map<std::string, std::string> fingerprints_;  // by numeric shape or text
  std::thread writer_;
};

}  // namespace pgro::audit
