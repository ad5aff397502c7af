#include "deploy/local/local_target.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <vector>

#include "common/file_io.h"
#include "common/logging.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// Where an older gridshiftd kept a job's process record (inside the job's directory).
constexpr const char* kRecordFile = "process.json";
// Process records live in this daemon-only (0700) directory under the workdir, out of reach
// of the jobs: a job that could rewrite its record could make cancel signal any process.
constexpr const char* kRecordDir = ".gridshift";
constexpr const char* kOutputFile = "output.log";
// Interruptible jobs checkpoint in <job dir>/checkpoints and write COMPLETE there when done.
constexpr const char* kCheckpointDir = "checkpoints";
constexpr const char* kCompleteMarker = "COMPLETE";
// What a job gets as PATH when the daemon itself has none.
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr std::size_t kMaxRecordBytes = 64 * 1024;

std::string errno_text(int error) {
  return std::generic_category().message(error);
}

std::string signal_name(int number) {
  const char* abbrev = ::sigabbrev_np(number);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", number);
}

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage, so the wrapper cannot be
// linked from C++: call the system call itself.
int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::string remote_name_of(const std::string& job_id, pid_t pid) {
  return fmt::format("local/{}/{}", job_id, pid);
}

// The pid in "local/<job id>/<pid>".
std::optional<pid_t> pid_of(const std::string& remote_name) {
  const auto slash = remote_name.rfind('/');
  if (!remote_name.starts_with("local/") || slash == std::string::npos) return std::nullopt;
  pid_t pid = 0;
  const char* first = remote_name.data() + slash + 1;
  const char* last = remote_name.data() + remote_name.size();
  auto [end, ec] = std::from_chars(first, last, pid);
  if (ec != std::errc() || end != last || pid <= 0) return std::nullopt;
  return pid;
}

struct ProcStat {
  char state = '?';
  unsigned long long start_time = 0;
};

// Fields 3 (state) and 22 (start time) of /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
std::optional<ProcStat> read_proc_stat(pid_t pid) {
  auto text = read_text_file(fmt::format("/proc/{}/stat", pid), 4096);
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text->substr(close + 1));
  ProcStat stat;
  fields >> stat.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field)
    fields >> skipped;
  if (!(fields >> stat.start_time)) return std::nullopt;
  return stat;
}

