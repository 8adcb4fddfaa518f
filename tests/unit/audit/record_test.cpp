#include "audit/record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pgro::audit {
namespace {

using nlohmann::json;

void put16(std::string& out, int v) {
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}
void put32(std::string& out, int v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}

// Bind's section after the statement name: formats, values (nullopt = NULL), no result formats.
std::string bindSection(const std::vector<int>& formats,
                        const std::vector<std::optional<std::string>>& values) {
  std::string out;
  put16(out, static_cast<int>(formats.size()));
  for (int f : formats) put16(out, f);
  put16(out, static_cast<int>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      put32(out, -1);
      continue;
    }
    put32(out, static_cast<int>(v->size()));
    out += *v;
  }
  put16(out, 0);
  return out;
}

json format(const Record& record, FormatOptions options = {}) {
  std::string out;
  formatRecord(out, record, options, "02a281c251c8a7c2");
  return json::parse(out);
}

Record sample() {
  Record r;
  auto who = std::make_shared<Identity>();
  who->login = "reader";
  who->client_address = "127.0.0.1:5555";
  who->database = "app";
  who->session_id = 7;
  r.who = who;
  r.time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  r.started = std::chrono::steady_clock::now();
  r.forwarded = r.started + std::chrono::milliseconds(1);
  r.finished = r.started + std::chrono::milliseconds(3);
  r.text = "SELECT $1, $2, $3";
  r.text_length = r.text.size();
  r.extended = true;
  r.rows = 2;
  r.bytes = 40;
  return r;
}

TEST(AuditRecord, FieldsAndTimes) {
  const json j = format(sample());
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(j["login"], "reader");
  EXPECT_EQ(j["client"], "127.0.0.1:5555");
  EXPECT_EQ(j["database"], "app");
  EXPECT_EQ(j["session"], 7);
  EXPECT_EQ(j["protocol"], "extended");
  EXPECT_EQ(j["fingerprint"], "02a281c251c8a7c2");
  EXPECT_EQ(j["verdict"], "allowed");
  EXPECT_EQ(j["cache"], "bypass");
  EXPECT_EQ(j["rows"], 2);
  EXPECT_EQ(j["bytes"], 40);
  EXPECT_DOUBLE_EQ(j["upstream_ms"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["total_ms"].get<double>(), 3.0);
  EXPECT_EQ(j["sqlstate"], "00000");
  EXPECT_FALSE(j.contains("parameters"));
}

TEST(AuditRecord, AnsweredByPgroHasNoUpstreamTime) {
  Record r = sample();
  r.forwarded = {};
  r.refused = true;
  r.reason = "Write operations are not permitted";
  r.sqlstate = "25006";
  const json j = format(r);
  EXPECT_TRUE(j["upstream_ms"].is_null());
  EXPECT_EQ(j["verdict"], "refused");
  EXPECT_EQ(j["sqlstate"], "25006");
}

TEST(AuditRecord, SkippedStatementHasNoSqlstate) {
  Record r = sample();
  r.forwarded = {};
  r.skipped = true;
  r.reason = "not run: statement 2 of the Query was refused";
  const json j = format(r);
  EXPECT_EQ(j["verdict"], "skipped");
  EXPECT_TRUE(j["sqlstate"].is_null());
  EXPECT_EQ(j["reason"], "not run: statement 2 of the Query was refused");
}

TEST(AuditRecord, TextIsCutAtTheLimit) {
  Record r = sample();
  r.text = std::string(100, 'x');
  r.text_length = 5000;
  const json j = format(r, {.max_text_bytes = 16});
  EXPECT_EQ(j["text"], std::string(16, 'x'));
  EXPECT_EQ(j["text_length"], 5000);
}

TEST(AuditRecord, ParametersOnRedactedOff) {
  Record r = sample();
  r.bind =
      bindSection({0, 1, 0}, {std::string("it's \"1\""), std::string("\x01\xff", 2), std::nullopt});
  EXPECT_EQ(format(r, {.parameters = ParameterMode::On})["parameters"],
            json::parse(R"(["it's \"1\"", "\\x01ff", null])"));
  EXPECT_EQ(format(r, {.parameters = ParameterMode::Redacted})["parameters"],
            json::parse(R"(["***", "***", null])"));
  EXPECT_FALSE(format(r, {.parameters = ParameterMode::Off}).contains("parameters"));
}

TEST(AuditRecord, OneFormatCodeAppliesToAllParameters) {
  Record r = sample();
  r.bind = bindSection({1}, {std::string("\x00\x01", 2), std::string("\x02", 1)});
  EXPECT_EQ(format(r, {.parameters = ParameterMode::On})["parameters"],
            json::parse(R"(["\\x0001", "\\x02"])"));
}

TEST(AuditRecord, TruncatedOrMalformedBindStillMakesJson) {
  Record r = sample();
  std::string bind = bindSection({}, {std::string("abcdef"), std::string("gh")});
  for (std::size_t cut = 0; cut <= bind.size(); ++cut) {
    r.bind = bind.substr(0, cut);
    EXPECT_NO_THROW({ const auto j = format(r, {.parameters = ParameterMode::On}); }) << cut;
  }
  r.bind = bind;
  EXPECT_EQ(format(r, {.max_text_bytes = 3, .parameters = ParameterMode::On})["parameters"],
            json::parse(R"(["abc...", "gh"])"));
}

}  // namespace
}  // namespace pgro::audit
