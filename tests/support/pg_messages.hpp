// Byte builders for frontend messages and decoders for the backend messages tests look at
// (PostgreSQL docs, "Message Formats"). Independent of pgro's own codec on purpose: the
// tests must not share a bug with the code they test.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgro::test {

// One backend message: type byte and body (without the 4-byte length).
struct Message {
  char type = 0;
  std::string body;
  // The message as sent on the wire (type + length + body).
  std::string wire() const;
};

// ErrorResponse / NoticeResponse fields by their one-letter codes (S, V, C, M, D, H, P, ...).
struct ErrorFields {
  std::map<char, std::string> fields;

  std::string get(char code) const;
  bool has(char code) const { return fields.count(code) != 0; }
  std::string severity() const { return has('V') ? get('V') : get('S'); }  // non-localized
  std::string sqlstate() const { return get('C'); }
  std::string message() const { return get('M'); }
  std::string detail() const { return get('D'); }
  std::string hint() const { return get('H'); }
  std::string position() const { return get('P'); }
  std::string describe() const;  // "ERROR 22012: division by zero" for assertion messages
};

// Parses an ErrorResponse/NoticeResponse body; nullopt if it is malformed.
std::optional<ErrorFields> parseErrorFields(std::string_view body);

// The first ErrorResponse in `messages`, if any.
std::optional<ErrorFields> firstError(const std::vector<Message>& messages);

// Type bytes of the messages in order, e.g. "1T2DCZ" (for sequence comparisons).
std::string typeSequence(const std::vector<Message>& messages);

// Concatenated wire bytes of the messages whose type is in `types`.
std::string wireOf(const std::vector<Message>& messages, std::string_view types);

// Big-endian integer helpers.
void putInt16(std::string& out, int16_t v);
void putInt32(std::string& out, int32_t v);
int16_t getInt16(std::string_view data, std::size_t at);
int32_t getInt32(std::string_view data, std::size_t at);

namespace wire {

// type + int32 length (body size + 4) + body. The building block of all below.
std::string message(char type, std::string_view body);
// A message whose length field is `length` whatever the body is (for malformed input).
std::string messageWithLength(char type, int32_t length, std::string_view body);

// Untyped startup packets.
std::string startupMessage(const std::vector<std::pair<std::string, std::string>>& params,
                           int32_t protocol = 196608);
std::string sslRequest();
std::string gssEncRequest();
std::string cancelRequest(int32_t pid, int32_t key);

std::string query(std::string_view sql);
std::string parse(std::string_view statement, std::string_view sql,
                  const std::vector<int32_t>& param_oids = {});
// params: std::nullopt is SQL NULL. Format codes: 0 text, 1 binary.
std::string bind(std::string_view portal, std::string_view statement,
                 const std::vector<std::optional<std::string>>& params = {},
                 const std::vector<int16_t>& param_formats = {},
                 const std::vector<int16_t>& result_formats = {});
std::string describePortal(std::string_view portal);
std::string describeStatement(std::string_view statement);
std::string execute(std::string_view portal, int32_t max_rows = 0);
std::string closePortal(std::string_view portal);
std::string closeStatement(std::string_view statement);
std::string sync();
std::string flush();
std::string terminate();
std::string passwordMessage(std::string_view password);
// FunctionCall: function OID and text-format arguments, text result.
std::string functionCall(int32_t function_oid, const std::vector<std::string>& args);
std::string copyData(std::string_view data);
std::string copyDone();
std::string copyFail(std::string_view reason);

}  // namespace wire
}  // namespace pgro::test