std::string read_boot_id() {
  auto text = read_text_file("/proc/sys/kernel/random/boot_id", 256);
  if (!text) return {};
  while (!text->empty() && (text->back() == '\n' || text->back() == ' '))
    text->pop_back();
  return *text;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The program posix_spawnp would run: `name` itself when it holds a slash, else the first
// executable file of that name on `path`. Looked up before fork, because the child may only
// make async-signal-safe calls.
std::optional<std::string> find_program(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  std::string_view rest = path;
  while (true) {
    const auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

// What the child reports through its close-on-exec pipe when a step before exec fails.
struct ChildFailure {
  int step = 0;
  int error = 0;
};
enum ChildStep : int {
  kStepSession = 1,
  kStepGroups,
  kStepGid,
  kStepUid,
  kStepDir,
  kStepOutput,
  kStepInput,
  kStepExec
};

std::string describe_step(int step, const RunIdentity& who, const std::string& program,
                          const fs::path& dir) {
  switch (step) {
    case kStepSession:
      return "cannot start a session";
    case kStepGroups:
      return fmt::format("cannot set the groups of {}", who.describe());
    case kStepGid:
      return fmt::format("cannot switch to gid {} of {}", who.gid, who.describe());
    case kStepUid:
      return fmt::format("cannot switch to {}", who.describe());
    case kStepDir:
      return fmt::format("cannot enter {} as {}", dir.string(), who.describe());
    case kStepOutput:
      return fmt::format("cannot open {}/{} as {}", dir.string(), kOutputFile, who.describe());
    case kStepInput:
      return "cannot open /dev/null";
    default:
      return fmt::format("cannot start local.command '{}' as {}", program, who.describe());
  }
}

// Runs `argv` as `who` without a shell: fork, then in the child only system calls (safe after
// fork in a process with threads): a new session (so that cancel reaches the whole group and the
// daemon's terminal signals do not), stdin from /dev/null, stdout and stderr appended to the
// job's output.log, no descriptor above stderr, every signal back to its default and unblocked
// (the daemon's ignored SIGPIPE must not leak), the groups, gid and uid of `who` (in that order:
// groups and gid need the privilege that setuid gives up), then exec. Every step that fails
// before exec is reported through a close-on-exec pipe, so a bad command or a missing privilege
// is an error of the create, not a job that exits 127.
struct Spawned {
  pid_t pid = 0;
  unsigned long long start_time = 0;  // /proc/<pid>/stat field 22
};

Result<Spawned> spawn_as(std::vector<std::string> argv, std::vector<std::string> env,
                         const fs::path& dir, const RunIdentity& who, const std::string& path) {
  const auto program = find_program(argv.front(), path);
  if (!program) {
    return make_error("spawn_failed", fmt::format("cannot start local.command '{}': {}",
                                                  argv.front(), errno_text(ENOENT)));
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return make_error("spawn_failed", "cannot create a pipe: " + errno_text(errno));
  }
  // The child waits on `go` until the parent has read its start time from /proc: once it has
  // switched to another user, a daemon without CAP_SYS_PTRACE may not see it there
  // (ProtectProc=invisible). A socket pair, so that a send to a dead child raises no SIGPIPE.
  int go[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
    const int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return make_error("spawn_failed", "cannot create a socket pair: " + errno_text(err));
  }
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  const std::string dir_text = dir.string();
  const bool switch_user = who.uid != ::geteuid() || who.gid != ::getegid();
  const std::vector<gid_t>& groups = who.groups;

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    for (int fd : {report[0], report[1], go[0], go[1]})
      ::close(fd);
    return make_error("spawn_failed", "cannot fork: " + errno_text(err));
  }
  if (pid == 0) {
    const auto fail = [&](int step) {
      const ChildFailure failure{step, errno};
      [[maybe_unused]] auto n = ::write(report[1], &failure, sizeof(failure));
      ::_exit(127);
    };
    ::close(report[0]);
    ::close(go[0]);
    char token = 0;
    while (::read(go[1], &token, 1) < 0 && errno == EINTR) {
    }
    ::close(go[1]);
    if (::setsid() < 0) fail(kStepSession);
    if (switch_user) {
      if (::setgroups(groups.size(), groups.data()) != 0) fail(kStepGroups);
      if (::setgid(who.gid) != 0) fail(kStepGid);
      if (::setuid(who.uid) != 0) fail(kStepUid);
    }
    if (::chdir(dir_text.c_str()) != 0) fail(kStepDir);
    const int input = ::open("/dev/null", O_RDONLY);
    if (input < 0) fail(kStepInput);
    // Opened as the job's user in its own directory: the log is the job's file.
    const int output = ::open(kOutputFile, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640);
    if (output < 0) fail(kStepOutput);
    if (::dup2(input, STDIN_FILENO) < 0 || ::dup2(output, STDOUT_FILENO) < 0 ||
        ::dup2(output, STDERR_FILENO) < 0) {
      fail(kStepOutput);
    }
    // Everything else goes, except the report pipe (close-on-exec) until exec.
    for (int fd = STDERR_FILENO + 1; fd < report[1]; ++fd)
      ::close(fd);
    ::close_range(static_cast<unsigned>(report[1]) + 1, ~0U, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
      ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program->c_str(), args.data(), envp.data());
    fail(kStepExec);
  }
  ::close(report[1]);
  ::close(go[1]);
  Spawned spawned;
  spawned.pid = pid;
  // The child cannot be reaped before this reads its stat: only this thread waits for it.
  if (auto stat = read_proc_stat(pid)) spawned.start_time = stat->start_time;
  [[maybe_unused]] auto sent = ::send(go[0], "g", 1, MSG_NOSIGNAL);
  ::close(go[0]);
  ChildFailure failure;
  ssize_t got = 0;
  do {
    got = ::read(report[0], &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return make_error("spawn_failed",
                      fmt::format("{}: {}", describe_step(failure.step, who, argv.front(), dir),
                                  errno_text(failure.error)));
  }
  return spawned;
}

// Signals a job's process group; 0 or the errno. Where the daemon may not signal another
// user's processes (it has no CAP_KILL), a short-lived child takes the job's uid and sends the
// signal as the job's own user: switching uid needs CAP_SETUID, which starting the job needed
// anyway. Signal 0 asks whether any member still runs.
int signal_group(pid_t group, int sig, uid_t uid, gid_t gid) {
  if (::kill(-group, sig) == 0) return 0;
  if (errno != EPERM || uid == ::geteuid()) return errno;
  const pid_t child = ::fork();
  if (child < 0) return errno;
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(EPERM);
    ::_exit(::kill(-group, sig) == 0 ? 0 : errno);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
}

// The exit of a child as this target reports it. A cancelled job is `cancelled` however it ended.
JobState end_state(bool clean_exit, bool cancel_requested) {
  if (cancel_requested) return JobState::cancelled;
  return clean_exit ? JobState::succeeded : JobState::failed;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), signal_name(WTERMSIG(status)));
  }
  return fmt::format("ended with wait status {}", status);
}

}  // namespace

