// The local dispatcher (dispatch.type: local): runs a job's `local.command` as a process of its
// own session in <workdir>/<job id>/, follows it by pid plus start time (process.json), and
// cancels it with SIGTERM then SIGKILL. io_context thread only; owns its timers and pidfds.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ports/clock.h"
#include "core/ports/dispatcher.h"
#include "deploy/local/settings.h"

namespace gridshift {

// Who a local job runs as: its owner (dispatch.local.run_as: owner) or the configured user.
struct RunIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, from the group database
  std::string name;
  std::string describe() const;  // "uid 1001 (alice)"
};

// The capabilities running jobs as other users needs that this process lacks ("" = none).
std::string missing_privileges();

// The account of `uid`, with its groups; error "spawn_failed" when it has none.
Result<RunIdentity> lookup_identity(uid_t uid);
// The account named `user`; error "invalid_config" naming dispatch.local.run_as.
Result<RunIdentity> lookup_identity(const std::string& user);

class LocalTarget final : public Dispatcher {
 public:
  static constexpr std::string_view kTarget = "local";
  // How long a cancelled job has between SIGTERM and SIGKILL.
  static constexpr std::chrono::milliseconds kDefaultKillGrace{10'000};
  // Why a job whose process ended while no daemon watched it fails.
  static constexpr std::string_view kGoneReason =
      "the process is gone: the daemon restarted while it ran, so its exit status is unknown";

  // The workdir is copied (made absolute: HOME and GRIDSHIFT_OUTPUT_DIR must hold in the job's
  // own directory): a reload cannot move the directories of running jobs. `run_as` is the
  // resolved dispatch.local.run_as user, or nullopt for "owner".
  LocalTarget(boost::asio::any_io_executor executor, const LocalDispatchConfig& config,
              const Clock& clock, std::chrono::milliseconds kill_grace = kDefaultKillGrace,
              std::optional<RunIdentity> run_as = std::nullopt);
  ~LocalTarget() override;
  LocalTarget(const LocalTarget&) = delete;
  LocalTarget& operator=(const LocalTarget&) = delete;

  std::string_view target() const override { return kTarget; }
  boost::asio::awaitable<Result<DispatchStarted>> create(Job job, std::string region) override;
  boost::asio::awaitable<Result<RemoteStatus>> poll(Job job) override;
  boost::asio::awaitable<Status> cancel(Job job) override;
  boost::asio::awaitable<Result<std::optional<DispatchStarted>>> adopt(Job job,
                                                                       std::string region) override;

  // Called on the io_context when a followed process ends (the daemon wires Scheduler::wake),
  // so that the end is recorded without waiting for the next tick.
  void on_exit(std::function<void()> callback) { on_exit_ = std::move(callback); }

  // <workdir>/<job id>: the job's working directory, HOME and GRIDSHIFT_OUTPUT_DIR.
  std::filesystem::path job_dir(const std::string& job_id) const;
  std::optional<std::string> output_path(const Job& job) const override;

 private:
  struct Outcome {
    JobState state = JobState::failed;
    std::string message;
    TimePoint finished_at{};
  };
  // What process.json holds: enough to recognise the process after a restart.
  struct ProcessRecord {
    pid_t pid = 0;
    unsigned long long start_time = 0;  // /proc/<pid>/stat field 22, clock ticks since boot
    std::string boot_id;
    std::string region;
    TimePoint started_at{};
    uid_t uid = 0;  // who the job runs as (signals are sent as this user when need be)
    gid_t gid = 0;
    std::optional<Outcome> outcome;  // written once the end is seen
  };
  struct Tracked {
    ProcessRecord record;
    bool our_child = false;  // spawned by this instance, so waitpid gives its exit status
    bool cancel_requested = false;
    std::unique_ptr<boost::asio::posix::stream_descriptor> exit_watch;  // pidfd
  };

  Result<DispatchStarted> start(const Job& job, const std::string& region);
  Result<RemoteStatus> status_of(const Job& job);
  Status stop(const Job& job);
  std::optional<DispatchStarted> find_running(const Job& job);

  // The tracked entry for the run `remote_name` names, loading process.json when this instance
  // has not seen the run yet (after a restart). Error when the run cannot be identified.
  Result<Tracked*> lookup(const Job& job);
  Tracked& track(const std::string& job_id, ProcessRecord record, bool our_child);
  void watch_exit(const std::string& job_id, Tracked& tracked);
  void on_watch_fired(const std::string& job_id);
  // Sets the outcome when the process has ended; true when it has.
  bool check_ended(const std::string& job_id, Tracked& tracked);
  void record_outcome(const std::string& job_id, Tracked& tracked, Outcome outcome);
  bool alive(const ProcessRecord& record) const;
  void escalate(const std::string& job_id, const ProcessRecord& record);

  Result<RunIdentity> identity_for(const Job& job) const;
  Result<std::filesystem::path> prepare_job_dir(const std::string& job_id,
                                                const RunIdentity& who) const;
  // <job dir>/checkpoints (0700, the job's user's): GRIDSHIFT_CHECKPOINT_DIR.
  Result<std::filesystem::path> prepare_checkpoint_dir(const std::filesystem::path& job_dir,
                                                       const RunIdentity& who) const;
  std::filesystem::path record_path(const std::string& job_id) const;
  Result<ProcessRecord> read_record(const std::string& job_id) const;
  Status write_record(const std::string& job_id, const ProcessRecord& record) const;

  boost::asio::any_io_executor executor_;
  std::filesystem::path workdir_;
  const Clock& clock_;
  std::chrono::milliseconds kill_grace_;
  std::optional<RunIdentity> run_as_;
  std::string boot_id_;
  std::string path_;  // the daemon's PATH, which jobs get and posix_spawnp searches
  std::function<void()> on_exit_;
  std::map<std::string, Tracked> tracked_;  // by job id
  // SIGKILL escalations by job id; apart from `tracked_` so that a group whose leader ended
  // on SIGTERM while a member ignores it is still killed.
  std::map<std::string, boost::asio::steady_timer> kill_timers_;
  // Completion handlers hold a weak copy: a handler that runs after destruction does nothing.
  std::shared_ptr<int> alive_token_ = std::make_shared<int>(0);
};

}  // namespace gridshift
