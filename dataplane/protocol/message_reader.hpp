// Reads the fields of one message body. Every read checks the remaining length; after the
// first failed read ok() stays false and later reads return empty values, so a caller checks
// once at the end ("don't believe nonsense": untrusted bytes never read out of bounds).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace pgro::protocol {

class MessageReader {
 public:
  explicit MessageReader(std::string_view body) : data_(body) {}

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool atEnd() const { return pos_ == data_.size(); }
  [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }

  char byte() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  int16_t int16() {
    if (!need(2)) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    pos_ += 2;
    return static_cast<int16_t>((p[0] << 8) | p[1]);
  }
  int32_t int32() {
    if (!need(4)) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    pos_ += 4;
    return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                                (uint32_t{p[2]} << 8) | uint32_t{p[3]});
  }
  // A NUL-terminated string (without the NUL).
  std::string_view cstring() {
    if (!ok_) return {};
    const auto* start = data_.data() + pos_;
    const void* nul = std::memchr(start, '\0', data_.size() - pos_);
    if (nul == nullptr) {
      ok_ = false;
      return {};
    }
    const auto len = static_cast<std::size_t>(static_cast<const char*>(nul) - start);
    pos_ += len + 1;
    return {start, len};
  }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  std::string_view rest() {
    std::string_view v = data_.substr(pos_);
    pos_ = data_.size();
    return v;
  }

 private:
  bool need(std::size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace pgro::protocol
