#include "deploy/registry.h"

#include <fmt/format.h>
#include <unistd.h>

#include <utility>

#include "deploy/dry_run/dry_run_target.h"
#include "deploy/vertex_ai/token_source.h"
#include "deploy/vertex_ai/vertex_target.h"

namespace gridshift {
namespace {

// Credentials are loaded at check time so that a bad key file fails startup and
// --check-config naming the key, not the first dispatch hours later. The JSON fields of the
// file at fault go into the message.
Result<std::unique_ptr<TokenSource>> load_vertex_credentials(const VertexAiConfig& config,
                                                             const TargetEnvironment& env) {
  auto tokens = make_token_source(config, *env.http, *env.wall_clock, env.getenv);
  if (tokens) return tokens;
  const Error& cause = tokens.error();
  Error e = cause;
  e.details.clear();
  if (cause.details.empty()) {
    e.details.push_back(FieldError{"dispatch.vertex_ai.credentials", cause.message, 0});
  }
  for (const auto& detail : cause.details) {
    e.details.push_back(
        FieldError{"dispatch.vertex_ai.credentials",
                   fmt::format("{}: {}: {}", cause.message, detail.field, detail.message), 0});
  }
  return e;
}

Status check_local_run_as(const LocalDispatchConfig& config, std::optional<RunIdentity>* out) {
  if (config.run_as == "owner") return {};
  auto who = lookup_identity(config.run_as);
  std::string problem;
  if (!who) {
    problem = who.error().details.front().message;
  } else if (who->uid == 0) {
    problem = fmt::format("'{}' is root: local jobs run as an unprivileged user", config.run_as);
  } else if (who->uid == ::geteuid()) {
    problem = fmt::format(
        "'{}' is the daemon's own user: local jobs must not be able to read its credentials "
        "and database",
        config.run_as);
  }
  if (!problem.empty()) {
    return make_error(errc::kInvalidConfig, "the config names accounts this host lacks",
                      {FieldError{"dispatch.local.run_as", std::move(problem), 0}});
  }
  if (out != nullptr) *out = std::move(*who);
  return {};
}

}  // namespace

DispatchTarget::DispatchTarget() = default;
DispatchTarget::DispatchTarget(DispatchTarget&&) noexcept = default;
DispatchTarget& DispatchTarget::operator=(DispatchTarget&&) noexcept = default;
DispatchTarget::~DispatchTarget() = default;

Status check_dispatch_target(const DispatchConfig& config, const TargetEnvironment& env,
                             std::optional<RunIdentity>* run_as) {
  switch (config.type) {
    case DispatchType::local:
      return check_local_run_as(config.local, run_as);
    case DispatchType::vertex_ai:
      if (auto tokens = load_vertex_credentials(config.vertex_ai, env); !tokens) {
        return tokens.error();
      }
      return {};
    case DispatchType::dry_run:
      break;
  }
  return {};
}

std::vector<FieldError> check_job_for_target(const DispatchConfig& config, const JobSpec& spec) {
  std::vector<FieldError> errors;
  if (config.type == DispatchType::vertex_ai && spec.interruptible &&
      !config.vertex_ai.staging_bucket.enabled) {
    errors.push_back(FieldError{
        "interruptible",
        "this daemon dispatches to Vertex AI without a staging bucket, where an interruptible "
        "job keeps its checkpoint (dispatch.vertex_ai.staging_bucket.enabled is false)"});
  }
  return errors;
}

Result<DispatchTarget> make_dispatch_target(const DispatchConfig& config,
                                            const TargetEnvironment& env,
                                            std::optional<RunIdentity> run_as) {
  DispatchTarget target;
  switch (config.type) {
    case DispatchType::local: {
      auto local = std::make_unique<LocalTarget>(env.executor, config.local, *env.clock,
                                                 LocalTarget::kDefaultKillGrace, std::move(run_as));
      if (env.wake) local->on_exit(env.wake);
      target.description = fmt::format("local commands in {}", config.local.workdir);
      target.dispatcher = std::move(local);
      return target;
    }
    case DispatchType::vertex_ai: {
      auto tokens = load_vertex_credentials(config.vertex_ai, env);
      if (!tokens) return tokens.error();
      target.credentials = std::move(*tokens);
      target.description = fmt::format("Vertex AI project {} with {} credentials",
                                       config.vertex_ai.project, target.credentials->kind());
      target.dispatcher = std::make_unique<VertexTarget>(env.executor, config.vertex_ai, *env.http,
                                                         *target.credentials, *env.clock);
      return target;
    }
    case DispatchType::dry_run:
      break;
  }
  target.dispatcher = std::make_unique<DryRunTarget>(*env.clock);
  target.description = "dry run (nothing is dispatched)";
  return target;
}

}  // namespace gridshift
