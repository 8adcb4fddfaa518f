#include "support/raw_pg_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "auth/md5.hpp"
#include "auth/scram_client.hpp"

namespace pgro::test {
namespace {

using Clock = std::chrono::steady_clock;

int connectTcp(const std::string& host, uint16_t port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot bind the source address " + source);
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    throw std::runtime_error("not an IPv4 address: " + host);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error("connect to " + host + ":" + std::to_string(port) + ": " +
                             std::strerror(err));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::string cstring(std::string_view body, std::size_t& at) {
  auto end = body.find('\0', at);
  if (end == std::string_view::npos) throw std::runtime_error("unterminated string in message");
  std::string s(body.substr(at, end - at));
  at = end + 1;
  return s;
}

std::string summary(const std::vector<Message>& messages) {
  std::string out = "received so far: [" + typeSequence(messages) + "]";
  if (auto e = firstError(messages)) out += " first error: " + e->describe();
  return out;
}

}  // namespace

RawPgClient::RawPgClient(std::string host, uint16_t port, const std::string& source)
    : host_(std::move(host)), port_(port), fd_(connectTcp(host_, port_, source)) {}

RawPgClient::~RawPgClient() {
  close();
}

RawPgClient::RawPgClient(RawPgClient&& other) noexcept
    : host_(std::move(other.host_)),
      port_(other.port_),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      startup_(std::move(other.startup_)) {}

void RawPgClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

RawPgClient RawPgClient::connect(const std::string& host, uint16_t port, const std::string& user,
                                 const std::string& password, const std::string& database,
                                 const Params& extra) {
  RawPgClient client(host, port);
  StartupResult r = client.startup(user, password, database, extra);
  if (!r.ok) {
    throw std::runtime_error("login as " + user + " to " + host + ":" + std::to_string(port) +
                             " failed: " + (r.error ? r.error->describe() : summary(r.messages)));
  }
  return client;
}

StartupResult RawPgClient::startup(const std::string& user, const std::string& password,
                                   const std::string& database, const Params& extra,
                                   std::chrono::milliseconds timeout, int32_t protocol) {
  StartupResult result;
  result.auth_method = "trust";
  Params params = {{"user", user}, {"database", database}};
  params.insert(params.end(), extra.begin(), extra.end());
  send(wire::startupMessage(params, protocol));

  std::optional<pgro::auth::ScramClient> scram;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ReadResult rr = readMessage(std::max(left, std::chrono::milliseconds(0)));
    if (rr.status == ReadStatus::Timeout) {
      throw std::runtime_error("startup timed out; " + summary(result.messages));
    }
    if (rr.status == ReadStatus::Closed) {
      if (result.error) break;  // FATAL, then the server hung up
      throw std::runtime_error("connection closed during startup; " + summary(result.messages));
    }
    const Message& m = rr.message;
    result.messages.push_back(m);
    switch (m.type) {
      case 'R': {
        int32_t code = getInt32(m.body, 0);
        if (code == 0) break;  // AuthenticationOk
        if (code == 3) {
          result.auth_method = "cleartext";
          send(wire::passwordMessage(password));
        } else if (code == 5) {
          result.auth_method = "md5";
          std::array<uint8_t, 4> salt{};
          for (std::size_t i = 0; i < 4; ++i) salt[i] = static_cast<uint8_t>(m.body.at(4 + i));
          send(wire::passwordMessage(pgro::auth::md5PasswordResponse(user, password, salt)));
        } else if (code == 10) {
          std::size_t at = 4;
          bool offered = false;
          while (at < m.body.size() && m.body[at] != '\0') {
            if (cstring(m.body, at) == "SCRAM-SHA-256") offered = true;
          }
          if (!offered) throw std::runtime_error("server did not offer SCRAM-SHA-256");
          result.auth_method = "SCRAM-SHA-256";
          scram.emplace(password);
          std::string first = scram->clientFirstMessage();
          std::string body = "SCRAM-SHA-256";
          body.push_back('\0');
          putInt32(body, static_cast<int32_t>(first.size()));
          body += first;
          send(wire::message('p', body));
        } else if (code == 11) {
          if (!scram) throw std::runtime_error("SASLContinue without SASL");
          auto final_message = scram->handleServerFirst(std::string_view(m.body).substr(4));
          if (!final_message) {
            throw std::runtime_error("SCRAM server-first rejected: " +
                                     final_message.error().message);
          }
          send(wire::message('p', *final_message));
        } else if (code == 12) {
          if (!scram) throw std::runtime_error("SASLFinal without SASL");
          auto verified = scram->verifyServerFinal(std::string_view(m.body).substr(4));
          if (!verified) {
            throw std::runtime_error("SCRAM server signature rejected: " +
                                     verified.error().message);
          }
        } else {
          throw std::runtime_error("unsupported authentication request " + std::to_string(code));
        }
        break;
      }
      case 'S': {
        std::size_t at = 0;
        std::string name = cstring(m.body, at);
        result.parameters[name] = cstring(m.body, at);
        break;
      }
      case 'K':
        result.backend_pid = getInt32(m.body, 0);
        result.backend_key = getInt32(m.body, 4);
        break;
      case 'E':
        result.error = parseErrorFields(m.body);
        if (!result.error) throw std::runtime_error("malformed ErrorResponse during startup");
        break;
      case 'Z':
        result.ok = !result.error;
        result.transaction_status = m.body.empty() ? '?' : m.body[0];
        startup_ = result;
        return result;
      default:
        break;  // NoticeResponse and anything else: kept in messages
    }
    if (result.error) {
      // A startup error is FATAL: the server closes the connection; drain until it does.
      auto rest = readMessage(std::chrono::milliseconds(2000));
      if (rest.status == ReadStatus::Ok) result.messages.push_back(rest.message);
      break;
    }
  }
  startup_ = result;
  return result;
}

void RawPgClient::send(std::string_view bytes) {
  if (!trySend(bytes)) {
    throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
  }
}

bool RawPgClient::trySend(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawPgClient::fill(std::size_t want, Clock::time_point deadline, ReadStatus& status) {
  char buf[65536];
  while (buffer_.size() < want) {
    if (fd_ < 0) {
      status = ReadStatus::Closed;
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    pollfd pfd{fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      status = ReadStatus::Timeout;
      return false;
    }
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // EOF or reset
      status = ReadStatus::Closed;
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

RawPgClient::ReadResult RawPgClient::readMessage(std::chrono::milliseconds timeout) {
  ReadResult result;
  auto deadline = Clock::now() + timeout;
  if (!fill(5, deadline, result.status)) return result;
  int32_t length = getInt32(buffer_, 1);
  if (length < 4)
    throw std::runtime_error("backend sent a message with length " + std::to_string(length));
  auto total = static_cast<std::size_t>(length) + 1;
  if (!fill(total, deadline, result.status)) return result;
  result.status = ReadStatus::Ok;
  result.message.type = buffer_[0];
  result.message.body = buffer_.substr(5, total - 5);
  buffer_.erase(0, total);
  return result;
}

RawPgClient::ReadStatus RawPgClient::readBytes(std::size_t n, std::string& out,
                                               std::chrono::milliseconds timeout) {
  ReadStatus status = ReadStatus::Ok;
  const bool complete = fill(n, Clock::now() + timeout, status);
  const std::size_t got = std::min(n, buffer_.size());
  out = buffer_.substr(0, got);
  buffer_.erase(0, got);
  return complete ? ReadStatus::Ok : status;
}

RawPgClient::RawReply RawPgClient::readBytesUntilClosed(std::chrono::milliseconds timeout) {
  RawReply reply;
  // Asking for more than can ever arrive reads until close or deadline.
  fill(std::numeric_limits<std::size_t>::max(), Clock::now() + timeout, reply.status);
  reply.bytes = std::move(buffer_);
  buffer_.clear();
  return reply;
}

std::vector<Message> RawPgClient::readUntilReadyForQuery(std::chrono::milliseconds timeout) {
  std::vector<Message> messages;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ReadResult r = readMessage(std::max(left, std::chrono::milliseconds(0)));
    if (r.status == ReadStatus::Timeout) {
      throw std::runtime_error("no ReadyForQuery within " + std::to_string(timeout.count()) +
                               " ms; " + summary(messages));
    }
    if (r.status == ReadStatus::Closed) {
      throw std::runtime_error("connection closed before ReadyForQuery; " + summary(messages));
    }
    messages.push_back(std::move(r.message));
    if (messages.back().type == 'Z') return messages;
  }
}

std::string RawPgClient::rawBytesUntilReadyForQuery(std::chrono::milliseconds timeout) {
  std::string out;
  for (const auto& m : readUntilReadyForQuery(timeout)) out += m.wire();
  return out;
}

RawPgClient::Reply RawPgClient::readReply(std::chrono::milliseconds timeout) {
  Reply reply;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ReadResult r = readMessage(std::max(left, std::chrono::milliseconds(0)));
    if (r.status == ReadStatus::Closed) {
      reply.closed = true;
      return reply;
    }
    if (r.status == ReadStatus::Timeout) {
      reply.timed_out = true;
      return reply;
    }
    reply.messages.push_back(std::move(r.message));
    if (reply.messages.back().type == 'Z') {
      reply.ready = true;
      return reply;
    }
  }
}

std::vector<Message> RawPgClient::readUntilClosed(std::chrono::milliseconds timeout) {
  std::vector<Message> messages;
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ReadResult r = readMessage(std::max(left, std::chrono::milliseconds(0)));
    if (r.status == ReadStatus::Closed) return messages;
    if (r.status == ReadStatus::Timeout) {
      throw std::runtime_error("connection still open after " + std::to_string(timeout.count()) +
                               " ms; " + summary(messages));
    }
    messages.push_back(std::move(r.message));
  }
}

std::vector<Message> RawPgClient::query(std::string_view sql, std::chrono::milliseconds timeout) {
  send(wire::query(sql));
  return readUntilReadyForQuery(timeout);
}

void RawPgClient::sendCancel(int32_t pid, int32_t key) const {
  sendCancel(host_, port_, pid, key);
}

void RawPgClient::cancelSelf() const {
  if (!startup_.backend_pid || !startup_.backend_key) {
    throw std::runtime_error("no BackendKeyData received");
  }
  sendCancel(*startup_.backend_pid, *startup_.backend_key);
}

void RawPgClient::sendCancel(const std::string& host, uint16_t port, int32_t pid, int32_t key) {
  RawPgClient c(host, port);
  c.send(wire::cancelRequest(pid, key));
  // The server answers nothing and closes; wait for that so the cancel has been read.
  (void)c.readMessage(std::chrono::milliseconds(2000));
}

std::vector<std::vector<std::optional<std::string>>> dataRows(
    const std::vector<Message>& messages) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const auto& m : messages) {
    if (m.type != 'D') continue;
    std::vector<std::optional<std::string>> row;
    int16_t n = getInt16(m.body, 0);
    std::size_t at = 2;
    for (int16_t i = 0; i < n; ++i) {
      int32_t len = getInt32(m.body, at);
      at += 4;
      if (len < 0) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(m.body.substr(at, static_cast<std::size_t>(len)));
        at += static_cast<std::size_t>(len);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace pgro::test
