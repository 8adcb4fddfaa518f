#include "protocol/framing.hpp"

namespace pgro::protocol {

FrameResult nextFrame(std::string_view buf, uint32_t max_length) {
  FrameResult r;
  if (buf.size() < kTypedHeaderSize) return r;
  const uint32_t len = readUint32(buf.data() + 1);
  if (len < 4) {
    r.status = FrameStatus::ProtocolError;
    r.error = "invalid message length";
    return r;
  }
  if (len > max_length) {
    r.status = FrameStatus::ProtocolError;
    r.error = "message length exceeds the limit";
    return r;
  }
  const std::size_t total = std::size_t{len} + 1;
  if (buf.size() < total) return r;
  r.status = FrameStatus::Message;
  r.frame.type = buf[0];
  r.frame.body = buf.substr(kTypedHeaderSize, len - 4);
  r.frame.total_size = total;
  return r;
}

FrameResult nextStartupFrame(std::string_view buf, uint32_t max_length) {
  FrameResult r;
  if (buf.size() < 4) return r;
  const uint32_t len = readUint32(buf.data());
  if (len < 8 || len > max_length) {
    r.status = FrameStatus::ProtocolError;
    r.error = "invalid startup packet length";
    return r;
  }
  if (buf.size() < len) return r;
  r.status = FrameStatus::Message;
  r.frame.body = buf.substr(4, len - 4);
  r.frame.total_size = len;
  return r;
}

}  // namespace pgro::protocol