LocalTarget::LocalTarget(asio::any_io_executor executor, const LocalDispatchConfig& config,
                         const Clock& clock, std::chrono::milliseconds kill_grace,
                         std::optional<RunIdentity> run_as)
    : executor_(std::move(executor)),
      workdir_(fs::absolute(config.workdir)),
      clock_(clock),
      kill_grace_(kill_grace),
      run_as_(std::move(run_as)),
      boot_id_(read_boot_id()) {
  const char* path = std::getenv("PATH");
  path_ = path != nullptr && *path != '\0' ? path : kDefaultPath;
  if (const auto missing = missing_privileges(); !missing.empty() && !run_as_) {
    subsystem_logger("local")->warn(
        "local jobs run as their owners, but this daemon (uid {}) lacks {}: jobs of other users "
        "will fail to start (see docs/operations.md, \"Local jobs\")",
        ::geteuid(), missing);
  }
}

// Running jobs are left running: a restarted daemon finds them through process.json.
LocalTarget::~LocalTarget() = default;

std::optional<std::string> LocalTarget::output_path(const Job& job) const {
  if (!job.remote_name || !job.remote_name->starts_with("local/")) return std::nullopt;
  return (job_dir(job.id) / kOutputFile).string();
}

fs::path LocalTarget::job_dir(const std::string& job_id) const {
  return workdir_ / job_id;
}

asio::awaitable<Result<DispatchStarted>> LocalTarget::create(Job job, std::string region) {
  co_return start(job, region);
}

asio::awaitable<Result<RemoteStatus>> LocalTarget::poll(Job job) {
  co_return status_of(job);
}

asio::awaitable<Status> LocalTarget::cancel(Job job) {
  co_return stop(job);
}

asio::awaitable<Result<std::optional<DispatchStarted>>> LocalTarget::adopt(Job job, std::string) {
  co_return find_running(job);
}

std::string missing_privileges() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return "its capabilities (capget failed)";
  std::string missing;
  for (const auto& [cap, name] : {std::pair{CAP_SETUID, "CAP_SETUID"},
                                  {CAP_SETGID, "CAP_SETGID"},
                                  {CAP_CHOWN, "CAP_CHOWN"}}) {
    const auto index = static_cast<std::size_t>(cap / 32);
    if ((data[index].effective & (1U << (cap % 32))) == 0) {
      if (!missing.empty()) missing += ", ";
      missing += name;
    }
  }
  return missing;
}

std::string RunIdentity::describe() const {
  return name.empty() ? fmt::format("uid {}", uid) : fmt::format("uid {} ({})", uid, name);
}

