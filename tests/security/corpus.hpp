// Loads tests/security/allow.sql and refuse.sql: entries separated by lines "-- ----";
// lines starting with "--#" are notes (not SQL), "--# == Title ==" starts a section.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pgro::testing {

struct CorpusEntry {
  std::string sql;
  std::string section;  // title of the last "--# ==" line before the entry
  int line = 0;         // first line of the entry in the file, for failure messages
};

inline std::vector<CorpusEntry> loadCorpus(const std::string& path) {
  std::ifstream in(path);
  std::vector<CorpusEntry> entries;
  std::string section;
  CorpusEntry current;
  std::string line;
  int number = 0;
  auto flush = [&] {
    const auto first = current.sql.find_first_not_of(" \t\r\n");
    if (first != std::string::npos) {
      const auto last = current.sql.find_last_not_of(" \t\r\n");
      current.sql = current.sql.substr(first, last - first + 1);
      current.section = section;
      entries.push_back(current);
    }
    current = CorpusEntry{};
  };
  while (std::getline(in, line)) {
    ++number;
    if (line == "-- ----") {
      flush();
      continue;
    }
    if (line.rfind("--#", 0) == 0) {
      if (line.rfind("--# ==", 0) == 0) section = line.substr(4);
      continue;
    }
    if (current.sql.empty()) current.line = number;
    current.sql += line;
    current.sql += '\n';
  }
  flush();
  return entries;
}

}  // namespace pgro::testing
