#include "support/libpq_conn.hpp"

namespace pgro::test {
namespace {

LibpqConn::Result toResult(PGresult* res) {
  LibpqConn::Result r;
  const ExecStatusType status = PQresultStatus(res);
  r.ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
  if (const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) r.sqlstate = state;
  r.error = PQresultErrorMessage(res);
  for (int row = 0; row < PQntuples(res); ++row) {
    std::vector<std::optional<std::string>> values;
    for (int col = 0; col < PQnfields(res); ++col) {
      if (PQgetisnull(res, row, col)) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(std::string(PQgetvalue(res, row, col),
                                        static_cast<std::size_t>(PQgetlength(res, row, col))));
      }
    }
    r.rows.push_back(std::move(values));
  }
  return r;
}

}  // namespace

LibpqConn::LibpqConn(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {}

LibpqConn::~LibpqConn() {
  PQfinish(conn_);
}

std::string LibpqConn::error() const {
  return conn_ == nullptr ? "out of memory" : PQerrorMessage(conn_);
}

std::string LibpqConn::sslAttribute(const char* name) const {
  const char* value = PQsslAttribute(conn_, name);
  return value == nullptr ? "" : value;
}

LibpqConn::Result LibpqConn::exec(const std::string& sql) const {
  PGresult* res = PQexec(conn_, sql.c_str());
  if (res == nullptr) return Result{.error = error()};
  Result r = toResult(res);
  PQclear(res);
  return r;
}

LibpqConn::Result LibpqConn::collect() const {
  std::optional<Result> out;
  while (PGresult* res = PQgetResult(conn_)) {
    Result r = toResult(res);
    PQclear(res);
    if (!out || out->ok) out = std::move(r);
  }
  if (!out) return Result{.error = "no result: " + error()};
  return *out;
}

bool LibpqConn::cancel(std::string& error) const {
  PGcancel* handle = PQgetCancel(conn_);
  if (handle == nullptr) {
    error = "PQgetCancel returned NULL";
    return false;
  }
  char buf[256] = {};
  const bool sent = PQcancel(handle, buf, sizeof buf) == 1;
  PQfreeCancel(handle);
  if (!sent) error = buf;
  return sent;
}

}  // namespace pgro::test
