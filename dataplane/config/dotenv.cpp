// The process environment and .env files.
//
// .env syntax (the subset docker compose, python-dotenv and the seed's dotenvy agree on):
//   KEY=VALUE            unquoted: trailing whitespace dropped, " #..." starts a comment
//   export KEY=VALUE     the `export ` prefix is ignored
//   KEY="a\nb \"q\""     double quotes: \n \r \t \" \\ \$ escapes, may span lines
//   KEY='literal $x\n'   single quotes: taken literally, may span lines
//   # comment, blank lines
// No variable expansion. Error messages name file:line but never echo the line (it may hold a
// password).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

extern char** environ;  // NOLINT: POSIX, declared by no standard header

namespace pgro::config {
namespace {

class DotEnvParser {
 public:
  DotEnvParser(std::string path, std::string text)
      : path_(std::move(path)), text_(std::move(text)) {}

  Environment parse() {
    Environment out;
    while (pos_ < text_.size()) {
      skipBlanks();
      if (atEnd()) {
        break;
      }
      if (peek() == '\n') {
        advance();
        continue;
      }
      if (peek() == '#') {
        skipToEndOfLine();
        continue;
      }
      const int first_line = line_;
      skipExport();
      std::string key = parseKey();
      skipBlanks();
      if (key.empty() || atEnd() || peek() != '=') {
        throw error(first_line, "expected KEY=VALUE");
      }
      advance();
      out[std::move(key)] = parseValue(first_line);
    }
    return out;
  }

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void advance() {
    if (text_[pos_] == '\n') {
      ++line_;
    }
    ++pos_;
  }
  static bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
  bool skipBlanks() {
    const std::size_t start = pos_;
    while (!atEnd() && isBlank(peek())) {
      advance();
    }
    return pos_ != start;
  }
  void skipToEndOfLine() {
    while (!atEnd() && peek() != '\n') {
      advance();
    }
  }

  ConfigError error(int line, const std::string& what) const {
    return ConfigError(path_ + ":" + std::to_string(line) + ": malformed line (" + what + ")");
  }

  void skipExport() {
    constexpr std::string_view kExport = "export";
    if (text_.compare(pos_, kExport.size(), kExport) == 0 && pos_ + kExport.size() < text_.size() &&
        (text_[pos_ + kExport.size()] == ' ' || text_[pos_ + kExport.size()] == '\t')) {
      pos_ += kExport.size();
      skipBlanks();
    }
  }

  std::string parseKey() {
    const std::size_t start = pos_;
    while (!atEnd()) {
      const char c = peek();
      const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
      const bool digit = c >= '0' && c <= '9';
      if (!(letter || (digit && pos_ != start))) {
        break;
      }
      advance();
    }
    return text_.substr(start, pos_ - start);
  }

  std::string parseValue(int first_line) {
    const bool spaced = skipBlanks();
    if (atEnd() || peek() == '\n') {
      return {};
    }
    if (peek() == '"' || peek() == '\'') {
      std::string value =
          peek() == '"' ? parseDoubleQuoted(first_line) : parseSingleQuoted(first_line);
      skipBlanks();
      if (!atEnd() && peek() == '#') {
        skipToEndOfLine();
      }
      if (!atEnd() && peek() != '\n') {
        throw error(line_, "unexpected text after the closing quote");
      }
      return value;
    }
    if (peek() == '#' && spaced) {  // `KEY= # comment` is an empty value
      skipToEndOfLine();
      return {};
    }
    std::string value;
    bool after_blank = false;
    while (!atEnd() && peek() != '\n') {
      const char c = peek();
      if (c == '#' && after_blank) {
        skipToEndOfLine();
        break;
      }
      after_blank = isBlank(c);
      value.push_back(c);
      advance();
    }
    while (!value.empty() && isBlank(value.back())) {
      value.pop_back();
    }
    return value;
  }

  std::string parseDoubleQuoted(int first_line) {
    advance();  // opening quote
    std::string value;
    while (!atEnd()) {
      char c = peek();
      advance();
      if (c == '"') {
        return value;
      }
      if (c == '\\' && !atEnd()) {
        const char e = peek();
        advance();
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 'r':
            c = '\r';
            break;
          case 't':
            c = '\t';
            break;
          case '"':
          case '\\':
          case '$':
            c = e;
            break;
          default:
            value.push_back('\\');  // unknown escapes are kept as written
            c = e;
        }
      }
      value.push_back(c);
    }
    throw error(first_line, "unterminated double quote");
  }

  std::string parseSingleQuoted(int first_line) {
    advance();
    const std::size_t start = pos_;
    while (!atEnd() && peek() != '\'') {
      advance();
    }
    if (atEnd()) {
      throw error(first_line, "unterminated single quote");
    }
    std::string value = text_.substr(start, pos_ - start);
    advance();
    return value;
  }

  std::string path_;
  std::string text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Environment readDotEnv(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return {};
  }
  if (ec) {
    throw ConfigError(path + ": cannot read: " + ec.message());
  }
  if (std::filesystem::is_directory(status)) {
    throw ConfigError(path + ": is a directory, not a .env file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    text.erase(0, 3);  // UTF-8 byte order mark
  }
  return DotEnvParser(path, std::move(text)).parse();
}

}  // namespace pgro::config
