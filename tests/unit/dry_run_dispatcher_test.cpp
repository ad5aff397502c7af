#include "deploy/dry_run/dry_run_dispatcher.h"

#include <gtest/gtest.h>

namespace gridshift {
namespace {

Job make_job() {
  Job job;
  job.id = "j-abc123";
  job.spec.name = "resnet";
  job.spec.duration = Seconds(4 * 3600);
  return job;
}

TEST(DryRunDispatcher, RunsForTheJobsDurationOnTheGivenClock) {
  DryRunDispatcher dispatcher;
  const auto start = TimePoint(Seconds(1'800'000'000));
  const auto handle = dispatcher.create(make_job(), "europe-west2", start);
  EXPECT_EQ(handle.remote_name, "dry-run/europe-west2/j-abc123");
  EXPECT_EQ(handle.started_at, start);
  EXPECT_EQ(handle.expected_end, start + Seconds(14400));
  EXPECT_EQ(dispatcher.state_at(handle, start), JobState::running);
  EXPECT_EQ(dispatcher.state_at(handle, start + Seconds(14399)), JobState::running);
  EXPECT_EQ(dispatcher.state_at(handle, start + Seconds(14400)), JobState::succeeded);
}

TEST(DryRunDispatcher, DescribesWhatItWouldDo) {
  DryRunDispatcher dispatcher;
  auto job = make_job();
  job.spec.vertex = VertexSpec{};
  job.spec.vertex->machine_type = "a2-highgpu-1g";
  const auto handle = dispatcher.create(job, "europe-west9", TimePoint(Seconds(0)));
  const auto line = dispatcher.describe(job, handle);
  EXPECT_NE(line.find("j-abc123"), std::string::npos);
  EXPECT_NE(line.find("europe-west9"), std::string::npos);
  EXPECT_NE(line.find("a2-highgpu-1g"), std::string::npos);
  EXPECT_NE(line.find("1970-01-01T04:00:00Z"), std::string::npos);
}

}  // namespace
}  // namespace gridshift
