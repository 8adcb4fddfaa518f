// Named message types pgro decodes or builds (PostgreSQL docs 55.7 "Message Formats").
// Only what the proxy must look at is decoded; everything else is forwarded as raw bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pgro::protocol {

inline constexpr int32_t kProtocolVersion3 = 196608;  // 3.0
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;

// Authentication request codes ('R' message).
inline constexpr int32_t kAuthOk = 0;
inline constexpr int32_t kAuthCleartextPassword = 3;
inline constexpr int32_t kAuthMd5Password = 5;
inline constexpr int32_t kAuthSasl = 10;
inline constexpr int32_t kAuthSaslContinue = 11;
inline constexpr int32_t kAuthSaslFinal = 12;

// Startup-phase packets.
struct StartupMessage {
  int32_t protocol = 0;
  std::vector<std::pair<std::string, std::string>> parameters;
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
};
struct SslRequest {};
struct GssEncRequest {};
struct CancelRequest {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};
struct UnsupportedProtocol {
  int32_t protocol = 0;
};
using StartupPacket =
    std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest, UnsupportedProtocol>;

// Decodes the body of a startup-phase packet (after its length). nullopt = malformed.
[[nodiscard]] std::optional<StartupPacket> parseStartupPacket(std::string_view body);

// An error or notice pgro sends itself; encodes to ErrorResponse / NoticeResponse.
struct PgError {
  std::string severity = "ERROR";  // ERROR, FATAL, ...
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
  int position = 0;  // 1-based character position in the query ('P'); 0 = none
};

// The fields of a received ErrorResponse/NoticeResponse (views into the body).
struct ErrorFields {
  std::string_view severity;  // 'S' (localized) / 'V'
  std::string_view sqlstate;  // 'C'
  std::string_view message;   // 'M'
  std::string_view detail;    // 'D'
  std::string_view hint;      // 'H'
  std::string_view position;  // 'P'
};
[[nodiscard]] std::optional<ErrorFields> parseErrorFields(std::string_view body);

// ---- Backend messages pgro builds (appended to `out`).
void appendError(std::string& out, const PgError& error, char type = 'E');
void appendAuthenticationOk(std::string& out);
void appendAuthenticationSasl(std::string& out, std::string_view mechanism);
void appendAuthenticationSaslContinue(std::string& out, std::string_view data);
void appendAuthenticationSaslFinal(std::string& out, std::string_view data);
void appendParameterStatus(std::string& out, std::string_view name, std::string_view value);
void appendBackendKeyData(std::string& out, int32_t process_id, int32_t secret_key);
void appendReadyForQuery(std::string& out, char status);
void appendCommandComplete(std::string& out, std::string_view tag);
void appendEmptyQueryResponse(std::string& out);
// A one-column RowDescription (text format) for results pgro answers itself.
void appendRowDescription(std::string& out, std::string_view column, int32_t type_oid,
                          int16_t type_size);
void appendDataRow(std::string& out, const std::vector<std::optional<std::string>>& values);

// ---- Frontend messages pgro builds when it is the client of PostgreSQL.
void appendStartupMessage(std::string& out,
                          const std::vector<std::pair<std::string, std::string>>& parameters);
void appendCancelRequest(std::string& out, int32_t process_id, int32_t secret_key);
void appendSslRequest(std::string& out);
void appendPasswordMessage(std::string& out, std::string_view password);
void appendSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data);
void appendSaslResponse(std::string& out, std::string_view data);
void appendQuery(std::string& out, std::string_view sql);
void appendSync(std::string& out);
void appendCopyFail(std::string& out, std::string_view reason);
void appendTerminate(std::string& out);

// Type OIDs used in rows pgro builds itself.
inline constexpr int32_t kInt8Oid = 20;
inline constexpr int32_t kTextOid = 25;

}  // namespace pgro::protocol
