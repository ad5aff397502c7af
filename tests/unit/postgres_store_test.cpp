// What only the PostgreSQL store has (the ports' contract is tests/unit/store_contract_test.cpp):
// the leader lease several daemons take turns on, held by a database session and lost with it;
// the notification a leader gets when another instance stores a job; the schema version guard.
// Each test has a database of its own in one throwaway cluster.
#include "storage/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "support/postgres_cluster.h"

namespace gridshift {
namespace {

using namespace std::chrono_literals;

testing::PostgresCluster& cluster() {
  static testing::PostgresCluster shared;
  return shared;
}

const TimePoint kNow = TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 20h;

class PostgresLease : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cluster().problem(), "");
    dsn_ = cluster().create_database();
    ASSERT_FALSE(dsn_.empty()) << cluster().problem();
    first_ = open();
    second_ = open();
    ASSERT_TRUE(first_ && second_);
  }

  std::unique_ptr<PostgresStore> open() {
    auto store = PostgresStore::open(dsn_);
    EXPECT_TRUE(store) << (store ? "" : to_string(store.error()));
    return store ? std::move(*store) : nullptr;
  }

  // Ends every session that holds the leader lease, as a crash or a lost network would.
  static Job job(const std::string& id) {
    Job j;
    j.id = id;
    j.owner_uid = 1000;
    j.spec.name = "leased";
    j.spec.regions = {"europe-west2"};
    j.spec.duration = 1h;
    j.regions = j.spec.regions;
    j.submitted_at = j.updated_at = kNow;
    j.deadline = kNow + 12h;
    j.power_watts = 300;
    return j;
  }

  std::string dsn_;
  std::unique_ptr<PostgresStore> first_;
  std::unique_ptr<PostgresStore> second_;
};

TEST_F(PostgresLease, OneSessionHoldsTheLeaseAndEveryInstanceSeesWhich) {
  auto none = second_->leader();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  auto a = first_->try_acquire("host-a:1", kNow);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(*a);
  auto b = second_->try_acquire("host-b:2", kNow + 1s);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(*b);
  EXPECT_TRUE(first_->held());
  EXPECT_FALSE(second_->held());
  auto verified = first_->verify();
  ASSERT_TRUE(verified);
  EXPECT_TRUE(*verified);
  // Taking it again is a no-op for the holder.
  EXPECT_TRUE(first_->try_acquire("host-a:1", kNow + 2s).value());

  auto seen = second_->leader();
  ASSERT_TRUE(seen && *seen);
  EXPECT_EQ(**seen, (LeaderInfo{"host-a:1", kNow, true}));
}

TEST_F(PostgresLease, WhenTheLeadersSessionEndsItKnowsAndAnotherTakesOver) {
  ASSERT_TRUE(first_->try_acquire("host-a:1", kNow).value());
  ASSERT_EQ(testing::PostgresCluster::end_lease_holder(dsn_), 1);

  auto still = first_->verify();
  EXPECT_FALSE(still && *still);
  EXPECT_FALSE(first_->held());
  auto gone = second_->leader();
  ASSERT_TRUE(gone && *gone);
  EXPECT_FALSE((*gone)->active) << "the record outlives the session, the lease does not";

  EXPECT_TRUE(second_->try_acquire("host-b:2", kNow + 5s).value());
  // The old leader's connection comes back as a new session, which does not hold the lease.
  auto again = first_->try_acquire("host-a:1", kNow + 6s);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again);
  EXPECT_FALSE(first_->held());
  auto seen = first_->leader();
  ASSERT_TRUE(seen && *seen);
  EXPECT_EQ(**seen, (LeaderInfo{"host-b:2", kNow + 5s, true}));
}

TEST_F(PostgresLease, TheLeaderHearsOfJobsStoredByAnotherInstance) {
  ASSERT_TRUE(first_->try_acquire("host-a:1", kNow).value());
  EXPECT_FALSE(first_->jobs_arrived());
  JobEvent submitted{0, "j-1", kNow, "submitted", "queued", ""};
  ASSERT_TRUE(second_->insert(job("j-1"), submitted));
  // The notification travels after the commit: bounded wait for it on the leader's socket.
  bool heard = false;
  for (int i = 0; i < 1000 && !heard; ++i) {
    heard = first_->jobs_arrived();
    if (!heard) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(heard);
  EXPECT_FALSE(first_->jobs_arrived()) << "each notification is taken once";
  // A follower listens to nothing.
  ASSERT_TRUE(first_->insert(job("j-2"), submitted));
  EXPECT_FALSE(second_->jobs_arrived());
}

TEST_F(PostgresLease, ASchemaWrittenByANewerGridshiftIsRefused) {
  pg::Connection admin;
  ASSERT_TRUE(admin.open(dsn_, {}));
  ASSERT_TRUE(admin.exec("UPDATE gridshift_schema SET version = 99"));
  auto refused = PostgresStore::open(dsn_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "storage_incompatible");
  EXPECT_NE(refused.error().message.find("schema version 99"), std::string::npos);
}

TEST(PostgresOpen, AnUnreachableServerIsAClearErrorWithoutThePassword) {
  // Port 1 on loopback refuses at once.
  auto refused = PostgresStore::open(
      "host=127.0.0.1 port=1 dbname=gridshift user=gridshift password=do-not-print-me");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "storage_unavailable");
  EXPECT_NE(refused.error().message.find("cannot connect to PostgreSQL"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("do-not-print-me"), std::string::npos);
  EXPECT_EQ(refused.error().message.find('\n'), std::string::npos) << "one line for the log";
}

}  // namespace
}  // namespace gridshift
