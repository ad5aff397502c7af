// Storage faults against the real gridshiftd (docs/design.md, "Promises", issue 8): the state
// directory on a full filesystem (a small tmpfs; needs root to mount it, skipped otherwise) and the
// database locked by another process. Submits must be refused with 503 and a message naming the
// cause, nothing already accepted may be lost or corrupted, and service resumes once the fault
// ends.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "api_raw_client.h"
#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

// Held in the queue (not before 2099) whatever the intensities are.
std::string spec(int n) {
  return R"({"name": "fault-)" + std::to_string(n) +
         R"(", "duration": "1h", "power_watts": 300, "not_before": "2099-01-01T00:00:00Z",
           "deadline": "2099-01-02T00:00:00Z"})";
}

// "ok", or what PRAGMA integrity_check found (opened beside the running daemon: WAL allows it).
std::string integrity_check(const std::filesystem::path& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return message;
  }
  sqlite3_busy_timeout(db, 5000);
  std::string result;
  char* error = nullptr;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        auto& text = *static_cast<std::string*>(out);
        text += (text.empty() ? "" : "; ") + std::string(values[0] ? values[0] : "NULL");
        return 0;
      },
      &result, &error);
  if (error != nullptr) {
    result = error;
    sqlite3_free(error);
  }
  sqlite3_close(db);
  return result;
}

std::set<std::string> listed_ids(const std::string& socket) {
  std::set<std::string> ids;
  const auto list = call(socket, "GET", "/v1/jobs?limit=1000").json();
  for (const auto& job : list["jobs"])
    ids.insert(job["id"].get<std::string>());
  return ids;
}

std::string error_message(const RawReply& reply) {
  const auto body = reply.json();
  return body.is_object() && body.contains("error") ? body["error"].value("message", "") : "";
}

// A tmpfs of `size` mounted on `path` for the scope.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string error_;
};

// Writes `path` until the filesystem refuses another byte; returns the bytes written.
std::size_t fill(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  const std::string chunk(4096, 'x');
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return total;
}

TEST(StorageFault, FullStateDirectoryRefusesSubmitsWith503AndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs as the state directory";
  TempDir dir;
  TmpfsMount state(dir / "state", "4m");
  if (!state.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << state.error();
  write_file(dir / "config.yaml", annual_dataset_config(dir.path()));
  auto daemon = start_daemon(dir.path(), dir / "config.yaml");
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const std::string socket = (dir / "gridshift.sock").string();

  std::set<std::string> accepted;
  auto first = call(socket, "POST", "/v1/jobs", spec(0));
  ASSERT_EQ(first.status, 201) << first.body;
  accepted.insert(first.json()["id"].get<std::string>());

  ASSERT_GT(fill(dir / "state" / "filler"), 0u);
  // SQLite may still reuse WAL pages it already owns, so a submit or two can succeed on a full
  // disk (and is then durable); the first one that needs new space must be refused.
  RawReply refused;
  for (int n = 1; n <= 200 && refused.status == 0; ++n) {
    auto reply = call(socket, "POST", "/v1/jobs", spec(n));
    if (reply.status == 201) {
      accepted.insert(reply.json()["id"].get<std::string>());
    } else {
      refused = reply;
    }
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.error_code(), "storage_full") << refused.body;
  EXPECT_NE(error_message(refused).find("full"), std::string::npos) << refused.body;
  ASSERT_TRUE(daemon->running()) << daemon->stderr_text();
  // Reads still work, and nothing half-written shows.
  EXPECT_EQ(listed_ids(socket), accepted);
  // Health says so, with the reason, instead of "ok".
  const auto degraded = call(socket, "GET", "/v1/health").json();
  EXPECT_EQ(degraded["status"], "degraded") << degraded.dump();
  EXPECT_NE(degraded["problems"].dump().find("submits cannot be stored"), std::string::npos)
      << degraded.dump();

  std::filesystem::remove(dir / "state" / "filler");
  auto after = call(socket, "POST", "/v1/jobs", spec(1000));
  ASSERT_EQ(after.status, 201) << after.body;
  accepted.insert(after.json()["id"].get<std::string>());
  EXPECT_EQ(call(socket, "GET", "/v1/health").json()["status"], "ok");
  EXPECT_EQ(listed_ids(socket), accepted);
  EXPECT_EQ(integrity_check(dir / "state" / "gridshift.db"), "ok");

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  EXPECT_EQ(integrity_check(dir / "state" / "gridshift.db"), "ok");
}

TEST(StorageFault, DatabaseLockedByAnotherProcessRefusesSubmitsWith503UntilReleased) {
  TempDir dir;
  write_file(dir / "config.yaml", annual_dataset_config(dir.path()));
  auto daemon = start_daemon(dir.path(), dir / "config.yaml");
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const std::string socket = (dir / "gridshift.sock").string();
  auto first = call(socket, "POST", "/v1/jobs", spec(0));
  ASSERT_EQ(first.status, 201) << first.body;

  // Another process's connection (a fork, so that SQLite's POSIX locks are really another
  // process's) holds an exclusive transaction until told to let go through a pipe.
  int to_holder[2];
  int from_holder[2];
  ASSERT_EQ(::pipe(to_holder), 0);
  ASSERT_EQ(::pipe(from_holder), 0);
  const auto db_path = dir / "state" / "gridshift.db";
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    sqlite3* db = nullptr;
    char status = 'n';
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
        sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK) {
      status = 'y';
    }
    (void)!::write(from_holder[1], &status, 1);
    char go = 0;
    (void)!::read(to_holder[0], &go, 1);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ::_exit(0);
  }
  char locked = 0;
  ASSERT_EQ(::read(from_holder[0], &locked, 1), 1);
  ASSERT_EQ(locked, 'y') << "the test could not take the exclusive lock";

  auto refused = call(socket, "POST", "/v1/jobs", spec(1));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.error_code(), "storage_busy") << refused.body;
  EXPECT_NE(error_message(refused).find("locked"), std::string::npos) << refused.body;
  ASSERT_TRUE(daemon->running()) << daemon->stderr_text();

  const char go = 'g';
  ASSERT_EQ(::write(to_holder[1], &go, 1), 1);
  int status = 0;
  ::waitpid(holder, &status, 0);
  for (int fd : {to_holder[0], to_holder[1], from_holder[0], from_holder[1]})
    ::close(fd);

  auto served = call(socket, "POST", "/v1/jobs", spec(2));
  ASSERT_EQ(served.status, 201) << served.body;
  const std::set<std::string> expected = {first.json()["id"].get<std::string>(),
                                          served.json()["id"].get<std::string>()};
  EXPECT_EQ(listed_ids(socket), expected);
  EXPECT_EQ(integrity_check(db_path), "ok");
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
