#include "net/stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace pgro::net {

namespace {

using boost::system::error_code;

// One read's worth of bytes. Shared by every connection of the loop: it is filled and
// emptied with no suspension in between.
thread_local char t_chunk[64 * 1024];

// Waits until the socket is readable, then reads what is there without blocking. Returns the
// bytes read (in t_chunk), or 0 with ec set (eof, reset, cancelled). The wait needs no buffer,
// but asio re-arms the socket's epoll registration for it (one epoll_ctl per wait).
asio::awaitable<std::size_t> readAvailable(asio::ip::tcp::socket& socket, error_code& ec) {
  while (true) {
    co_await socket.async_wait(asio::socket_base::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
    if (!socket.non_blocking()) socket.non_blocking(true, ec);
    const std::size_t n = socket.read_some(asio::buffer(t_chunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      continue;
    }
    co_return ec ? 0 : n;
  }
}

}  // namespace

void Stream::keepReadBuffer(std::size_t bytes) {
  read_buffer_ = std::make_unique_for_overwrite<char[]>(bytes);
  read_buffer_size_ = bytes;
}

asio::awaitable<std::string_view> Stream::readChunk(error_code& ec) {
  if (!read_buffer_) {
    const std::size_t n = co_await readAvailable(socket_, ec);
    co_return std::string_view(t_chunk, n);
  }
  // A read asio performs when the socket is ready: no epoll_ctl, so the registration keeps
  // its edge-triggered state and no writability edge wakes the loop. (Boost 1.74 tries the
  // read once before waiting, so a read that must wait costs a recv that finds nothing,
  // instead of the epoll_ctl: a buffer per client would save no syscall.)
  const std::size_t n =
      co_await socket_.async_read_some(asio::buffer(read_buffer_.get(), read_buffer_size_),
                                       asio::redirect_error(asio::use_awaitable, ec));
  co_return std::string_view(read_buffer_.get(), ec ? 0 : n);
}

asio::awaitable<std::string> Stream::startTls(std::shared_ptr<const TlsContext> context,
                                              std::string_view host) {
  tls_ = std::make_unique<TlsEngine>(std::move(context), host);
  std::string wire;
  error_code ec;
  while (true) {
    wire.clear();
    const auto status = tls_->handshake(wire);
    if (!wire.empty()) {
      co_await asio::async_write(socket_, asio::buffer(wire),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return "TLS handshake failed: " + ec.message();
    }
    if (status == TlsEngine::Status::Done) co_return std::string();
    if (status != TlsEngine::Status::WantRead) co_return tls_->error();
    const auto chunk = co_await readChunk(ec);
    if (ec) {
      co_return ec == asio::error::eof ? "TLS handshake failed: the peer closed the connection"
                                       : "TLS handshake failed: " + ec.message();
    }
    tls_->feed(chunk);
  }
}

asio::awaitable<bool> Stream::readSome(std::string& out, error_code& ec) {
  if (!tls_) {
    const auto chunk = co_await readChunk(ec);
    if (ec) co_return false;
    out.append(chunk);
    co_return true;
  }
  const std::size_t before = out.size();
  // Records that arrived with the handshake's last bytes are already here.
  bool have_input = tls_->hasBuffered();
  while (true) {
    if (!have_input) {
      const auto chunk = co_await readChunk(ec);
      if (ec) co_return false;
      tls_->feed(chunk);
    }
    have_input = false;
    const auto status = tls_->decrypt(out, tls_wire_);
    if (status == TlsEngine::Status::Closed) {
      ec = asio::error::eof;
      co_return out.size() > before;
    }
    if (status == TlsEngine::Status::Failed) {
      ec = asio::error::connection_aborted;
      co_return false;
    }
    if (out.size() > before) co_return true;
  }
}

bool Stream::seal(std::string_view plain, std::string& wire) {
  if (!tls_) {
    wire.append(plain);
    return true;
  }
  if (!tls_wire_.empty()) {
    wire.append(tls_wire_);
    tls_wire_.clear();
  }
  return tls_->encrypt(plain, wire);
}

asio::awaitable<void> Stream::writeAll(std::string_view plain, error_code& ec) {
  if (!tls_) {
    co_await asio::async_write(socket_, asio::buffer(plain.data(), plain.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  std::string wire;
  if (!seal(plain, wire)) {
    ec = asio::error::connection_aborted;
    co_return;
  }
  co_await asio::async_write(socket_, asio::buffer(wire),
                             asio::redirect_error(asio::use_awaitable, ec));
}

void Stream::writeLast(std::string_view plain) {
  if (!socket_.is_open()) return;
  std::string wire;
  if (seal(plain, wire) && tls_) tls_->close(wire);
  error_code ec;
  socket_.non_blocking(true, ec);
  if (!wire.empty()) socket_.write_some(asio::buffer(wire), ec);
}

bool Stream::rebind(asio::any_io_executor executor) {
  if (socket_.get_executor() == executor) return true;
  error_code ec;
  const auto protocol = socket_.local_endpoint(ec).protocol();
  const int fd = socket_.release(ec);
  if (ec) {
    socket_.close(ec);
    return false;
  }
  socket_ = asio::ip::tcp::socket(executor, protocol, fd);
  return true;
}

}  // namespace pgro::net
