#include "policy/shape.hpp"

#include <pg_query.h>

#include <cstdint>
#include <vector>

namespace pgro::policy {

namespace {

// Token numbers of pg_query.proto's enum Token (the scanner's ICONST and FCONST).
constexpr uint64_t kFconst = 260;
constexpr uint64_t kIconst = 266;

// A reader for the two messages of pg_query_scan()'s protobuf output:
//   ScanResult { int32 version = 1; repeated ScanToken tokens = 2; }
//   ScanToken  { int32 start = 1; int32 end = 2; Token token = 4; KeywordKind kind = 5; }
// Decoded by hand: no allocation per token, and only what the shape needs.
class WireReader {
 public:
  WireReader(const uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

  bool atEnd() const { return p_ == end_; }
  bool ok() const { return ok_; }

  bool varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t byte = *p_++;
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) return true;
    }
    ok_ = false;
    return false;
  }

  // Reads a field key; false at the end or on malformed input.
  bool key(uint64_t& field, uint64_t& wire_type) {
    uint64_t k = 0;
    if (atEnd() || !varint(k)) return false;
    field = k >> 3;
    wire_type = k & 7u;
    return true;
  }

  bool bytes(WireReader& inner) {
    uint64_t len = 0;
    if (!varint(len) || len > static_cast<uint64_t>(end_ - p_)) {
      ok_ = false;
      return false;
    }
    inner = WireReader(p_, static_cast<std::size_t>(len));
    p_ += len;
    return true;
  }

