#include "storage/postgres/pg_connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "core/error_codes.h"

namespace gridshift::pg {
namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// a log line and an API error are one line each.
std::string trimmed(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html) to the store codes.
std::string_view code_for(std::string_view sqlstate) {
  if (sqlstate == "23505") return errc::kConflict;  // unique_violation
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014") {
    return "storage_busy";  // serialization_failure, deadlock, lock_not_available, query_canceled
  }
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P")) {
    return "storage_unavailable";  // connection exceptions, admin/crash shutdown
  }
  return "storage_failed";
}

}  // namespace

Param param(std::string_view text) {
  return std::string(text);
}
Param param(const std::string& text) {
  return text;
}
Param param(const char* text) {
  return std::string(text);
}
Param param(std::int64_t value) {
  return std::to_string(value);
}
Param param(int value) {
  return std::to_string(value);
}
Param param(std::uint32_t value) {
  return std::to_string(value);
}
Param param(double value) {
  // fmt's default is the shortest text that reads back as the same double.
  return fmt::format("{}", value);
}
Param param(bool value) {
  return std::string(value ? "true" : "false");
}

std::size_t Rows::affected() const {
  const char* text = PQcmdTuples(result_.get());
  std::size_t n = 0;
  if (text != nullptr) std::from_chars(text, text + std::char_traits<char>::length(text), n);
  return n;
}

std::string Rows::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return std::string(value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::optional<std::string> Rows::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

std::int64_t Rows::int64(int row, int column) const {
  std::int64_t value = 0;
  const char* text = PQgetvalue(result_.get(), row, column);
  std::from_chars(text, text + PQgetlength(result_.get(), row, column), value);
  return value;
}

std::optional<std::int64_t> Rows::optional_int64(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return int64(row, column);
}

double Rows::real(int row, int column) const {
  // PostgreSQL writes a float8 in the shortest exact form (extra_float_digits >= 1, the default).
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

std::optional<double> Rows::optional_real(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return real(row, column);
}

bool Rows::boolean(int row, int column) const {
  return text(row, column) == "t";
}

Status Connection::open(std::string dsn, ConnectOptions options) {
  dsn_ = std::move(dsn);
  options_ = options;
  return connect();
}

Status Connection::connect() {
  const auto seconds = [](auto d) { return std::to_string(std::max<long long>(1, d.count())); };
  const auto timeout = options_.dead_peer_timeout;
  const std::string connect_timeout = seconds(options_.connect_timeout);
  const std::string idle = seconds(timeout / 3);
  const std::string interval = seconds(timeout / 6);
  const std::string user_timeout_ms =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  // Ours first: a setting the DSN gives itself overrides them (libpq takes the later one).
  const char* keywords[] = {"connect_timeout",
                            "application_name",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            "dbname",
                            nullptr};
  const char* values[] = {
      connect_timeout.c_str(), "gridshiftd", "1",    idle.c_str(), interval.c_str(), "2",
      user_timeout_ms.c_str(), dsn_.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  ++session_;
  prepared_.clear();  // prepared statements belong to the session that made them
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string message = conn_ ? trimmed(PQerrorMessage(conn_.get())) : "out of memory";
    conn_.reset();
    return make_error("storage_unavailable", "cannot connect to PostgreSQL: " + message);
  }
  // The server's side of the same: it ends a silent session (and its lease) about as soon.
  const auto setup = fmt::format(
      "SET client_min_messages = warning; SET statement_timeout = {}; SET tcp_keepalives_idle = "
      "{}; "
      "SET tcp_keepalives_interval = {}; SET tcp_keepalives_count = 2; SET tcp_user_timeout = {}",
      options_.statement_timeout.count(), idle, interval, user_timeout_ms);
  if (auto done = exec_script(setup); !done) {
    conn_.reset();
    return done.error();
  }
  return {};
}

int Connection::take_notifications() {
  if (!connected() || PQconsumeInput(conn_.get()) == 0) return 0;
  int n = 0;
  while (PGnotify* notification = PQnotifies(conn_.get())) {
    PQfreemem(notification);
    ++n;
  }
  return n;
}

bool Connection::connected() const {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

Status Connection::ensure_connected() {
  if (connected()) return {};
  if (in_transaction_) {
    return make_error("storage_unavailable",
                      "the connection to PostgreSQL was lost inside a transaction");
  }
  return connect();
}

std::string Connection::describe() const {
  if (!conn_) return "PostgreSQL (not connected)";
  return fmt::format("PostgreSQL database {} on {}:{}", PQdb(conn_.get()), PQhost(conn_.get()),
                     PQport(conn_.get()));
}

Error Connection::error_from(const PGresult* result, std::string_view what) const {
  if (!connected()) {
    return make_error("storage_unavailable",
                      fmt::format("{}: the connection to PostgreSQL was lost: {}", what,
                                  conn_ ? trimmed(PQerrorMessage(conn_.get())) : "not connected"));
  }
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? primary : trimmed(PQerrorMessage(conn_.get()));
  return make_error(code_for(sqlstate ? sqlstate : ""),
                    fmt::format("{}: {}{}", what, message,
                                sqlstate ? fmt::format(" (SQLSTATE {})", sqlstate) : ""));
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  if (auto done = ensure_connected(); !done) return done.error();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p ? p->c_str() : nullptr);
  const int count = static_cast<int>(values.size());
  if (params.empty()) {
    // Statements without parameters (BEGIN, COMMIT, LISTEN, ...) run as they are.
    const std::string text(sql);
    Rows rows(PQexecParams(conn_.get(), text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
    return checked(std::move(rows));
  }
  // The parameterised ones are the hot path: each is parsed and planned once per session.
  auto prepared = prepared_.find(sql);
  if (prepared == prepared_.end()) {
    const std::string name = "gs" + std::to_string(prepared_.size() + 1);
    const std::string text(sql);
    Rows made(PQprepare(conn_.get(), name.c_str(), text.c_str(), count, nullptr));
    if (auto done = checked(std::move(made)); !done) return done.error();
    prepared = prepared_.emplace(std::string(sql), name).first;
  }
  Rows rows(PQexecPrepared(conn_.get(), prepared->second.c_str(), count, values.data(), nullptr,
                           nullptr, /*resultFormat=*/0));
  return checked(std::move(rows));
}

Result<Rows> Connection::checked(Rows rows) const {
  const PGresult* result = rows.handle();
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return error_from(result, "PostgreSQL");
  }
  return rows;
}

Status Connection::exec_script(std::string_view sql) {
  if (!conn_) return make_error("storage_unavailable", "not connected to PostgreSQL");
  const std::string text(sql);
  // PQexec runs several statements; the result is the last one's, or the first that failed.
  if (auto done = checked(Rows(PQexec(conn_.get(), text.c_str()))); !done) return done.error();
  return {};
}

Result<Transaction> Transaction::begin(Connection& connection) {
  auto begun = connection.exec("BEGIN");
  if (!begun) return begun.error();
  connection.in_transaction_ = true;
  return Transaction(connection);
}

Transaction::~Transaction() {
  if (connection_ == nullptr) return;
  connection_->in_transaction_ = false;
  if (connection_->connected()) (void)connection_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Connection* connection = connection_;
  connection_ = nullptr;
  // Still inside: a connection lost now must fail the commit, not open a new session for it.
  auto done = connection->exec("COMMIT");
  connection->in_transaction_ = false;
  if (!done) return done.error();
  return {};
}

}  // namespace gridshift::pg