Result<RunIdentity> lookup_identity(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int rc = ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return make_error("spawn_failed",
                      fmt::format("uid {} has no account on this host (no passwd entry): a local "
                                  "job runs as its user, with that user's groups",
                                  uid));
  }
  RunIdentity who;
  who.uid = found->pw_uid;
  who.gid = found->pw_gid;
  who.name = found->pw_name;
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    ::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count);
  }
  groups.resize(static_cast<std::size_t>(std::max(count, 0)));
  who.groups = std::move(groups);
  return who;
}

Result<RunIdentity> lookup_identity(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return make_error(
        "invalid_config", fmt::format("no user named '{}'", user),
        {FieldError{"dispatch.local.run_as", fmt::format("no user named '{}'", user)}});
  }
  return lookup_identity(found->pw_uid);
}

Result<RunIdentity> LocalTarget::identity_for(const Job& job) const {
  if (run_as_) return *run_as_;
  return lookup_identity(static_cast<uid_t>(job.owner_uid));
}

// <workdir> (0711: jobs pass through to their own directory, nobody lists it), the daemon's
// record directory (0700) and <workdir>/<id> (0700, given to the job's user: other users' jobs
// cannot read it).
Result<fs::path> LocalTarget::prepare_job_dir(const std::string& job_id,
                                              const RunIdentity& who) const {
  std::error_code ec;
  if (fs::create_directories(workdir_, ec)) ::chmod(workdir_.c_str(), 0711);
  if (ec) {
    return make_error("io_error", fmt::format("cannot create dispatch.local.workdir {}: {}",
                                              workdir_.string(), ec.message()));
  }
  const auto records = workdir_ / kRecordDir;
  if (::mkdir(records.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error("io_error",
                      fmt::format("cannot create {}: {}", records.string(), errno_text(errno)));
  }
  const auto dir = job_dir(job_id);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error("io_error", fmt::format("cannot create job directory {}: {}", dir.string(),
                                              errno_text(errno)));
  }
  // Never follow a link planted in its place (the directory may exist from an earlier attempt).
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return make_error("io_error", fmt::format("cannot open job directory {}: {}", dir.string(),
                                              errno_text(errno)));
  }
  int failed = 0;
  if (::fchmod(fd, 0700) != 0) failed = errno;
  if (failed == 0 && ::fchown(fd, who.uid, who.gid) != 0) failed = errno;
  ::close(fd);
  if (failed != 0) {
    return make_error(
        "spawn_failed",
        fmt::format("cannot give job directory {} to {}: {} (running local jobs as their users "
                    "needs CAP_CHOWN, CAP_SETUID and CAP_SETGID; see docs/operations.md)",
                    dir.string(), who.describe(), errno_text(failed)));
  }
  return dir;
}

Result<fs::path> LocalTarget::prepare_checkpoint_dir(const fs::path& job_dir,
                                                     const RunIdentity& who) const {
  const auto dir = job_dir / kCheckpointDir;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error("io_error", fmt::format("cannot create checkpoint directory {}: {}",
                                              dir.string(), errno_text(errno)));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return make_error("io_error", fmt::format("cannot open checkpoint directory {}: {}",
                                              dir.string(), errno_text(errno)));
  }
  const int failed = ::fchown(fd, who.uid, who.gid) != 0 ? errno : 0;
  ::close(fd);
  if (failed != 0) {
    return make_error("spawn_failed",
                      fmt::format("cannot give checkpoint directory {} to {}: {}", dir.string(),
                                  who.describe(), errno_text(failed)));
  }
  return dir;
}

