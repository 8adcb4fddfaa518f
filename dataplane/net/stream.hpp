// A connection's byte stream: a TCP socket, optionally with TLS on top. Reads wait for the
// socket to be readable and then take what is there without blocking, so a waiting
// connection holds no read buffer, encrypted or not. A stream given its own read buffer
// (keepReadBuffer: the few, busy upstream connections) reads into it instead: asio re-arms
// epoll (epoll_ctl) for every readiness wait, and on a socket registered for writability the
// re-arm wakes the loop once more for nothing. Writers turn
// plaintext into wire bytes with seal() and write those to socket() themselves (session::Outbound
// does, one write in flight at a time), or use writeAll() for a request/reply exchange.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls.hpp"

namespace pgro::net {

namespace asio = boost::asio;

class Stream {
 public:
  explicit Stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  asio::ip::tcp::socket& socket() { return socket_; }

  // From now on reads go into a buffer of `bytes` this stream owns (see above).
  void keepReadBuffer(std::size_t bytes);
  bool encrypted() const { return tls_ != nullptr; }
  const TlsEngine* tls() const { return tls_.get(); }

  // Runs the TLS handshake over the socket (as server or client, by the context). Returns
  // an empty string on success, else what failed; the stream is unusable after a failure.
  asio::awaitable<std::string> startTls(std::shared_ptr<const TlsContext> context,
                                        std::string_view host = {});

  // Waits for input and appends what arrived (decrypted) to `out`. False on end of stream
  // or error (ec says which; a TLS failure is asio::error::connection_aborted).
  asio::awaitable<bool> readSome(std::string& out, boost::system::error_code& ec);

  // Appends the wire form of `plain` (itself, or TLS records) to `wire`, after any bytes TLS
  // produced on its own while reading. False when the TLS connection has failed.
  bool seal(std::string_view plain, std::string& wire);
  // TLS produced bytes while reading (an alert, a key update) that are still to be sealed
  // into the write order; the writer flushes when this is true.
  bool hasWirePending() const { return !tls_wire_.empty(); }

  // Writes all of `plain`; for exchanges that own the connection (startup, settings sync).
  asio::awaitable<void> writeAll(std::string_view plain, boost::system::error_code& ec);
  // A last message before closing (Terminate, a FATAL), best effort and without blocking,
  // followed by close_notify under TLS.
  void writeLast(std::string_view plain);

  // Moves the socket onto another event loop (no operation may be pending). False if the
  // socket could not be moved (it is then closed).
  bool rebind(asio::any_io_executor executor);

 private:
  // Waits for input and returns what arrived, in the loop's shared chunk or the stream's own
  // buffer: valid until the next suspension.
  asio::awaitable<std::string_view> readChunk(boost::system::error_code& ec);

  asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsEngine> tls_;
  std::unique_ptr<char[]> read_buffer_;  // keepReadBuffer(); null: the loop's shared chunk
  std::size_t read_buffer_size_ = 0;
  std::string tls_wire_;  // bytes TLS produced while reading, not yet handed to a writer
};

}  // namespace pgro::net
