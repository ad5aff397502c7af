// A small RAII layer over the SQLite C API: a connection, prepared statements with typed binds
// and columns, a per-connection statement cache and a transaction guard. Failures are Result
// values ("storage_unavailable", "storage_full", "storage_busy", "storage_corrupt", "conflict").
// Not thread-safe: one connection and its statements belong to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gridshift::sqlite {

// Maps an SQLite result code (primary or extended) to a gridshift error code.
std::string_view error_code_for(int sqlite_rc);

// A prepared statement. Binds are chainable and defer their failure to step()/run(), so a
// sequence of binds needs one check. Indexes are 1-based for binds and 0-based for columns,
// as in the C API.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::uint32_t value) {
    return bind(index, static_cast<std::int64_t>(value));
  }
  Statement& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> step();
  // Runs a statement that returns no rows (or ignores them) to completion.
  Status run();
  // Makes the statement ready to run again and clears its bindings.
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  std::optional<std::int64_t> column_optional_int64(int column) const;
  std::optional<double> column_optional_double(int column) const;
  std::optional<std::string> column_optional_text(int column) const;

  std::string sql() const;

 private:
  void note_bind(int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = 0;  // first failed bind, reported by step()
};

// A cached statement on loan: reset (and its bindings cleared) when the loan ends, so that no
// half-stepped statement keeps a read transaction open.
class StatementLoan {
 public:
  explicit StatementLoan(Statement& statement) : statement_(&statement) {}
  // The moved-from loan keeps its pointer (never null) but no longer resets the statement.
  StatementLoan(StatementLoan&& other) noexcept
      : statement_(other.statement_), owner_(std::exchange(other.owner_, false)) {}
  StatementLoan& operator=(StatementLoan&&) = delete;
  StatementLoan(const StatementLoan&) = delete;
  StatementLoan& operator=(const StatementLoan&) = delete;
  ~StatementLoan() {
    if (owner_) statement_->reset();
  }
  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
  bool owner_ = true;
};

class Connection {
 public:
  // A closed connection; open() it before use. (Opening in place, rather than returning a
  // Connection in a Result, keeps the cached statements from ever moving between owners.)
  Connection() = default;

  // Opens (creating when asked) the database file with extended result codes enabled.
  // Closes whatever this connection had open before.
  Status open(const std::string& path, bool create = true);
  bool is_open() const { return db_ != nullptr; }

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that return no rows.
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // A statement prepared once per connection and reused (the hot paths).
  Result<StatementLoan> cached(std::string_view sql);

  // The first column of the first row, as text (for PRAGMA queries).
  Result<std::string> query_text(std::string_view sql);
  Result<std::int64_t> query_int64(std::string_view sql);

  Status set_busy_timeout(std::chrono::milliseconds timeout);
  std::int64_t last_insert_rowid() const;
  std::int64_t changes() const;
  bool in_transaction() const;
  sqlite3* handle() const { return db_.get(); }

  // An Error for the connection's last failure, with `context` saying what was being done.
  Error last_error(std::string_view context) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  // Declared before the cache so that statements are finalised before the connection closes.
  std::unique_ptr<sqlite3, Closer> db_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// A transaction guard: rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  enum class Mode { deferred, immediate, exclusive };

  static Result<Transaction> begin(Connection& connection, Mode mode = Mode::immediate);

  Transaction(Transaction&& other) noexcept
      : connection_(other.connection_), active_(other.active_) {
    other.active_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status commit();

 private:
  explicit Transaction(Connection& connection) : connection_(&connection), active_(true) {}

  Connection* connection_;
  bool active_;
};

// Builds an Error from an SQLite result code and message.
Error make_sqlite_error(int sqlite_rc, std::string_view sqlite_message, std::string_view context);

}  // namespace gridshift::sqlite
