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

}  // namespace

std::optional<std::string> numericShape(std::string_view sql, std::size_t max_bytes) {
  if (sql.size() > max_bytes || sql.find('\0') != std::string_view::npos) return std::nullopt;
  // Cheap pre-check: no digit, no numeric literal.
  if (sql.find_first_of("0123456789") == std::string_view::npos) return std::nullopt;
  const std::string text(sql);
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  std::vector<Span> spans;
  const bool decoded =
      scan.error == nullptr &&
      numericSpans(reinterpret_cast<const uint8_t*>(scan.pbuf.data), scan.pbuf.len, spans);
  pg_query_free_scan_result(scan);
  if (!decoded || spans.empty()) return std::nullopt;
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