  // Skips a field of a wire type this reader does not use.
  bool skip(uint64_t wire_type) {
    uint64_t ignored = 0;
    WireReader inner(nullptr, 0);
    switch (wire_type) {
      case 0:
        return varint(ignored);
      case 2:
        return bytes(inner);
      default:
        ok_ = false;
        return false;  // fixed32/64 and groups never occur here
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

struct Span {
  uint64_t start;
  uint64_t end;
};

// The [start, end) byte ranges of numeric literal tokens, in text order; false on bad input.
bool numericSpans(const uint8_t* data, std::size_t size, std::vector<Span>& spans) {
  WireReader result(data, size);
  uint64_t field = 0;
  uint64_t wire_type = 0;
  while (result.key(field, wire_type)) {
    if (field != 2 || wire_type != 2) {
      if (!result.skip(wire_type)) return false;
      continue;
    }
    WireReader token(nullptr, 0);
    if (!result.bytes(token)) return false;
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t kind = 0;
    while (token.key(field, wire_type)) {
      uint64_t value = 0;
      if (wire_type != 0) {
        if (!token.skip(wire_type)) return false;
        continue;
      }
      if (!token.varint(value)) return false;
      if (field == 1) start = value;
      if (field == 2) end = value;
      if (field == 4) kind = value;
    }
    if (!token.ok()) return false;
    if (kind == kIconst || kind == kFconst) spans.push_back({start, end});
  }
  return result.ok();
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentCont(char c) {
  return isIdentStart(c) || isDigit(c) || c == '$';
}

// The numeric literals of `sql` as PostgreSQL 15's scanner (scan.l) finds them, for the plain
// texts that make up nearly all repeated statements: ASCII identifiers and keywords, quoted
// identifiers, standard strings, comments, operators, $n parameters and numbers. Anything
// else it does not try to follow (non-ASCII, backslashes in strings, E''/B''/X''/U&''/N''
// prefixes, dollar quotes, numbers with trailing junk, `1..`) and returns false: the caller
// asks the real scanner, which costs about ten times more (a protobuf round trip).
bool plainNumericSpans(std::string_view sql, std::vector<Span>& spans) {
  const std::size_t n = sql.size();
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return k < n ? sql[k] : '\0'; };
  while (i < n) {
    const char c = sql[i];
    if (isSpace(c)) {
      ++i;
    } else if (c == '-' && at(i + 1) == '-') {
      while (i < n && sql[i] != '\n' && sql[i] != '\r') ++i;
    } else if (c == '/' && at(i + 1) == '*') {
      int depth = 0;
      do {
        if (sql[i] == '/' && at(i + 1) == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && at(i + 1) == '/') {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < n);
      if (depth > 0) return false;  // unterminated
    } else if (c == '\'' || c == '"') {
      // A quote right after an identifier or '&' is a prefixed literal (E'', U&"", ...).
      if (i > 0 && (isIdentCont(sql[i - 1]) || sql[i - 1] == '&')) return false;
      if (c == '"' && at(i + 1) == '"' && at(i + 2) != '"') return false;  // "": an error
      ++i;
      while (true) {
        if (i >= n) return false;  // unterminated
        if (sql[i] == '\\' && c == '\'') return false;
        if (sql[i] == c) {
          if (at(i + 1) != c) break;
          ++i;  // a doubled quote
        }
        ++i;
      }
      ++i;
    } else if (isIdentStart(c)) {
      while (i < n && isIdentCont(sql[i])) ++i;
    } else if (c == '$') {
      if (!isDigit(at(i + 1))) return false;  // a dollar quote
      ++i;
      while (i < n && isDigit(sql[i])) ++i;
      if (isIdentCont(at(i))) return false;  // parameter junk
    } else if (c == '.' && at(i + 1) == '.') {
      i += 2;  // DOT_DOT: `..5` is '..' and 5, not '.' and .5
    } else if (isDigit(c) || (c == '.' && isDigit(at(i + 1)))) {
      const std::size_t start = i;
      while (i < n && isDigit(sql[i])) ++i;
      if (at(i) == '.') {
        if (at(i + 1) == '.') return false;  // 1..: the integer, then '..'
        ++i;
        while (i < n && isDigit(sql[i])) ++i;
      }
      if (at(i) == 'e' || at(i) == 'E') {
        std::size_t k = i + 1;
        if (at(k) == '+' || at(k) == '-') ++k;
        if (!isDigit(at(k))) return false;  // realfail
        i = k;
        while (i < n && isDigit(sql[i])) ++i;
      }
      if (isIdentCont(at(i)) || at(i) == '.') return false;  // trailing junk
      spans.push_back({start, i});
    } else if (static_cast<unsigned char>(c) < 0x80 && c > ' ' && c != '\\' && c != 0x7f) {
      ++i;  // an operator or punctuation character
    } else {
      return false;  // non-ASCII, control characters, backslash
    }
  }
  return true;
}

}  // namespace

bool plainNumericShapeAgrees(std::string_view sql) {
  std::vector<Span> fast;
  if (!plainNumericSpans(sql, fast)) return true;
  const std::string text(sql);
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  std::vector<Span> slow;
  const bool decoded =
      scan.error == nullptr &&
      numericSpans(reinterpret_cast<const uint8_t*>(scan.pbuf.data), scan.pbuf.len, slow);
  pg_query_free_scan_result(scan);
  if (!decoded) return false;
  if (fast.size() != slow.size()) return false;
  for (std::size_t k = 0; k < fast.size(); ++k) {
    if (fast[k].start != slow[k].start || fast[k].end != slow[k].end) return false;
  }
  return true;
}

std::optional<std::string> numericShape(std::string_view sql, std::size_t max_bytes) {
  if (sql.size() > max_bytes || sql.find('\0') != std::string_view::npos) return std::nullopt;
  // Cheap pre-check: no digit, no numeric literal.
  if (sql.find_first_of("0123456789") == std::string_view::npos) return std::nullopt;
  std::vector<Span> spans;
  if (!plainNumericSpans(sql, spans)) {
    spans.clear();
    const std::string text(sql);
    PgQueryScanResult scan = pg_query_scan(text.c_str());
    const bool decoded =
        scan.error == nullptr &&
        numericSpans(reinterpret_cast<const uint8_t*>(scan.pbuf.data), scan.pbuf.len, spans);
    pg_query_free_scan_result(scan);
    if (!decoded) return std::nullopt;
  }
  if (spans.empty()) return std::nullopt;
  const std::string_view text = sql;
  std::string shape;
  shape.reserve(text.size());
  uint64_t at = 0;
  for (const Span& span : spans) {
    if (span.start < at || span.end <= span.start || span.end > text.size()) return std::nullopt;
    shape.append(text, at, span.start - at);
    shape.push_back('\0');
    at = span.end;
  }
  shape.append(text, at, std::string::npos);
  return shape;
}

}  // namespace pgro::policy
