// The statements pgro keeps prepared on one upstream connection (transaction pooling maps
// clients' statement names onto these, PgBouncer 1.21's approach), plus who made the
// connection's unnamed statement. Pure bookkeeping: no I/O, unit-tested without a socket.
//
// Names are `pgro_<prefix>_<n>`, where the prefix is random per connection: no client can
// guess a server-side name, and none can address one anyway (the session maps every name a
// client uses, at the protocol and the SQL level, and refuses names that are not its own).
// Names are lowercase identifiers, so they can stand unquoted in SQL (PREPARE/EXECUTE).
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pgro::upstream {

class ServerStatements {
 public:
  struct Statement {
    std::string key;   // what the statement is (the session's encoding of text and types)
    std::string name;  // its server-side name
  };

  // At most `limit` statements are kept (at least one); `prefix` makes names unguessable.
  ServerStatements(std::size_t limit, std::string prefix);

  // The server-side name of `key` if it is prepared here, marked as just used.
  [[nodiscard]] const std::string* use(std::string_view key);
  // While the connection holds `limit` statements, removes the least recently used and
  // returns it: the caller closes it on the server before preparing another.
  [[nodiscard]] std::optional<Statement> evict();
  // Records `key` as prepared under a new name (room made by evict() first).
  const std::string& add(const std::string& key);
  // Records an evicted statement as prepared again: its Close never ran (skipped after an
  // error in the extended protocol).
  void restore(Statement statement);
  // Drops `key` (its Parse failed or was skipped).
  void forget(std::string_view key);
  [[nodiscard]] std::size_t size() const { return lru_.size(); }
  // The server dropped every statement (DISCARD ALL on a connection a session holds).
  void clear();

  // The unnamed statement: which client session's Parse made it, counted per session. A
  // session whose unnamed statement is not the connection's prepares it again before a Bind
  // or Describe of it. pgro's own unnamed Parses and every simple Query clear it.
  struct UnnamedOwner {
    uint64_t session = 0;  // 0: nobody's (or destroyed)
    uint64_t parse = 0;
    bool operator==(const UnnamedOwner&) const = default;
  };
  [[nodiscard]] UnnamedOwner unnamed() const { return unnamed_; }
  void setUnnamed(UnnamedOwner owner) { unnamed_ = owner; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Least recently used first; index_ maps keys (views into the list's nodes, which never
  // move) to nodes, so a use is a splice: no allocation.
  std::list<Statement> lru_;
  std::unordered_map<std::string_view, std::list<Statement>::iterator, Hash, std::equal_to<>>
      index_;
  std::size_t limit_;
  std::string prefix_;
  uint64_t counter_ = 0;
  UnnamedOwner unnamed_;
};

// A random name prefix for one connection: 16 lowercase hex digits.
[[nodiscard]] std::string randomStatementPrefix();

}  // namespace pgro::upstream
