#include "protocol/messages.hpp"

#include "protocol/message_reader.hpp"
#include "protocol/message_writer.hpp"

namespace pgro::protocol {

std::optional<std::string_view> StartupMessage::get(std::string_view name) const {
  for (const auto& [k, v] : parameters) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<StartupPacket> parseStartupPacket(std::string_view body) {
  MessageReader r(body);
  const int32_t code = r.int32();
  if (!r.ok()) return std::nullopt;
  switch (code) {
    case kSslRequestCode:
      return r.atEnd() ? std::optional<StartupPacket>(SslRequest{}) : std::nullopt;
    case kGssEncRequestCode:
      return r.atEnd() ? std::optional<StartupPacket>(GssEncRequest{}) : std::nullopt;
    case kCancelRequestCode: {
      CancelRequest c;
      c.process_id = r.int32();
      c.secret_key = r.int32();
      if (!r.ok() || !r.atEnd()) return std::nullopt;
      return c;
    }
    default:
      break;
  }
  if ((code >> 16) != 3) return UnsupportedProtocol{code};
  StartupMessage m;
  m.protocol = code;
  // name\0value\0 ... \0
  while (true) {
    std::string_view name = r.cstring();
    if (!r.ok()) return std::nullopt;
    if (name.empty()) break;
    std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    m.parameters.emplace_back(std::string(name), std::string(value));
  }
  if (!r.atEnd()) return std::nullopt;
  return m;
}

std::optional<ErrorFields> parseErrorFields(std::string_view body) {
  MessageReader r(body);
  ErrorFields f;
  std::string_view localized_severity;
  while (true) {
    const char code = r.byte();
    if (!r.ok()) return std::nullopt;
    if (code == '\0') break;
    std::string_view value = r.cstring();
    if (!r.ok()) return std::nullopt;
    switch (code) {
      case 'S':
        localized_severity = value;
        break;
      case 'V':
        f.severity = value;
        break;
      case 'C':
        f.sqlstate = value;
        break;
      case 'M':
        f.message = value;
        break;
      case 'D':
        f.detail = value;
        break;
      case 'H':
        f.hint = value;
        break;
      case 'P':
        f.position = value;
        break;
      default:
        break;
    }
  }
  if (f.severity.empty()) f.severity = localized_severity;
  return f;
}

void appendError(std::string& out, const PgError& error, char type) {
  MessageWriter w(out);
  w.begin(type);
  w.byte('S').cstring(error.severity);
  w.byte('V').cstring(error.severity);
  w.byte('C').cstring(error.sqlstate);
  w.byte('M').cstring(error.message);
  if (!error.detail.empty()) w.byte('D').cstring(error.detail);
  if (!error.hint.empty()) w.byte('H').cstring(error.hint);
  if (error.position > 0) w.byte('P').cstring(std::to_string(error.position));
  // The seed answered refusals with LOCATION <proxy>; keep a routine field that says so.
  w.byte('R').cstring("pgro");
  w.byte('\0');
  w.finish();
}

void appendAuthenticationOk(std::string& out) {
  MessageWriter(out).begin('R').int32(kAuthOk).finish();
}

void appendAuthenticationSasl(std::string& out, std::string_view mechanism) {
  MessageWriter w(out);
  w.begin('R').int32(kAuthSasl).cstring(mechanism).byte('\0');
  w.finish();
}

void appendAuthenticationSaslContinue(std::string& out, std::string_view data) {
  MessageWriter w(out);
  w.begin('R').int32(kAuthSaslContinue).bytes(data);
  w.finish();
}

void appendAuthenticationSaslFinal(std::string& out, std::string_view data) {
  MessageWriter w(out);
  w.begin('R').int32(kAuthSaslFinal).bytes(data);
  w.finish();
}

void appendParameterStatus(std::string& out, std::string_view name, std::string_view value) {
  MessageWriter w(out);
  w.begin('S').cstring(name).cstring(value);
  w.finish();
}

void appendBackendKeyData(std::string& out, int32_t process_id, int32_t secret_key) {
  MessageWriter(out).begin('K').int32(process_id).int32(secret_key).finish();
}

void appendReadyForQuery(std::string& out, char status) {
  MessageWriter(out).begin('Z').byte(status).finish();
}

void appendCommandComplete(std::string& out, std::string_view tag) {
  MessageWriter(out).begin('C').cstring(tag).finish();
}

void appendEmptyQueryResponse(std::string& out) {
  MessageWriter(out).begin('I').finish();
}

void appendRowDescription(std::string& out, std::string_view column, int32_t type_oid,
                          int16_t type_size) {
  MessageWriter w(out);
  w.begin('T').int16(1);
  w.cstring(column).int32(0).int16(0).int32(type_oid).int16(type_size).int32(-1).int16(0);
  w.finish();
}

void appendDataRow(std::string& out, const std::vector<std::optional<std::string>>& values) {
  MessageWriter w(out);
  w.begin('D').int16(static_cast<int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      w.int32(-1);
    } else {
      w.int32(static_cast<int32_t>(v->size())).bytes(*v);
    }
  }
  w.finish();
}

void appendStartupMessage(std::string& out,
                          const std::vector<std::pair<std::string, std::string>>& parameters) {
  MessageWriter w(out);
  w.beginUntyped().int32(kProtocolVersion3);
  for (const auto& [k, v] : parameters) w.cstring(k).cstring(v);
  w.byte('\0');
  w.finish();
}

void appendCancelRequest(std::string& out, int32_t process_id, int32_t secret_key) {
  MessageWriter(out)
      .beginUntyped()
      .int32(kCancelRequestCode)
      .int32(process_id)
      .int32(secret_key)
      .finish();
}

void appendSslRequest(std::string& out) {
  MessageWriter(out).beginUntyped().int32(kSslRequestCode).finish();
}

void appendPasswordMessage(std::string& out, std::string_view password) {
  MessageWriter(out).begin('p').cstring(password).finish();
}

void appendSaslInitialResponse(std::string& out, std::string_view mechanism,
                               std::string_view data) {
  MessageWriter w(out);
  w.begin('p').cstring(mechanism).int32(static_cast<int32_t>(data.size())).bytes(data);
  w.finish();
}

void appendSaslResponse(std::string& out, std::string_view data) {
  MessageWriter(out).begin('p').bytes(data).finish();
}

void appendQuery(std::string& out, std::string_view sql) {
  MessageWriter(out).begin('Q').cstring(sql).finish();
}

void appendSync(std::string& out) {
  MessageWriter(out).begin('S').finish();
}

void appendCopyFail(std::string& out, std::string_view reason) {
  MessageWriter(out).begin('f').cstring(reason).finish();
}

void appendTerminate(std::string& out) {
  MessageWriter(out).begin('X').finish();
}

}  // namespace pgro::protocol
