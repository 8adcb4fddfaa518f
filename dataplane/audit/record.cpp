#include "audit/record.hpp"

#include <cstdio>
#include <ctime>

#include "audit/json.hpp"

namespace pgro::audit {

namespace {

std::uint32_t readUint32(std::string_view s, std::size_t at) {
  const auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::uint16_t readUint16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                    static_cast<unsigned char>(s[at + 1]));
}

void appendMs(std::string& out, Record::SteadyTime from, Record::SteadyTime to) {
  const double ms = std::chrono::duration<double, std::milli>(to - from).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms < 0 ? 0.0 : ms);
  out += buf;
}

// Bind's parameter section (PostgreSQL docs 55.7, Bind): Int16 format-code count, the codes,
// Int16 parameter count, then per value Int32 length (-1 = NULL) and the bytes. Text values
// are JSON strings, binary ones "\x<hex>"; each at most `max` bytes (then "..." follows). A
// section cut short by the capture limit ends the array with "...".
void appendParameters(std::string& out, std::string_view bind, ParameterMode mode,
                      std::size_t max) {
  out += '[';
  std::size_t at = 0;
  auto fits = [&](std::size_t n) { return bind.size() - at >= n; };
  bool complete = false;
  do {
    if (!fits(2)) break;
    const std::uint16_t formats = readUint16(bind, at);
    at += 2;
    if (!fits(std::size_t{formats} * 2)) break;
    const std::size_t format_at = at;
    at += std::size_t{formats} * 2;
    if (!fits(2)) break;
    const std::uint16_t count = readUint16(bind, at);
    at += 2;
    std::uint16_t i = 0;
    for (; i < count; ++i) {
      if (!fits(4)) break;
      const auto length = static_cast<std::int32_t>(readUint32(bind, at));
      at += 4;
      if (i > 0) out += ',';
      if (length < 0) {
        out += "null";
        continue;
      }
      const bool binary =
          formats == 1 ? readUint16(bind, format_at) == 1
                       : (formats > i && readUint16(bind, format_at + std::size_t{i} * 2) == 1);
      const std::size_t have =
          std::min<std::size_t>(static_cast<std::size_t>(length), bind.size() - at);
      const std::string_view value = bind.substr(at, have);
      at += have;
      if (mode == ParameterMode::Redacted) {
        out += "\"***\"";
      } else if (binary) {
        std::string hex = "\\x";
        static constexpr char kHex[] = "0123456789abcdef";
        for (std::size_t k = 0; k < value.size() && hex.size() < max; ++k) {
          const auto c = static_cast<unsigned char>(value[k]);
          hex.push_back(kHex[c >> 4]);
          hex.push_back(kHex[c & 0xF]);
        }
        if (hex.size() >= max || value.size() < static_cast<std::size_t>(length)) hex += "...";
        appendJsonString(out, hex);
      } else if (value.size() > max || value.size() < static_cast<std::size_t>(length)) {
        appendJsonString(out, std::string(value.substr(0, max)) + "...");
      } else {
        appendJsonString(out, value);
      }
      if (have < static_cast<std::size_t>(length)) break;
    }
    complete = i == count;
  } while (false);
  if (!complete) out += out.back() == '[' ? "\"...\"" : ",\"...\"";
  out += ']';
}

}  // namespace

std::string_view cacheOutcomeName(CacheOutcome outcome) {
  switch (outcome) {
    case CacheOutcome::Hit:
      return "hit";
    case CacheOutcome::Miss:
      return "miss";
    case CacheOutcome::Coalesced:
      return "coalesced";
    case CacheOutcome::Stale:
      return "stale";
    case CacheOutcome::Bypass:
      break;
  }
  return "bypass";
}

void appendTimestamp(std::string& out, std::chrono::system_clock::time_point time) {
  const auto since = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - seconds);
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(micros.count()));
  out += buf;
}

void formatRecord(std::string& out, const Record& r, const FormatOptions& options,
                  std::string_view fingerprint) {
  out += "{\"time\":\"";
  appendTimestamp(out, r.time);
  out += "\",\"login\":";
  static const Identity kNobody;
  const Identity& who = r.who ? *r.who : kNobody;
  appendJsonString(out, who.login);
  out += ",\"client\":";
  appendJsonString(out, who.client_address);
  out += ",\"application_name\":";
  appendJsonString(out, r.application_name);
  out += ",\"database\":";
  appendJsonString(out, who.database);
  out += ",\"session\":";
  out += std::to_string(who.session_id);
  out += r.extended ? ",\"protocol\":\"extended\"" : ",\"protocol\":\"simple\"";
  if (r.extended) {
    out += ",\"statement\":";
    appendJsonString(out, r.statement);
    out += ",\"portal\":";
    appendJsonString(out, r.portal);
  }
  out += ",\"fingerprint\":";
  if (fingerprint.empty()) {
    out += "null";
  } else {
    appendJsonString(out, fingerprint);
  }
  out += ",\"text\":";
  const std::size_t shown = std::min(r.text.size(), options.max_text_bytes);
  appendJsonString(out, std::string_view(r.text).substr(0, shown));
  if (shown < r.text_length) {
    out += ",\"text_length\":";
    out += std::to_string(r.text_length);
  }
  if (options.parameters != ParameterMode::Off && r.bind) {
    out += ",\"parameters\":";
    appendParameters(out, *r.bind, options.parameters, options.max_text_bytes);
  }
  out += r.refused   ? ",\"verdict\":\"refused\""
         : r.skipped ? ",\"verdict\":\"skipped\""
                     : ",\"verdict\":\"allowed\"";
  out += ",\"reason\":";
  appendJsonString(out, r.reason);
  out += ",\"cache\":\"";
  out += cacheOutcomeName(r.cache);
  out += "\",\"rows\":";
  out += std::to_string(r.rows);
  out += ",\"bytes\":";
  out += std::to_string(r.bytes);
  out += ",\"upstream_ms\":";
  if (r.forwarded == Record::SteadyTime{}) {
    out += "null";
  } else {
    appendMs(out, r.forwarded, r.finished);
  }
  out += ",\"total_ms\":";
  appendMs(out, r.started, r.finished);
  out += ",\"sqlstate\":";
  if (r.skipped) {
    out += "null";  // it never ran: neither success nor an error of its own
  } else {
    appendJsonString(out, r.sqlstate.empty() ? std::string_view("00000") : r.sqlstate);
  }
  out += '}';
}

}  // namespace pgro::audit
