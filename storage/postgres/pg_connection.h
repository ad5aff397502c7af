// A small RAII layer over libpq: one connection that reopens itself after it broke, queries with
// text parameters ($1, $2, ...), typed reads of their rows and a transaction guard. Failures are
// Result errors carrying PostgreSQL's message (never the connection string, which may hold a
// password). Every call blocks for at most the connection's timeouts (connect_timeout,
// statement_timeout, TCP keepalives). Not thread-safe: one owner, one thread.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace gridshift::pg {

// One query parameter in PostgreSQL's text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;
Param param(std::string_view text);
Param param(const std::string& text);
Param param(const char* text);
Param param(std::int64_t value);
Param param(int value);
Param param(std::uint32_t value);
Param param(double value);
Param param(bool value);
template <class T>
Param param(const std::optional<T>& value) {
  return value ? param(*value) : Param{};
}

// The rows of one query. Columns are 0-based.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  // Rows an INSERT, UPDATE or DELETE touched.
  std::size_t affected() const;
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  std::int64_t int64(int row, int column) const;
  std::optional<std::int64_t> optional_int64(int row, int column) const;
  double real(int row, int column) const;
  std::optional<double> optional_real(int row, int column) const;
  bool boolean(int row, int column) const;
  const PGresult* handle() const { return result_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

struct ConnectOptions {
  std::chrono::seconds connect_timeout{10};
  // Longest a statement may run before the server cancels it.
  std::chrono::milliseconds statement_timeout{30000};
  // How soon the server drops this session when the network goes silent (TCP keepalives and
  // user timeout, set on both ends): a lost leader's lease ends within about this long.
  std::chrono::seconds dead_peer_timeout{15};
};

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects with `dsn` (a libpq keyword/value string or URI). Errors "storage_unavailable"
  // with the server's message.
  Status open(std::string dsn, ConnectOptions options);

  // Runs one statement. A connection found broken is reopened first (a new session: see
  // session()). SQLSTATE classes map to codes: unique violation "conflict", serialization
  // failure, deadlock and lock or statement timeouts "storage_busy", a lost connection
  // "storage_unavailable", anything else "storage_failed".
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
  // Runs several statements without parameters (schema migrations).
  Status exec_script(std::string_view sql);

  // How many notifications (NOTIFY on a channel this session LISTENs to) arrived since the last
  // call; reads what the socket holds without waiting.
  int take_notifications();

  // Counts sessions: changes each time the connection is (re)opened. Session-level state (an
  // advisory lock) belongs to the session that took it.
  std::uint64_t session() const { return session_; }
  bool connected() const;
  // Database, host and port of the connection, for logs.
  std::string describe() const;

 private:
  friend class Transaction;
  Status connect();
  // Reopens a broken connection, except inside a transaction: its statements must all run in
  // the session that began it, so there the loss is an error.
  Status ensure_connected();
  Error error_from(const PGresult* result, std::string_view what) const;
  // The rows, or the error their result carries.
  Result<Rows> checked(Rows rows) const;

  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_{nullptr, &PQfinish};
  std::string dsn_;
  ConnectOptions options_;
  std::uint64_t session_ = 0;
  bool in_transaction_ = false;
  // SQL text -> name of its prepared statement in this session.
  std::map<std::string, std::string, std::less<>> prepared_;
};

// BEGIN on construction (begin()), ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& connection);
  Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
    other.connection_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Connection& connection) : connection_(&connection) {}
  Connection* connection_;
};

}  // namespace gridshift::pg