Result<DispatchStarted> LocalTarget::start(const Job& job, const std::string& region) {
  auto log = subsystem_logger("local");
  if (!job.spec.local || job.spec.local->command.empty()) {
    return make_error("invalid_job", fmt::format("job {} has no local command to run", job.id),
                      {FieldError{"local.command", "required by dispatch.type: local"}});
  }
  if (!is_valid_job_id(job.id)) {
    return make_error("invalid_job", "not a valid job id: " + job.id,
                      {FieldError{"id", "lowercase [a-z0-9-], at most 40 characters"}});
  }
  if (auto it = tracked_.find(job.id); it != tracked_.end() && !it->second.record.outcome) {
    // At most once: a second create for a job whose process runs returns that process.
    return DispatchStarted{remote_name_of(job.id, it->second.record.pid),
                           it->second.record.started_at};
  }

  auto who = identity_for(job);
  if (!who) {
    log->error("job {}: {}", job.id, who.error().message);
    return who.error();
  }
  auto dir = prepare_job_dir(job.id, *who);
  if (!dir) {
    log->error("job {}: {}", job.id, dir.error().message);
    return dir.error();
  }

  std::vector<std::string> env = {"PATH=" + path_,
                                  "HOME=" + dir->string(),
                                  "USER=" + who->name,
                                  "LOGNAME=" + who->name,
                                  "LANG=C.UTF-8",
                                  "GRIDSHIFT_JOB_ID=" + job.id,
                                  "GRIDSHIFT_JOB_NAME=" + job.spec.name,
                                  "GRIDSHIFT_REGION=" + region,
                                  "GRIDSHIFT_OUTPUT_DIR=" + dir->string()};
  if (job.spec.interruptible && !job.segments.empty()) {
    // The trainer's contract (docs/design.md, "Interruptible jobs"): where to checkpoint,
    // which segment this is and when it must have stopped.
    auto checkpoints = prepare_checkpoint_dir(*dir, *who);
    if (!checkpoints) {
      log->error("job {}: {}", job.id, checkpoints.error().message);
      return checkpoints.error();
    }
    env.push_back("GRIDSHIFT_CHECKPOINT_DIR=" + checkpoints->string());
    env.push_back("GRIDSHIFT_SEGMENT=" + std::to_string(job.segments.back().n));
    env.push_back("GRIDSHIFT_SEGMENT_END=" + format_rfc3339(job.segments.back().end));
  }
  auto spawned = spawn_as(job.spec.local->command, std::move(env), *dir, *who, path_);
  if (!spawned) {
    log->error("job {}: {}", job.id, spawned.error().message);
    return spawned.error();
  }

  ProcessRecord record;
  record.pid = spawned->pid;
  record.start_time = spawned->start_time;
  record.boot_id = boot_id_;
  record.region = region;
  record.started_at = clock_.now();
  record.uid = who->uid;
  record.gid = who->gid;
  if (auto written = write_record(job.id, record); !written) {
    log->warn("job {}: {}; a restarted daemon will not recognise pid {}", job.id,
              written.error().message, record.pid);
  }
  Tracked& tracked = track(job.id, record, true);
  watch_exit(job.id, tracked);
  log->info("job {}: started {} as pid {} ({}) in {} (output in {})", job.id,
            job.spec.local->command.front(), record.pid, who->describe(), dir->string(),
            kOutputFile);
  return DispatchStarted{remote_name_of(job.id, record.pid), record.started_at};
}

Result<RemoteStatus> LocalTarget::status_of(const Job& job) {
  auto found = lookup(job);
  if (!found) return found.error();
  Tracked& tracked = **found;
  RemoteStatus status;
  status.started_at = tracked.record.started_at;
  if (!tracked.record.outcome && !check_ended(job.id, tracked)) return status;
  const Outcome outcome = *tracked.record.outcome;
  status.state = outcome.state;
  status.message = outcome.message;
  status.finished_at = outcome.finished_at;
  if (job.spec.interruptible) {
    // A marker the trainer planted as a link counts only if it names a regular file.
    std::error_code ec;
    status.complete = fs::is_regular_file(job_dir(job.id) / kCheckpointDir / kCompleteMarker, ec);
  }
  // Reported: a repeated poll reads the same outcome back from process.json.
  tracked_.erase(job.id);
  return status;
}

