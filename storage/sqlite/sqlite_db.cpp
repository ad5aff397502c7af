#include "storage/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <climits>
#include <utility>

namespace gridshift::sqlite {

std::string_view error_code_for(int sqlite_rc) {
  switch (sqlite_rc & 0xff) {
    case SQLITE_FULL:
      return "storage_full";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "storage_busy";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return errc::kStorageCorrupt;
    case SQLITE_CONSTRAINT:
      return errc::kConflict;
    default:
      return "storage_unavailable";
  }
}

Error make_sqlite_error(int sqlite_rc, std::string_view sqlite_message, std::string_view context) {
  std::string message = "database error";
  if (!context.empty()) {
    message += " while ";
    message += context;
  }
  message += ": ";
  message += sqlite_message.empty() ? std::string_view(sqlite3_errstr(sqlite_rc)) : sqlite_message;
  return make_error(std::string(error_code_for(sqlite_rc)), std::move(message));
}

namespace {

int checked_size(std::string_view text) {
  return text.size() > static_cast<std::size_t>(INT_MAX) ? -1 : static_cast<int>(text.size());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Statement& Statement::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  note_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  const int size = checked_size(value);
  if (size < 0) {
    note_bind(SQLITE_TOOBIG);
    return *this;
  }
  // An empty view may have a null data pointer, which SQLite would store as NULL.
  const char* data = value.data() != nullptr ? value.data() : "";
  note_bind(sqlite3_bind_text(stmt_, index, data, size, SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    const int rc = std::exchange(bind_rc_, SQLITE_OK);
    return make_sqlite_error(rc, sqlite3_errstr(rc), "binding parameters");
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The connection's message is more specific than the code's (it names the constraint).
  return make_sqlite_error(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_), "running a query");
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::optional<std::int64_t> Statement::column_optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_int64(column);
}

std::optional<double> Statement::column_optional_double(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_double(column);
}

std::optional<std::string> Statement::column_optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_text(column);
}

std::string Statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text != nullptr ? std::string(text) : std::string();
}

// ---------------------------------------------------------------------------------------------
// Connection

void Connection::Closer::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

Status Connection::open(const std::string& path, bool create) {
  cache_.clear();
  db_.reset();
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) {
    const std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    db_.reset();
    return make_sqlite_error(rc, message, "opening " + path);
  }
  sqlite3_extended_result_codes(raw, 1);
  return {};
}

Connection::~Connection() {
  // Statements must be finalised before the handle goes; member order guarantees it, but be
  // explicit since sqlite3_close_v2 would otherwise keep a zombie connection alive.
  cache_.clear();
}

Status Connection::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return make_sqlite_error(sqlite3_extended_errcode(db_.get()), detail, "executing a statement");
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int size = checked_size(sql);
  if (size < 0) return make_sqlite_error(SQLITE_TOOBIG, {}, "preparing a statement");
  const int rc =
      sqlite3_prepare_v3(db_.get(), sql.data(), size, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return make_sqlite_error(rc, sqlite3_errmsg(db_.get()), "preparing a statement");
  }
  return Statement(db_.get(), stmt);
}

Result<StatementLoan> Connection::cached(std::string_view sql) {
  auto found = cache_.find(std::string(sql));
  if (found == cache_.end()) {
    auto statement = prepare(sql);
    if (!statement) return statement.error();
    found =
        cache_.emplace(std::string(sql), std::make_unique<Statement>(std::move(*statement))).first;
  }
  return StatementLoan(*found->second);
}

Result<std::string> Connection::query_text(std::string_view sql) {
  auto statement = prepare(sql);
  if (!statement) return statement.error();
  auto row = statement->step();
  if (!row) return row.error();
  // Error is constructible from a string (aggregate), so the value needs naming.
  if (!*row) return Result<std::string>(boost::system::in_place_value);
  return Result<std::string>(boost::system::in_place_value, statement->column_text(0));
}

Result<std::int64_t> Connection::query_int64(std::string_view sql) {
  auto statement = prepare(sql);
  if (!statement) return statement.error();
  auto row = statement->step();
  if (!row) return row.error();
  if (!*row) return std::int64_t{0};
  return statement->column_int64(0);
}

Status Connection::set_busy_timeout(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  const int clamped = ms < 0 ? 0 : (ms > INT_MAX ? INT_MAX : static_cast<int>(ms));
  const int rc = sqlite3_busy_timeout(db_.get(), clamped);
  if (rc != SQLITE_OK) return last_error("setting the busy timeout");
  return {};
}

std::int64_t Connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_.get());
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_.get());
}

bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_.get()) == 0;
}

Error Connection::last_error(std::string_view context) const {
  return make_sqlite_error(sqlite3_extended_errcode(db_.get()), sqlite3_errmsg(db_.get()), context);
}

// ---------------------------------------------------------------------------------------------
// Transaction

Result<Transaction> Transaction::begin(Connection& connection, Mode mode) {
  std::string_view sql = "BEGIN IMMEDIATE";
  if (mode == Mode::deferred) sql = "BEGIN DEFERRED";
  if (mode == Mode::exclusive) sql = "BEGIN EXCLUSIVE";
  auto statement = connection.cached(sql);
  if (!statement) return statement.error();
  if (auto done = (*statement)->run(); !done) return done.error();
  return Transaction(connection);
}

Transaction::~Transaction() {
  // A failed statement may already have rolled the transaction back (SQLITE_FULL, ...).
  if (active_ && connection_->in_transaction()) {
    if (auto rollback = connection_->cached("ROLLBACK")) (void)(*rollback)->run();
  }
}

Status Transaction::commit() {
  auto statement = connection_->cached("COMMIT");
  if (!statement) return statement.error();
  if (auto done = (*statement)->run(); !done) {
    // On a failed COMMIT (e.g. BUSY) the transaction stays open; the destructor rolls back.
    return done.error();
  }
  active_ = false;
  return {};
}

}  // namespace gridshift::sqlite
