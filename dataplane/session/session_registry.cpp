#include "session/session_registry.hpp"

#include <openssl/rand.h>

#include <vector>

namespace pgro::session {

std::pair<int32_t, int32_t> SessionRegistry::add(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(mu_);
  while (true) {
    uint32_t words[2] = {0, 0};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(words), sizeof words) != 1) continue;
    // A positive pid like PostgreSQL's; the key is the unguessable part.
    const auto pid = static_cast<int32_t>((words[0] & 0x3fffffffu) | 1u);
    const auto key = static_cast<int32_t>(words[1]);
    if (sessions_.emplace(pack(pid, key), session).second) return {pid, key};
  }
}

void SessionRegistry::remove(int32_t pid, int32_t key) {
  std::lock_guard lock(mu_);
  sessions_.erase(pack(pid, key));
}

std::shared_ptr<ClientSession> SessionRegistry::find(int32_t pid, int32_t key) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(pack(pid, key));
  return it == sessions_.end() ? nullptr : it->second.lock();
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionRegistry::forEach(
    const std::function<void(const std::shared_ptr<ClientSession>&)>& fn) const {
  std::vector<std::shared_ptr<ClientSession>> live;
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, w] : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (const auto& s : live) fn(s);
}

}  // namespace pgro::session