Status LocalTarget::stop(const Job& job) {
  auto log = subsystem_logger("local");
  if (!job.remote_name) return {};  // nothing was started
  auto found = lookup(job);
  if (!found) return found.error();
  Tracked& tracked = **found;
  if (tracked.record.outcome || check_ended(job.id, tracked)) {
    log->info("job {}: cancel: process {} has already ended", job.id, tracked.record.pid);
    return {};
  }
  tracked.cancel_requested = true;
  if (kill_timers_.contains(job.id)) return {};  // SIGTERM sent, SIGKILL already scheduled
  // A session leader's process group id is its pid, and it cannot change it.
  const pid_t group = tracked.record.pid;
  if (const int err = signal_group(group, SIGTERM, tracked.record.uid, tracked.record.gid);
      err != 0 && err != ESRCH) {
    return make_error("cancel_failed",
                      fmt::format("cannot signal process group {}: {}", group, errno_text(err)));
  }
  log->info("job {}: cancel: SIGTERM to process group {}, SIGKILL in {} ms if still running",
            job.id, group, kill_grace_.count());
  auto [timer, inserted] = kill_timers_.try_emplace(job.id, executor_);
  timer->second.expires_after(kill_grace_);
  timer->second.async_wait([this, token = std::weak_ptr<int>(alive_token_), job_id = job.id,
                            record = tracked.record](const boost::system::error_code& error) {
    if (token.expired() || error) return;
    escalate(job_id, record);
  });
  return {};
}

void LocalTarget::escalate(const std::string& job_id, const ProcessRecord& record) {
  kill_timers_.erase(job_id);
  const pid_t group = record.pid;
  // EPERM: a member runs, as another user.
  if (::kill(-group, 0) != 0 && errno == ESRCH) return;  // every member of the group has ended
  subsystem_logger("local")->warn(
      "job {}: cancel: still running {} ms after SIGTERM, SIGKILL to process group {}", job_id,
      kill_grace_.count(), group);
  signal_group(group, SIGKILL, record.uid, record.gid);
}

std::optional<DispatchStarted> LocalTarget::find_running(const Job& job) {
  auto log = subsystem_logger("local");
  auto it = tracked_.find(job.id);
  if (it == tracked_.end()) {
    auto record = read_record(job.id);
    if (!record) {
      log->info("job {}: nothing to adopt: {}", job.id, record.error().message);
      return std::nullopt;
    }
    if (record->outcome) {
      log->info("job {}: nothing to adopt: pid {} has ended", job.id, record->pid);
      return std::nullopt;
    }
    Tracked& tracked = track(job.id, std::move(*record), false);
    // The pidfd is opened before the identity check, so it cannot refer to a later process.
    watch_exit(job.id, tracked);
    it = tracked_.find(job.id);
  }
  Tracked& tracked = it->second;
  if (tracked.record.outcome ||
      (tracked.our_child ? check_ended(job.id, tracked) : !alive(tracked.record))) {
    log->info("job {}: nothing to adopt: pid {} is gone", job.id, tracked.record.pid);
    tracked_.erase(it);
    return std::nullopt;
  }
  log->info("job {}: adopted pid {} (started {})", job.id, tracked.record.pid,
            format_rfc3339(tracked.record.started_at));
  return DispatchStarted{remote_name_of(job.id, tracked.record.pid), tracked.record.started_at};
}

Result<LocalTarget::Tracked*> LocalTarget::lookup(const Job& job) {
  const auto pid = pid_of(job.remote_name.value_or(""));
  if (!pid) {
    return make_error("invalid_state", fmt::format("job {}: '{}' is not a local run", job.id,
                                                   job.remote_name.value_or("")));
  }
  if (auto it = tracked_.find(job.id); it != tracked_.end()) {
    if (it->second.record.pid == *pid) return &it->second;
    // Never let a stale name displace the process this instance follows for the job.
    if (!it->second.record.outcome) {
      return make_error("invalid_state", fmt::format("job {} runs as pid {}, not {}", job.id,
                                                     it->second.record.pid, *pid));
    }
  }
  // Not started by this instance: the daemon restarted, or the end was already reported.
  const auto now = clock_.now();
  auto record = read_record(job.id);
  if (!record || record->pid != *pid) {
    ProcessRecord unknown;
    unknown.pid = *pid;
    unknown.outcome =
        Outcome{JobState::failed,
                record ? std::string(kGoneReason)
                       : "cannot identify the process after a restart: " + record.error().message,
                now};
    return &track(job.id, std::move(unknown), false);
  }
  Tracked& tracked = track(job.id, std::move(*record), false);
  if (!tracked.record.outcome) watch_exit(job.id, tracked);
  return &tracked;
}

