// A libpq connection (the C library, not libpqxx) for tests that look at what only libpq
// shows: TLS state (PQsslInUse, PQsslAttribute), the exact PQerrorMessage of a refused
// connection, and PQcancel (a CancelRequest on a new plaintext connection).
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

namespace pgro::test {

class LibpqConn {
 public:
  // PQconnectdb; a failed connection is an object with ok() == false, not an exception.
  explicit LibpqConn(const std::string& conninfo);
  ~LibpqConn();
  LibpqConn(const LibpqConn&) = delete;
  LibpqConn& operator=(const LibpqConn&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const;  // PQerrorMessage
  bool sslInUse() const { return PQsslInUse(conn_) == 1; }
  // PQsslAttribute ("protocol", "cipher", ...); "" when the connection is not TLS.
  std::string sslAttribute(const char* name) const;
  PGconn* get() const { return conn_; }

  struct Result {
    bool ok = false;       // PGRES_TUPLES_OK or PGRES_COMMAND_OK
    std::string sqlstate;  // of the error, if any
    std::string error;     // PQresultErrorMessage
    std::vector<std::vector<std::optional<std::string>>> rows;  // text values, nullopt = NULL
  };
  // PQexec of one statement.
  Result exec(const std::string& sql) const;
  // The result of a PQsendQuery sent earlier: PQgetResult until it returns NULL; the
  // first error wins, else the last result.
  Result collect() const;
  // PQgetCancel + PQcancel; false with libpq's reason in `error`.
  bool cancel(std::string& error) const;

 private:
  PGconn* conn_;
};

}  // namespace pgro::test
