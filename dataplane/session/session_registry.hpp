// Live client sessions by proxy-issued BackendKeyData, for CancelRequest routing, shutdown
// and listing. Registration happens once per connection, never per query.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace pgro::session {

class ClientSession;

class SessionRegistry {
 public:
  // Issues a random (pid, key) pair unique among live sessions and registers the session.
  std::pair<int32_t, int32_t> add(const std::shared_ptr<ClientSession>& session);
  void remove(int32_t pid, int32_t key);
  std::shared_ptr<ClientSession> find(int32_t pid, int32_t key) const;
  std::size_t size() const;
  void forEach(const std::function<void(const std::shared_ptr<ClientSession>&)>& fn) const;

 private:
  static uint64_t pack(int32_t pid, int32_t key) {
    return (uint64_t{static_cast<uint32_t>(pid)} << 32) | static_cast<uint32_t>(key);
  }
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<ClientSession>> sessions_;
};

}  // namespace pgro::session
