// The dry_run dispatcher as a Dispatcher: logs what it would do and lets the job "run" for its
// expected duration on the daemon clock (deploy/dry_run/dry_run_dispatcher.h). Stateless, so a restart
// finds every dry-run job where the clock says it is. io_context thread only.
#pragma once

#include "core/ports/clock.h"
#include "core/ports/dispatcher.h"
#include "deploy/dry_run/dry_run_dispatcher.h"

namespace gridshift {

class DryRunTarget final : public Dispatcher {
 public:
  explicit DryRunTarget(const Clock& clock) : clock_(clock) {}

  std::string_view target() const override { return DryRunDispatcher::kTarget; }
  boost::asio::awaitable<Result<DispatchStarted>> create(Job job, std::string region) override;
  boost::asio::awaitable<Result<RemoteStatus>> poll(Job job) override;
  boost::asio::awaitable<Status> cancel(Job job) override;
  boost::asio::awaitable<Result<std::optional<DispatchStarted>>> adopt(Job job,
                                                                       std::string region) override;

 private:
  const Clock& clock_;
  DryRunDispatcher dispatcher_;
};

}  // namespace gridshift
