#include "daemon/local_target.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

#include "daemon/file_io.h"
#include "daemon/logging.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr const char* kRecordFile = "process.json";
constexpr const char* kOutputFile = "output.log";
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

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// posix_spawn's attribute objects, destroyed on every path.
struct SpawnSetup {
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attributes{};
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts `argv` without a shell. posix_spawn reports a failed exec (no such program, not
// executable) as its return value, so a bad command is an error here rather than a job that
// exits 127. The child is a session (and process group) leader so that cancel reaches what it
// starts and the daemon's terminal signals do not; every signal is reset to its default (the
// daemon's ignored SIGPIPE must not leak), and no descriptor above stderr is inherited.
Result<pid_t> spawn(std::vector<std::string> argv, std::vector<std::string> env,
                    const fs::path& dir) {
  const auto log_path = dir / kOutputFile;
  UniqueFd input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (input.get() < 0)
    return make_error("spawn_failed", "cannot open /dev/null: " + errno_text(errno));
  UniqueFd output(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (output.get() < 0) {
    return make_error("spawn_failed",
                      fmt::format("cannot open {}: {}", log_path.string(), errno_text(errno)));
  }
  SpawnSetup setup;
  ::posix_spawn_file_actions_adddup2(&setup.actions, input.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, output.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, output.get(), STDERR_FILENO);
  ::posix_spawn_file_actions_addchdir_np(&setup.actions, dir.c_str());
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  sigset_t all;
  sigset_t none;
  ::sigfillset(&all);
  ::sigdelset(&all, SIGKILL);
  ::sigdelset(&all, SIGSTOP);
  ::sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&setup.attributes, &all);
  ::posix_spawnattr_setsigmask(&setup.attributes, &none);
  ::posix_spawnattr_setflags(&setup.attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args.front(), &setup.actions, &setup.attributes, args.data(),
                                envp.data());
  if (rc != 0) {
    return make_error("spawn_failed", fmt::format("cannot start local.command '{}': {}",
                                                  argv.front(), errno_text(rc)));
  }
  return pid;
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
                         const Clock& clock, std::chrono::milliseconds kill_grace)
    : executor_(std::move(executor)),
      workdir_(config.workdir),
      clock_(clock),
      kill_grace_(kill_grace),
      boot_id_(read_boot_id()) {
  const char* path = std::getenv("PATH");
  path_ = path != nullptr && *path != '\0' ? path : kDefaultPath;
}

// Running jobs are left running: a restarted daemon finds them through process.json.
LocalTarget::~LocalTarget() = default;

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

  const auto dir = job_dir(job.id);
  std::error_code ec;
  fs::create_directories(workdir_, ec);
  if (ec) {
    return make_error("io_error", fmt::format("cannot create dispatch.local.workdir {}: {}",
                                              workdir_.string(), ec.message()));
  }
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return make_error("io_error", fmt::format("cannot create job directory {}: {}", dir.string(),
                                              errno_text(errno)));
  }
  ::chmod(dir.c_str(), 0750);  // exactly 0750 whatever the umask made of mkdir's mode

  std::vector<std::string> env = {"PATH=" + path_,
                                  "HOME=" + dir.string(),
                                  "LANG=C.UTF-8",
                                  "GRIDSHIFT_JOB_ID=" + job.id,
                                  "GRIDSHIFT_JOB_NAME=" + job.spec.name,
                                  "GRIDSHIFT_REGION=" + region,
                                  "GRIDSHIFT_OUTPUT_DIR=" + dir.string()};
  auto pid = spawn(job.spec.local->command, std::move(env), dir);
  if (!pid) {
    log->error("job {}: {}", job.id, pid.error().message);
    return pid.error();
  }

  ProcessRecord record;
  record.pid = *pid;
  // The child cannot be reaped before this reads its stat: only this thread waits for it.
  if (auto stat = read_proc_stat(*pid)) record.start_time = stat->start_time;
  record.boot_id = boot_id_;
  record.region = region;
  record.started_at = clock_.now();
  if (auto written = write_record(job.id, record); !written) {
    log->warn("job {}: {}; a restarted daemon will not recognise pid {}", job.id,
              written.error().message, *pid);
  }
  Tracked& tracked = track(job.id, record, true);
  watch_exit(job.id, tracked);
  log->info("job {}: started {} as pid {} in {} (output in {})", job.id,
            job.spec.local->command.front(), *pid, dir.string(), kOutputFile);
  return DispatchStarted{remote_name_of(job.id, *pid), record.started_at};
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
  if (::kill(-group, SIGTERM) != 0 && errno != ESRCH) {
    return make_error("cancel_failed",
                      fmt::format("cannot signal process group {}: {}", group, errno_text(errno)));
  }
  log->info("job {}: cancel: SIGTERM to process group {}, SIGKILL in {} ms if still running",
            job.id, group, kill_grace_.count());
  auto [timer, inserted] = kill_timers_.try_emplace(job.id, executor_);
  timer->second.expires_after(kill_grace_);
  timer->second.async_wait([this, token = std::weak_ptr<int>(alive_token_), job_id = job.id,
                            group](const boost::system::error_code& error) {
    if (token.expired() || error) return;
    escalate(job_id, group);
  });
  return {};
}

void LocalTarget::escalate(const std::string& job_id, pid_t group) {
  kill_timers_.erase(job_id);
  if (::kill(-group, 0) != 0) return;  // every member of the group has ended
  subsystem_logger("local")->warn(
      "job {}: cancel: still running {} ms after SIGTERM, SIGKILL to process group {}", job_id,
      kill_grace_.count(), group);
  ::kill(-group, SIGKILL);
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
    return;
  }
  if (on_exit_) on_exit_();
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
}

bool LocalTarget::alive(const ProcessRecord& record) const {
  if (!record.boot_id.empty() && !boot_id_.empty() && record.boot_id != boot_id_) return false;
  const auto stat = read_proc_stat(record.pid);
  // A zombie has ended; its parent (not this daemon after a restart) has yet to reap it.
  if (!stat || stat->state == 'Z' || stat->state == 'X') return false;
  return stat->start_time == record.start_time;
}

Result<LocalTarget::ProcessRecord> LocalTarget::read_record(const std::string& job_id) const {
  const auto path = job_dir(job_id) / kRecordFile;
  auto text = read_text_file(path.string(), kMaxRecordBytes);
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
                      {"started_at", format_rfc3339(record.started_at)}};
  if (record.outcome) {
    j["outcome"] = {{"state", to_string(record.outcome->state)},
                    {"message", record.outcome->message},
                    {"finished_at", format_rfc3339(record.outcome->finished_at)}};
  }
  const auto path = job_dir(job_id) / kRecordFile;
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
