#include "audit/audit_log.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audit/hash_chain.hpp"
#include "support/run_command.hpp"

namespace pgro::audit {
namespace {

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::unique_ptr<Record> record(std::string text) {
  auto r = std::make_unique<Record>();
  r->time = std::chrono::system_clock::now();
  r->started = r->finished = std::chrono::steady_clock::now();
  r->text_length = text.size();
  r->text = std::move(text);
  return r;
}

class AuditLogTest : public ::testing::Test {
 protected:
  std::string dir_ = test::makeTempDir("audit-unit");
  std::string file_ = dir_ + "/audit.log";
  ~AuditLogTest() override { std::filesystem::remove_all(dir_); }
};

TEST_F(AuditLogTest, WritesOneLinePerRecordWithFingerprints) {
  {
    AuditLog log({.destination = file_});
    log.submit(record("SELECT 1 FROM t WHERE id = 1"));
    log.submit(record("SELECT 1 FROM t WHERE id = 2"));
    log.submit(record("SELECT * FROM"));  // does not parse: no fingerprint
    log.flush();
  }
  const auto got = lines(file_);
  ASSERT_EQ(got.size(), 3u);
  const auto a = nlohmann::json::parse(got[0]);
  const auto b = nlohmann::json::parse(got[1]);
  const auto c = nlohmann::json::parse(got[2]);
  EXPECT_TRUE(a["fingerprint"].is_string());
  EXPECT_EQ(a["fingerprint"], b["fingerprint"]);  // same shape, other constant
  EXPECT_TRUE(c["fingerprint"].is_null());
  EXPECT_EQ(a["seq"], 1);
  EXPECT_EQ(c["seq"], 3);
}

TEST_F(AuditLogTest, FullQueueDropsAndSaysSo) {
  AuditLog log({.destination = file_, .queue_bytes = 4096});
  // Far more than 4 KiB submitted at once: most are dropped, none blocks.
  for (int i = 0; i < 2000; ++i) log.submit(record(std::string(512, 'x')));
  log.flush();
  log.submit(record("SELECT 'after'"));
  log.flush();
  EXPECT_GT(log.dropped(), 0u);
  std::uint64_t reported = 0;
  std::uint64_t records = 0;
  for (const auto& line : lines(file_)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("event")) {
      reported += j["lines"].get<std::uint64_t>();
    } else {
      ++records;
    }
  }
  EXPECT_EQ(reported, log.dropped());
  EXPECT_EQ(records + log.dropped(), 2001u);
}

TEST_F(AuditLogTest, ChainContinuesAcrossReopenAndRestart) {
  {
    AuditLog log({.destination = file_, .hash_chain = true});
    log.submit(record("SELECT 1"));
    log.flush();
    std::filesystem::rename(file_, file_ + ".1");
    log.reopen();
    log.submit(record("SELECT 2"));
    log.flush();
  }
  {
    AuditLog log({.destination = file_, .hash_chain = true});  // a restart: appends
    log.submit(record("SELECT 3"));
    log.flush();
  }
  const auto old_lines = lines(file_ + ".1");
  const auto new_lines = lines(file_);
  ASSERT_EQ(old_lines.size(), 1u);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(chainLink(new_lines[0])->prev, sha256Hex(old_lines[0]));
  EXPECT_EQ(chainLink(new_lines[1])->seq, 3u);
  std::ifstream in(file_);
  EXPECT_TRUE(verifyChain(in).ok);
}

}  // namespace
}  // namespace pgro::audit
