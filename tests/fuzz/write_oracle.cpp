#include "write_oracle.hpp"

#include <pg_query.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace pgro::testing {
namespace {

// DISCARD and UNLISTEN change only the session's own state (no data, no catalog): pool
// reset queries send them.
constexpr std::array<std::string_view, 16> kReadOnlyStatements = {
    "RawStmt",         "SelectStmt",  "VariableSetStmt",   "VariableShowStmt",
    "TransactionStmt", "ExplainStmt", "DeclareCursorStmt", "FetchStmt",
    "ClosePortalStmt", "LockStmt",    "PrepareStmt",       "ExecuteStmt",
    "DeallocateStmt",  "CopyStmt",    "DiscardStmt",       "UnlistenStmt",
};

constexpr std::array<std::string_view, 22> kSideEffectFunctions = {
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_create",
    "pg_notify",
    "txid_current",
    "nextval",
    "setval",
    "pg_advisory_lock",
    "dblink",
    "dblink_exec",
    "query_to_xml",
    "pg_switch_wal",
    "pg_promote",
    "pg_stat_reset",
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// A minimal JSON reader: tracks the key path, decodes strings, calls back on values.
class JsonScan {
 public:
  explicit JsonScan(std::string_view json) : json_(json) {}

  std::string run() {
    skipSpace();
    value();
    return violation_;
  }

 private:
  struct Frame {
    bool object;
    std::string key;  // current key inside an object
  };

  void skipSpace() {
    while (pos_ < json_.size() && std::isspace(static_cast<unsigned char>(json_[pos_]))) {
      ++pos_;
    }
  }

  std::string string() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < json_.size() && json_[pos_] != '"') {
      char c = json_[pos_++];
      if (c == '\\' && pos_ < json_.size()) {
        char e = json_[pos_++];
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'u': {
            unsigned code = 0;
            for (int i = 0; i < 4 && pos_ < json_.size(); ++i) {
              code =
                  code * 16 + static_cast<unsigned>(std::isdigit(json_[pos_])
                                                        ? json_[pos_] - '0'
                                                        : (std::tolower(json_[pos_]) - 'a' + 10));
              ++pos_;
            }
            if (code < 0x80) {
              out.push_back(static_cast<char>(code));
            } else if (code < 0x800) {
              out.push_back(static_cast<char>(0xC0 | (code >> 6)));
              out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
            } else {
              out.push_back(static_cast<char>(0xE0 | (code >> 12)));
              out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
              out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
            }
            break;
          }
          default:
            out.push_back(e);
            break;
        }
      } else {
        out.push_back(c);
      }
    }
    ++pos_;  // closing quote
    return out;
  }

  bool inside(std::string_view key) const {
    for (const Frame& frame : stack_) {
      if (frame.key == key) {
        return true;
      }
    }
    return false;
  }

  std::string_view currentKey() const {
    return stack_.empty() || !stack_.back().object ? std::string_view() : stack_.back().key;
  }

  void flag(std::string what) {
    if (violation_.empty()) {
      violation_ = std::move(what);
    }
  }

  void onKey(const std::string& key) {
    if (key.size() > 4 && key.ends_with("Stmt") && !contains(kReadOnlyStatements, key)) {
      flag("statement node " + key);
    }
    if (key == "intoClause") {
      flag("SELECT INTO");
    }
    if (key == "lockingClause") {
      flag("locking clause");
    }
  }

  void onString(const std::string& value) {
    const std::string_view key = currentKey();
    if (key == "filename" && inside("CopyStmt")) {
      flag("COPY to or from a file");
    }
    if (key == "kind" && (value == "TRANS_STMT_PREPARE" || value == "TRANS_STMT_COMMIT_PREPARED" ||
                          value == "TRANS_STMT_ROLLBACK_PREPARED")) {
      flag("two-phase commit");
    }
    if (key == "relname" && inside("RangeVar")) {
      const std::string name = lower(value);
      if (name == "pg_authid" || name == "pg_shadow") {
        flag("secret relation " + name);
      }
    }
    if (key == "sval" && inside("funcname")) {
      last_funcname_ = lower(value);
    }
  }

  void onLiteral(std::string_view literal) {
    const std::string_view key = currentKey();
    if ((key == "is_from" || key == "is_program") && literal == "true") {
      flag("COPY FROM/PROGRAM");
    }
    if (key == "mode" && inside("LockStmt") && literal != "1") {
      flag("LOCK mode " + std::string(literal));
    }
  }

  void value() {
    skipSpace();
    if (pos_ >= json_.size()) {
      return;
    }
    const char c = json_[pos_];
    if (c == '{' || c == '[') {
      const bool object = c == '{';
      const bool funcname = currentKey() == "funcname";
      if (funcname) {
        last_funcname_.clear();
      }
      ++pos_;
      stack_.push_back(Frame{object, {}});
      for (;;) {
        skipSpace();
        if (pos_ >= json_.size()) {
          return;
        }
        if (json_[pos_] == '}' || json_[pos_] == ']') {
          ++pos_;
          break;
        }
        if (json_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (object) {
          std::string key = string();
          skipSpace();
          ++pos_;  // ':'
          onKey(key);
          stack_.back().key = std::move(key);
        }
        value();
      }
      stack_.pop_back();
      if (funcname && contains(kSideEffectFunctions, last_funcname_)) {
        flag("call of " + last_funcname_);
      }
      return;
    }
    if (c == '"') {
      onString(string());
      return;
    }
    const std::size_t start = pos_;
    while (pos_ < json_.size() && json_[pos_] != ',' && json_[pos_] != '}' && json_[pos_] != ']' &&
           !std::isspace(static_cast<unsigned char>(json_[pos_]))) {
      ++pos_;
    }
    onLiteral(json_.substr(start, pos_ - start));
  }

  std::string_view json_;
  std::size_t pos_ = 0;
  std::vector<Frame> stack_;
  std::string last_funcname_;
  std::string violation_;
};

}  // namespace

OracleResult findWriteNode(std::string_view sql) {
  OracleResult result;
  const std::string text(sql);
  PgQueryParseResult parsed = pg_query_parse(text.c_str());
  if (parsed.error == nullptr && parsed.parse_tree != nullptr) {
    result.parsed = true;
    result.violation = JsonScan(parsed.parse_tree).run();
  }
  pg_query_free_parse_result(parsed);
  return result;
}

}  // namespace pgro::testing
