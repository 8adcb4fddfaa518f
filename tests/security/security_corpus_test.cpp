// Every entry of the security corpus gets the verdict the file promises.
#include <gtest/gtest.h>

#include <string>

#include "corpus.hpp"
#include "policy/classifier.hpp"
#include "policy/shape.hpp"

namespace pgro::policy {
namespace {

const std::string kDir = PGRO_SECURITY_CORPUS_DIR;

TEST(SecurityCorpus, EveryAllowEntryIsAllowed) {
  const auto entries = testing::loadCorpus(kDir + "/allow.sql");
  ASSERT_GE(entries.size(), 200U);
  int refused = 0;
  for (const auto& entry : entries) {
    const Verdict v = classify(entry.sql);
    if (!v.allowed) {
      ++refused;
      ADD_FAILURE() << "allow.sql:" << entry.line << " refused (" << v.sqlstate << " " << v.message
                    << "):\n"
                    << entry.sql;
    }
  }
  RecordProperty("allowed_entries", static_cast<int>(entries.size()));
  EXPECT_EQ(refused, 0);
}

TEST(SecurityCorpus, EveryRefuseEntryIsRefusedForTheRightReason) {
  const auto entries = testing::loadCorpus(kDir + "/refuse.sql");
  ASSERT_GE(entries.size(), 250U);
  for (const auto& entry : entries) {
    const Verdict v = classify(entry.sql);
    EXPECT_FALSE(v.allowed) << "refuse.sql:" << entry.line << " allowed:\n" << entry.sql;
    if (v.allowed) {
      continue;
    }
    EXPECT_FALSE(v.sqlstate.empty());
    EXPECT_TRUE(v.sets.empty() && v.kinds.prepares.empty()) << "refused strings carry no facts";
    // An attack string refused only because of a typo proves nothing: outside the
    // "do not parse" section, the refusal must come from a rule.
    const bool parse_section = entry.section.find("do not parse") != std::string::npos;
    EXPECT_EQ(v.refusal == Refusal::ParseError, parse_section)
        << "refuse.sql:" << entry.line << " [" << entry.section << "] got "
        << refusalName(v.refusal) << ": " << v.message << "\n"
        << entry.sql;
  }
  RecordProperty("refused_entries", static_cast<int>(entries.size()));
}

// Texts of one numeric shape share a shape_safe verdict (statement_gate.cpp). The values
// put in for the numbers: small, large, fractional, exponent, and an int8 overflow.
const char* const kNumbers[] = {"0",   "1",   "2",          "7",
                                "1.5", "1e3", "4294967296", "99999999999999999999"};

std::string withNumber(const std::string& shape, const std::string& number) {
  std::string text;
  for (char c : shape) {
    if (c == '\0') {
      text += number;
    } else {
      text.push_back(c);
    }
  }
  return text;
}

// The security property of the shape cache: no refused string can ride on the verdict of
// an allowed string of the same shape.
TEST(ShapeCorpus, NoRefusedEntrySharesAShapeWithAShapeSafeVerdict) {
  int shaped = 0;
  for (const auto& entry : testing::loadCorpus(kDir + "/refuse.sql")) {
    const auto shape = numericShape(entry.sql);
    if (!shape) continue;
    ++shaped;
    for (const char* number : kNumbers) {
      const std::string variant = withNumber(*shape, number);
      const Verdict v = classify(variant);
      EXPECT_FALSE(v.allowed && v.shape_safe)
          << "refuse.sql:" << entry.line << " shares its shape with an allowed variant:\n"
          << variant;
    }
  }
  RecordProperty("refuse_entries_with_numbers", shaped);
  EXPECT_GE(shaped, 50);
}

// And the verdict an allowed entry shares is the one each variant would get on its own
// (or the variant does not parse: PostgreSQL refuses it as well).
TEST(ShapeCorpus, VariantsOfShapeSafeEntriesGetTheSameVerdict) {
  int shaped = 0;
  for (const auto& entry : testing::loadCorpus(kDir + "/allow.sql")) {
    const Verdict original = classify(entry.sql);
    const auto shape = numericShape(entry.sql);
    if (!shape || !original.shape_safe) continue;
    ++shaped;
    for (const char* number : kNumbers) {
      const std::string variant = withNumber(*shape, number);
      const Verdict v = classify(variant);
      if (!v.allowed) {
        EXPECT_EQ(v.refusal, Refusal::ParseError) << "allow.sql:" << entry.line << "\n" << variant;
        continue;
      }
      EXPECT_TRUE(v.shape_safe) << variant;
      EXPECT_EQ(v.cacheable, original.cacheable) << variant;
      EXPECT_EQ(v.statement_count, original.statement_count) << variant;
      EXPECT_EQ(v.kinds.has_lock, original.kinds.has_lock) << variant;
      EXPECT_EQ(v.kinds.has_copy_out, original.kinds.has_copy_out) << variant;
    }
  }
  RecordProperty("allow_entries_shape_safe_with_numbers", shaped);
  EXPECT_GE(shaped, 30);
}

}  // namespace
}  // namespace pgro::policy
