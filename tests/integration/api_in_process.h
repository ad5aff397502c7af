// Test and benchmark support: the daemon's socket API (ApiServer + JobService over a SQLite file
// in `dir`, or over a given store) run in-process, its io_context on a thread of its own, so that
// server options can be set small and internals read. Call stop() before reading JobService state
// from another thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/system_clock.h"
#include "daemon/api/api_server.h"
#include "daemon/api/job_service.h"
#include "daemon/config/config.h"
#include "storage/sqlite/sqlite_store.h"

namespace gridshift::testing {

class InProcessApi {
 public:
  explicit InProcessApi(const std::filesystem::path& dir, ApiServerOptions options = {})
      : InProcessApi(dir, sqlite_store(dir), options) {}
  InProcessApi(const std::filesystem::path& dir, std::unique_ptr<Store> store,
               ApiServerOptions options = {})
      : store_(std::move(store)),
        jobs_(*store_, config_, clock_, io_.get_executor()),
        server_(io_, router_, options) {
    RegionConfig region;
    region.name = "europe-west2";
    config_.regions = {region};
    config_.socket.path = (dir / "api.sock").string();
    jobs_.register_routes(router_);
    if (auto listening = server_.listen(config_.socket); !listening) {
      throw std::runtime_error(to_string(listening.error()));
    }
    server_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~InProcessApi() { stop(); }
  InProcessApi(const InProcessApi&) = delete;
  InProcessApi& operator=(const InProcessApi&) = delete;

  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string socket() const { return config_.socket.path; }
  boost::asio::io_context& io() { return io_; }
  Store& store() { return *store_; }
  JobService& jobs() { return jobs_; }
  TimePoint now() const { return clock_.now(); }

  // The store of the one-argument constructor: SQLite at dir/gridshift.db.
  static std::unique_ptr<Store> sqlite_store(const std::filesystem::path& dir) {
    auto store = SqliteStore::open((dir / "gridshift.db").string());
    if (!store) throw std::runtime_error(to_string(store.error()));
    return std::move(*store);
  }

 private:
  Config config_;
  SystemClock clock_;
  std::unique_ptr<Store> store_;
  boost::asio::io_context io_;
  ApiRouter router_;
  JobService jobs_;
  ApiServer server_;
  std::thread thread_;
};

}  // namespace gridshift::testing
