#include "support/pg_messages.hpp"

#include <sstream>

namespace pgro::test {

void putInt16(std::string& out, int16_t v) {
  auto u = static_cast<uint16_t>(v);
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u & 0xff));
}

void putInt32(std::string& out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xff));
}

int16_t getInt16(std::string_view data, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<uint16_t>(static_cast<uint8_t>(data.at(at + i)));
  };
  return static_cast<int16_t>((b(0) << 8) | b(1));
}

int32_t getInt32(std::string_view data, std::size_t at) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data.at(at + i));
  return static_cast<int32_t>(v);
}

std::string Message::wire() const {
  return pgro::test::wire::message(type, body);
}

std::string ErrorFields::get(char code) const {
  auto it = fields.find(code);
  return it == fields.end() ? std::string() : it->second;
}

std::string ErrorFields::describe() const {
  std::ostringstream os;
  os << severity() << " " << sqlstate() << ": " << message();
  if (has('D')) os << " (detail: " << detail() << ")";
  if (has('H')) os << " (hint: " << hint() << ")";
  return os.str();
}

std::optional<ErrorFields> parseErrorFields(std::string_view body) {
  ErrorFields result;
  std::size_t at = 0;
  while (true) {
    if (at >= body.size()) return std::nullopt;  // missing terminator
    char code = body[at++];
    if (code == '\0') break;
    auto end = body.find('\0', at);
    if (end == std::string_view::npos) return std::nullopt;
    result.fields[code] = std::string(body.substr(at, end - at));
    at = end + 1;
  }
  if (at != body.size()) return std::nullopt;
  return result;
}

std::optional<ErrorFields> firstError(const std::vector<Message>& messages) {
  for (const auto& m : messages) {
    if (m.type == 'E') return parseErrorFields(m.body);
  }
  return std::nullopt;
}

std::string typeSequence(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) out.push_back(m.type);
  return out;
}

std::string wireOf(const std::vector<Message>& messages, std::string_view types) {
  std::string out;
  for (const auto& m : messages) {
    if (types.find(m.type) != std::string_view::npos) out += m.wire();
  }
  return out;
}

namespace wire {
namespace {

void putCString(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace

std::string message(char type, std::string_view body) {
  return messageWithLength(type, static_cast<int32_t>(body.size() + 4), body);
}

std::string messageWithLength(char type, int32_t length, std::string_view body) {
  std::string out(1, type);
  putInt32(out, length);
  out.append(body);
  return out;
}

std::string startupMessage(const std::vector<std::pair<std::string, std::string>>& params,
                           int32_t protocol) {
  std::string body;
  putInt32(body, protocol);
  for (const auto& [k, v] : params) {
    putCString(body, k);
    putCString(body, v);
  }
  body.push_back('\0');
  std::string out;
  putInt32(out, static_cast<int32_t>(body.size() + 4));
  return out + body;
}

std::string sslRequest() {
  std::string out;
  putInt32(out, 8);
  putInt32(out, 80877103);
  return out;
}

std::string gssEncRequest() {
  std::string out;
  putInt32(out, 8);
  putInt32(out, 80877104);
  return out;
}

std::string cancelRequest(int32_t pid, int32_t key) {
  std::string out;
  putInt32(out, 16);
  putInt32(out, 80877102);
  putInt32(out, pid);
  putInt32(out, key);
  return out;
}

std::string query(std::string_view sql) {
  std::string body;
  putCString(body, sql);
  return message('Q', body);
}

std::string parse(std::string_view statement, std::string_view sql,
                  const std::vector<int32_t>& param_oids) {
  std::string body;
  putCString(body, statement);
  putCString(body, sql);
  putInt16(body, static_cast<int16_t>(param_oids.size()));
  for (int32_t oid : param_oids) putInt32(body, oid);
  return message('P', body);
}

std::string bind(std::string_view portal, std::string_view statement,
                 const std::vector<std::optional<std::string>>& params,
                 const std::vector<int16_t>& param_formats,
                 const std::vector<int16_t>& result_formats) {
  std::string body;
  putCString(body, portal);
  putCString(body, statement);
  putInt16(body, static_cast<int16_t>(param_formats.size()));
  for (int16_t f : param_formats) putInt16(body, f);
  putInt16(body, static_cast<int16_t>(params.size()));
  for (const auto& p : params) {
    if (!p) {
      putInt32(body, -1);
    } else {
      putInt32(body, static_cast<int32_t>(p->size()));
      body.append(*p);
    }
  }
  putInt16(body, static_cast<int16_t>(result_formats.size()));
  for (int16_t f : result_formats) putInt16(body, f);
  return message('B', body);
}

std::string describePortal(std::string_view portal) {
  std::string body = "P";
  putCString(body, portal);
  return message('D', body);
}

std::string describeStatement(std::string_view statement) {
  std::string body = "S";
  putCString(body, statement);
  return message('D', body);
}

std::string execute(std::string_view portal, int32_t max_rows) {
  std::string body;
  putCString(body, portal);
  putInt32(body, max_rows);
  return message('E', body);
}

std::string closePortal(std::string_view portal) {
  std::string body = "P";
  putCString(body, portal);
  return message('C', body);
}

std::string closeStatement(std::string_view statement) {
  std::string body = "S";
  putCString(body, statement);
  return message('C', body);
}

std::string sync() {
  return message('S', {});
}
std::string flush() {
  return message('H', {});
}
std::string terminate() {
  return message('X', {});
}

std::string passwordMessage(std::string_view password) {
  std::string body;
  putCString(body, password);
  return message('p', body);
}

std::string functionCall(int32_t function_oid, const std::vector<std::string>& args) {
  std::string body;
  putInt32(body, function_oid);
  putInt16(body, 1);
  putInt16(body, 0);  // all arguments in text format
  putInt16(body, static_cast<int16_t>(args.size()));
  for (const auto& a : args) {
    putInt32(body, static_cast<int32_t>(a.size()));
    body.append(a);
  }
  putInt16(body, 0);  // text result
  return message('F', body);
}

std::string copyData(std::string_view data) {
  return message('d', data);
}
std::string copyDone() {
  return message('c', {});
}
std::string copyFail(std::string_view reason) {
  std::string body;
  putCString(body, reason);
  return message('f', body);
}

}  // namespace wire
}  // namespace pgro::test