LocalTarget::Tracked& LocalTarget::track(const std::string& job_id, ProcessRecord record,
                                         bool our_child) {
  Tracked tracked;
  tracked.record = std::move(record);
  tracked.our_child = our_child;
  return tracked_.insert_or_assign(job_id, std::move(tracked)).first->second;
}

// A pidfd becomes readable when its process ends, child or not (so also for a process adopted
// after a restart), without a process-wide SIGCHLD handler that would reap, or interrupt,
// anybody else's children. Where pidfds are missing, poll still notices the end at each tick.
void LocalTarget::watch_exit(const std::string& job_id, Tracked& tracked) {
  const int fd = pidfd_open(tracked.record.pid);
  if (fd < 0) {
    subsystem_logger("local")->debug("job {}: no pidfd for pid {} ({}); the end is seen by poll",
                                     job_id, tracked.record.pid, errno_text(errno));
    return;
  }
  tracked.exit_watch = std::make_unique<asio::posix::stream_descriptor>(executor_, fd);
  tracked.exit_watch->async_wait(asio::posix::stream_descriptor::wait_read,
                                 [this, token = std::weak_ptr<int>(alive_token_),
                                  job_id](const boost::system::error_code& error) {
                                   if (token.expired() || error) return;
                                   on_watch_fired(job_id);
                                 });
}

void LocalTarget::on_watch_fired(const std::string& job_id) {
  auto it = tracked_.find(job_id);
  if (it == tracked_.end() || it->second.record.outcome) return;
  if (!check_ended(job_id, it->second)) {
    // Readable yet not ended: cannot happen for a pidfd, but never stop watching on a guess.
    watch_exit(job_id, it->second);
  }
}

bool LocalTarget::check_ended(const std::string& job_id, Tracked& tracked) {
  const auto now = clock_.now();
  if (tracked.our_child) {
    int status = 0;
    const pid_t reaped = ::waitpid(tracked.record.pid, &status, WNOHANG);
    if (reaped == 0) return false;
    if (reaped == tracked.record.pid) {
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      record_outcome(
          job_id, tracked,
          Outcome{end_state(clean, tracked.cancel_requested),
                  clean && !tracked.cancel_requested ? "" : describe_wait_status(status), now});
    } else {
      record_outcome(job_id, tracked,
                     Outcome{end_state(false, tracked.cancel_requested),
                             "the exit status is unknown: " + errno_text(errno), now});
    }
    return true;
  }
  if (alive(tracked.record)) return false;
  record_outcome(job_id, tracked,
                 Outcome{end_state(false, tracked.cancel_requested),
                         tracked.cancel_requested
                             ? "ended after SIGTERM; its exit status is unknown after a restart"
                             : std::string(kGoneReason),
                         now});
  return true;
}

void LocalTarget::record_outcome(const std::string& job_id, Tracked& tracked, Outcome outcome) {
  auto log = subsystem_logger("local");
  log->info("job {}: pid {} ended: {}{}", job_id, tracked.record.pid, to_string(outcome.state),
            outcome.message.empty() ? "" : ", " + outcome.message);
  tracked.record.outcome = std::move(outcome);
  tracked.exit_watch.reset();
  if (auto written = write_record(job_id, tracked.record); !written) {
    log->warn("job {}: {}", job_id, written.error().message);
  }
  // Whoever noticed the end (the exit watch, a cancel's check, a poll), the scheduler hears of
  // it: before, an end first seen by a cancel dropped the watch without telling anyone. Posted,
  // so the callback never runs inside the caller's own operation.
  if (on_exit_) asio::post(executor_, on_exit_);
}

