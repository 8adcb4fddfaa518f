#include "upstream/server_statements.hpp"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace pgro::upstream {

ServerStatements::ServerStatements(std::size_t limit, std::string prefix)
    : limit_(limit > 0 ? limit : 1), prefix_("pgro_" + std::move(prefix) + "_") {}

const std::string* ServerStatements::use(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.end(), lru_, it->second);
  return &it->second->name;
}

std::optional<ServerStatements::Statement> ServerStatements::evict() {
  if (lru_.size() < limit_) return std::nullopt;
  // The index's key is a view into the node: erased before the node is moved from.
  index_.erase(std::string_view(lru_.front().key));
  Statement oldest = std::move(lru_.front());
  lru_.pop_front();
  return oldest;
}

const std::string& ServerStatements::add(const std::string& key) {
  restore({key, prefix_ + std::to_string(++counter_)});
  return lru_.back().name;
}

void ServerStatements::restore(Statement statement) {
  forget(statement.key);
  lru_.push_back(std::move(statement));
  auto node = std::prev(lru_.end());
  index_.emplace(node->key, node);
}

void ServerStatements::forget(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  auto node = it->second;
  index_.erase(it);
  lru_.erase(node);
}

std::string randomStatementPrefix() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::random_device device;  // the kernel's generator, should OpenSSL's ever fail
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

void ServerStatements::clear() {
  index_.clear();
  lru_.clear();
  unnamed_ = {};
}

}  // namespace pgro::upstream
