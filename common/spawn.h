// Starting a coroutine on the daemon's io_context with a stated policy for an exception that
// escapes it: every background task of the daemon goes through spawn(), so none can fail
// silently. Call on the io_context's thread (or before run()).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <string>
#include <utility>

#include "common/logging.h"

namespace gridshift {

enum class OnFailure {
  log,   // a task whose failure the daemon survives: one error line (a connection, a cancel)
  stop,  // a task the daemon cannot run without (a loop): logged, then rethrown out of run()
};

// The completion handler of a spawned task. A named type rather than a lambda: GCC 12
// miscompiles capturing lambdas in coroutine code.
class SpawnFailureHandler {
 public:
  SpawnFailureHandler(std::string subsystem, std::string task, OnFailure policy)
      : subsystem_(std::move(subsystem)), task_(std::move(task)), policy_(policy) {}

  void operator()(std::exception_ptr failure) const {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      auto log = subsystem_logger(subsystem_);
      if (policy_ == OnFailure::stop) {
        log->critical("{} stopped by an exception: {}", task_, e.what());
      } else {
        log->error("{} failed: {}", task_, e.what());
      }
    } catch (...) {
      subsystem_logger(subsystem_)->critical("{} stopped by an unknown exception", task_);
    }
    if (policy_ == OnFailure::stop) std::rethrow_exception(failure);
  }

 private:
  std::string subsystem_;
  std::string task_;
  OnFailure policy_;
};

// Runs `task` on `where` (an executor or an io_context); `subsystem` names the logger and
// `task_name` the task in the line written when it throws.
template <class ExecutorOrContext>
void spawn(ExecutorOrContext&& where, boost::asio::awaitable<void> task, std::string subsystem,
           std::string task_name, OnFailure policy) {
  boost::asio::co_spawn(std::forward<ExecutorOrContext>(where), std::move(task),
                        SpawnFailureHandler(std::move(subsystem), std::move(task_name), policy));
}

}  // namespace gridshift