bool LocalTarget::alive(const ProcessRecord& record) const {
  if (!record.boot_id.empty() && !boot_id_.empty() && record.boot_id != boot_id_) return false;
  const auto stat = read_proc_stat(record.pid);
  // A zombie has ended; its parent (not this daemon after a restart) has yet to reap it.
  if (!stat || stat->state == 'Z' || stat->state == 'X') return false;
  return stat->start_time == record.start_time;
}

fs::path LocalTarget::record_path(const std::string& job_id) const {
  return workdir_ / kRecordDir / (job_id + ".json");
}

Result<LocalTarget::ProcessRecord> LocalTarget::read_record(const std::string& job_id) const {
  auto path = record_path(job_id);
  auto text = read_text_file(path.string(), kMaxRecordBytes);
  if (!text) {
    // Written by an older gridshiftd, which kept it in the job's directory (then its own).
    const auto legacy = job_dir(job_id) / kRecordFile;
    struct stat st {};
    if (::lstat(legacy.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
      path = legacy;
      text = read_text_file(path.string(), kMaxRecordBytes);
    }
  }
  if (!text) return make_error("io_error", path.string() + ": " + text.error().message);
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  const auto bad = [&](const char* what) {
    return make_error("invalid_record", fmt::format("{}: {}", path.string(), what));
  };
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
      !j.contains("start_time") || !j["start_time"].is_number_unsigned() ||
      !j.contains("started_at") || !j["started_at"].is_string()) {
    return bad("needs pid, start_time and started_at");
  }
  ProcessRecord record;
  const auto pid = j["pid"].get<long long>();
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return bad("pid out of range");
  record.pid = static_cast<pid_t>(pid);
  record.start_time = j["start_time"].get<unsigned long long>();
  record.boot_id = j.value("boot_id", "");
  record.region = j.value("region", "");
  // Records of an older gridshiftd ran jobs as the daemon's own user.
  record.uid = j.value("uid", static_cast<uid_t>(::geteuid()));
  record.gid = j.value("gid", static_cast<gid_t>(::getegid()));
  auto started = parse_rfc3339(j["started_at"].get<std::string>());
  if (!started) return bad("started_at is not an RFC 3339 time");
  record.started_at = *started;
  if (j.contains("outcome")) {
    const auto& o = j["outcome"];
    if (!o.is_object() || !o.contains("state") || !o["state"].is_string() ||
        !o.contains("finished_at") || !o["finished_at"].is_string()) {
      return bad("outcome needs state and finished_at");
    }
    auto state = parse_job_state(o["state"].get<std::string>());
    auto finished = parse_rfc3339(o["finished_at"].get<std::string>());
    if (!state || !finished) return bad("outcome has a bad state or finished_at");
    record.outcome = Outcome{*state, o.value("message", ""), *finished};
  }
  return record;
}

// Written to a temporary name and renamed, so a crash never leaves half a record.
Status LocalTarget::write_record(const std::string& job_id, const ProcessRecord& record) const {
  nlohmann::json j = {{"pid", record.pid},
                      {"start_time", record.start_time},
                      {"boot_id", record.boot_id},
                      {"region", record.region},
                      {"uid", record.uid},
                      {"gid", record.gid},
                      {"started_at", format_rfc3339(record.started_at)}};
  if (record.outcome) {
    j["outcome"] = {{"state", to_string(record.outcome->state)},
                    {"message", record.outcome->message},
                    {"finished_at", format_rfc3339(record.outcome->finished_at)}};
  }
  const auto path = record_path(job_id);
  auto temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << j.dump(2) << '\n';
    out.close();
    if (!out) return make_error("io_error", "cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec)
    return make_error("io_error", fmt::format("cannot write {}: {}", path.string(), ec.message()));
  return {};
}

}  // namespace gridshift
