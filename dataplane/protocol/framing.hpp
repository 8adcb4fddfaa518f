// Message framing: bytes in, NeedMoreData | Message | ProtocolError out. No I/O.
//
// Typed messages (everything after startup, PostgreSQL docs 55.7): 1 type byte, then an
// Int32 length that counts itself (so >= 4) but not the type byte.
// Startup-phase packets (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no
// type byte: Int32 length (counting itself) then an Int32 code.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgro::protocol {

enum class FrameStatus { NeedMoreData, Message, ProtocolError };

struct Frame {
  char type = 0;               // 0 for startup-phase packets
  std::string_view body;       // without the type byte and the length
  std::size_t total_size = 0;  // bytes the frame occupies in the buffer
};

struct FrameResult {
  FrameStatus status = FrameStatus::NeedMoreData;
  Frame frame;
  std::string_view error;  // set for ProtocolError
};

inline constexpr std::size_t kTypedHeaderSize = 5;
// PostgreSQL's own limit for startup packets (MAX_STARTUP_PACKET_LENGTH).
inline constexpr uint32_t kMaxStartupPacketBytes = 10000;

// Reads the typed message at the start of `buf`. `max_length` bounds the length field: a
// larger one is a ProtocolError before any body byte is buffered, so a client cannot make
// the proxy allocate what it claims.
[[nodiscard]] FrameResult nextFrame(std::string_view buf, uint32_t max_length);

// Reads a startup-phase packet at the start of `buf`.
[[nodiscard]] FrameResult nextStartupFrame(std::string_view buf,
                                           uint32_t max_length = kMaxStartupPacketBytes);

// A big-endian Int32 of the wire protocol at `p` (4 bytes).
[[nodiscard]] inline uint32_t readUint32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// Length of the typed message whose header starts `buf` (buf.size() >= 5), 0 when invalid.
// Inline: the forwarding path frames every server message with it.
[[nodiscard]] inline uint32_t typedLength(std::string_view header) {
  const uint32_t len = readUint32(header.data() + 1);
  return len < 4 ? 0 : len;
}

}  // namespace pgro::protocol
