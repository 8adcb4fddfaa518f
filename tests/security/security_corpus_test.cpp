// Every entry of the security corpus gets the verdict the file promises.
#include <gtest/gtest.h>

#include <string>

#include "corpus.hpp"
#include "policy/classifier.hpp"

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

}  // namespace
}  // namespace pgro::policy
