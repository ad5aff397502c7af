// Test support: a throwaway PostgreSQL 15 cluster (Debian's `postgresql-15`) in a temporary
// directory, listening on a free port of 127.0.0.1 only, started by initdb and pg_ctl as an
// unprivileged user (the `postgres` account when the tests run as root: the server refuses root)
// and stopped with the object. Trust authentication for user `gridshift`; nothing is durable
// (fsync off) unless asked. One cluster per test binary is enough: create_database() gives each
// test its own. Also used by bench/api_bench.
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/postgres/pg_connection.h"
#include "storage/postgres/postgres_store.h"
#include "support/process.h"
#include "support/tcp_listener.h"

namespace gridshift::testing {

class PostgresCluster {
 public:
  // `durable`: fsync and full-page writes on, as in production (benchmarks); off for tests.
  explicit PostgresCluster(bool durable = false) {
    namespace fs = std::filesystem;
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("gridshift-pg-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const char* bin = std::getenv("GRIDSHIFT_PG_BIN");
    bin_ = bin != nullptr ? bin : "/usr/lib/postgresql/15/bin";
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) {
        problem_ = "running as root and there is no `postgres` account to run the server as";
        return;
      }
      if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
        problem_ = "cannot hand " + dir_.string() + " to the postgres account";
        return;
      }
      as_user_ = {"/usr/sbin/runuser", "-u", "postgres", "--"};  // util-linux
    }
    auto initdb = run({bin_ + "/initdb", "-D", data_dir(), "-U", "gridshift", "--auth=trust", "-E",
                       "UTF8", "--no-sync", "--no-instructions"});
    if (initdb.exit_code != 0) {
      problem_ = "initdb failed (exit " + std::to_string(initdb.exit_code) + "): " + initdb.err +
                 initdb.out;
      return;
    }
    // A free port can be taken by someone else before the server binds it: try a few.
    for (int attempt = 0; attempt < 5 && !started_; ++attempt) {
      port_ = TcpListener().port;  // released at once, for the server
      auto start = run({bin_ + "/pg_ctl", "-D", data_dir(), "-l", (dir_ / "server.log").string(),
                        "-w", "-t", "60", "-o",
                        "-p " + std::to_string(port_) + " -h 127.0.0.1 -k " + dir_.string() +
                            (durable ? std::string() : " -c fsync=off -c full_page_writes=off") +
                            " -c max_connections=100",
                        "start"});
      started_ = start.exit_code == 0;
      if (!started_)
        problem_ = "pg_ctl start failed: " + start.err + read_file(dir_ / "server.log");
    }
    if (started_) problem_.clear();
  }

  ~PostgresCluster() {
    if (started_) run({bin_ + "/pg_ctl", "-D", data_dir(), "-m", "immediate", "-w", "stop"});
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // Empty when the cluster runs; otherwise why it does not (tests fail with it, never skip).
  const std::string& problem() const { return problem_; }
  int port() const { return port_; }
  std::string dsn(const std::string& database = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database +
           " user=gridshift";
  }

  // A new empty database; its DSN, or "" when it cannot be made (problem() says why).
  std::string create_database() {
    static std::atomic<int> counter{0};
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    pg::Connection admin;
    auto opened = admin.open(dsn(), pg::ConnectOptions{});
    if (!opened) {
      problem_ = opened.error().message;
      return "";
    }
    auto created = admin.exec("CREATE DATABASE " + name);
    if (!created) {
      problem_ = created.error().message;
      return "";
    }
    return dsn(name);
  }

  // Ends the session that holds gridshift's leader lease in the database of `dsn`, as a crash
  // or a network cut would. How many sessions were ended; -1 when the query failed.
  static int end_lease_holder(const std::string& dsn) {
    pg::Connection admin;
    if (!admin.open(dsn, pg::ConnectOptions{})) return -1;
    auto ended = admin.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
        "classid = $1 AND objid = $2 AND pid <> pg_backend_pid()",
        {pg::param(PostgresStore::kLockClass), pg::param(PostgresStore::kLeaderLockKey)});
    return ended ? ended->size() : -1;
  }

 private:
  std::string data_dir() const { return (dir_ / "data").string(); }

  CommandResult run(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), as_user_.begin(), as_user_.end());
    return run_command(argv, dir_, dir_, {}, std::chrono::seconds(90));
  }

  std::filesystem::path dir_;
  std::string bin_;
  std::vector<std::string> as_user_;
  std::string problem_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace gridshift::testing
