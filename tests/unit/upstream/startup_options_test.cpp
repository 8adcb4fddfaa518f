// The `options` startup parameter of pgro's upstream sessions: read-only default, timeout and
// UPSTREAM_ROLE, escaped so PostgreSQL's pg_split_opts() reads back exactly the role name.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "upstream/server_connection.hpp"

namespace pgro::upstream {
namespace {

// PostgreSQL's pg_split_opts() (src/backend/utils/init/postinit.c): words separated by
// whitespace, a backslash makes the next character literal.
std::vector<std::string> splitLikePostgres(const std::string& options) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < options.size()) {
    while (i < options.size() && std::isspace(static_cast<unsigned char>(options[i]))) ++i;
    if (i == options.size()) break;
    std::string word;
    bool escaped = false;
    for (; i < options.size(); ++i) {
      const char c = options[i];
      if (!escaped && std::isspace(static_cast<unsigned char>(c))) break;
      if (!escaped && c == '\\') {
        escaped = true;
      } else {
        escaped = false;
        word.push_back(c);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

TEST(StartupOptions, ReadOnlyAlwaysTimeoutAndRoleWhenSet) {
  UpstreamSettings s;
  EXPECT_EQ(startupOptions(s), "-c default_transaction_read_only=on");
  s.statement_timeout_ms = 1500;
  s.role = "pg_read_all_data";
  EXPECT_EQ(startupOptions(s),
            "-c default_transaction_read_only=on -c statement_timeout=1500 "
            "-c role=pg_read_all_data");
}

TEST(StartupOptions, RoleNamesSurvivePostgresSplitting) {
  for (const std::string role : {"reader", "Reader Role", R"(back\slash)", "tab\there",
                                 R"(trailing\)", " lead", "a=b -c role=admin", "\\ \\\\"}) {
    UpstreamSettings s;
    s.role = role;
    const auto words = splitLikePostgres(startupOptions(s));
    ASSERT_EQ(words.size(), 4U) << role << ": " << startupOptions(s);
    EXPECT_EQ(words[0], "-c");
    EXPECT_EQ(words[1], "default_transaction_read_only=on");
    EXPECT_EQ(words[2], "-c");
    EXPECT_EQ(words[3], "role=" + role);
  }
}

}  // namespace
}  // namespace pgro::upstream
