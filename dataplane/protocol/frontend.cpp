#include "protocol/frontend.hpp"

#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"

namespace pgro::protocol {

namespace {

bool validTarget(char target) {
  return target == 'S' || target == 'P';
}

}  // namespace

std::optional<Parse> parseParse(std::string_view body) {
  MessageReader r(body);
  Parse p;
  p.statement = r.cstring();
  p.query = r.cstring();
  p.param_types = r.rest();
  // The type list must be exactly what its count says: a Parse that lies about it would be
  // forwarded with a different meaning than the key pgro stores.
  MessageReader types(p.param_types);
  const int16_t count = types.int16();
  if (!r.ok() || !types.ok() || count < 0 ||
      types.remaining() != static_cast<std::size_t>(count) * 4) {
    return std::nullopt;
  }
  return p;
}

std::optional<Bind> parseBind(std::string_view body) {
  MessageReader r(body);
  Bind b;
  b.portal = r.cstring();
  b.statement = r.cstring();
  b.rest = r.rest();
  if (!r.ok()) return std::nullopt;
  return b;
}

// Describe and Close share their layout: a target byte ('S' or 'P') and a name.
template <typename Message>
std::optional<Message> parseTargetAndName(std::string_view body) {
  MessageReader r(body);
  Message m;
  m.target = r.byte();
  m.name = r.cstring();
  if (!r.ok() || !r.atEnd() || !validTarget(m.target)) return std::nullopt;
  return m;
}

std::optional<Describe> parseDescribe(std::string_view body) {
  return parseTargetAndName<Describe>(body);
}

std::optional<Close> parseClose(std::string_view body) {
  return parseTargetAndName<Close>(body);
}

std::optional<Execute> parseExecute(std::string_view body) {
  MessageReader r(body);
  Execute e;
  e.portal = r.cstring();
  e.max_rows = r.int32();
  if (!r.ok() || !r.atEnd()) return std::nullopt;
  return e;
}

void appendParse(std::string& out, std::string_view statement, std::string_view query,
                 std::string_view param_types) {
  MessageWriter(out).begin('P').cstring(statement).cstring(query).bytes(param_types).finish();
}

void appendBind(std::string& out, std::string_view portal, std::string_view statement,
                std::string_view rest) {
  MessageWriter(out).begin('B').cstring(portal).cstring(statement).bytes(rest).finish();
}

void appendDescribe(std::string& out, char target, std::string_view name) {
  MessageWriter(out).begin('D').byte(target).cstring(name).finish();
}

void appendClose(std::string& out, char target, std::string_view name) {
  MessageWriter(out).begin('C').byte(target).cstring(name).finish();
}

void appendExecute(std::string& out, std::string_view portal, int32_t max_rows) {
  MessageWriter(out).begin('E').cstring(portal).int32(max_rows).finish();
}

std::string noParameterTypes() {
  return std::string(2, '\0');
}

}  // namespace pgro::protocol
