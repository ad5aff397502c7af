// Scenario benchmark of the socket API: an in-process ApiServer + JobService over a SQLite file
// (WAL, synchronous=FULL) in a temp dir, as gridshiftd runs them (one io_context thread).
//  1. 64 concurrent clients, each on its own keep-alive connection, submit jobs; every 201 is
//     durable (group commit). Reports submits/s, latency percentiles, transactions used.
//  2. 100,000 jobs listed page by page (limit=1000) over the socket.
// With `postgres` as fourth argument the store is PostgreSQL instead: a throwaway cluster of the
// local PostgreSQL 15 (fsync on, as in production) started in a temp dir, over TCP on 127.0.0.1.
// Usage: api_bench [clients=64] [submits_per_client=200] [list_jobs=100000] [sqlite|postgres]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres/postgres_store.h"
#include "support/postgres_cluster.h"
#include "tests/integration/api_in_process.h"

namespace {

using namespace gridshift;
using Clock = std::chrono::steady_clock;
using Server = gridshift::testing::InProcessApi;

// A blocking keep-alive HTTP client: enough for Content-Length answers from gridshiftd.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Returns the status; the body in `body`.
  int exchange(const std::string& request, std::string& body) {
    for (std::size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos)
      fill();
    const auto length_at = buffer_.find("Content-Length: ");
    const std::size_t length = std::stoul(buffer_.substr(length_at + 16));
    while (buffer_.size() < header_end + 4 + length)
      fill();
    const int status = std::stoi(buffer_.substr(9, 3));
    body = buffer_.substr(header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    return status;
  }

 private:
  void fill() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) throw std::runtime_error("connection closed");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
  int fd_;
  std::string buffer_;
};

std::string request(const std::string& method, const std::string& target,
                    const std::string& body = {}) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: b\r\n";
  if (!body.empty()) {
    out +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return out + "\r\n" + body;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

// The store the server runs on: SQLite in `dir`, or a new database of `cluster`.
std::unique_ptr<Store> open_store(const std::filesystem::path& dir,
                                  gridshift::testing::PostgresCluster* cluster) {
  if (cluster == nullptr) return Server::sqlite_store(dir);
  const std::string dsn = cluster->create_database();
  if (dsn.empty()) throw std::runtime_error(cluster->problem());
  auto store = PostgresStore::open(dsn);
  if (!store) throw std::runtime_error(to_string(store.error()));
  return std::move(*store);
}

void bench_submits(int clients, int per_client, gridshift::testing::PostgresCluster* cluster) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gridshift-api-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    Server server(dir, open_store(dir, cluster));
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    const std::string body =
        R"({"name": "bench", "duration": "2h", "power_watts": 550, "regions": ["europe-west2"]})";
    const auto started = Clock::now();
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        Client client(server.socket());
        std::string answer;
        for (int i = 0; i < per_client; ++i) {
          const auto t0 = Clock::now();
          if (client.exchange(request("POST", "/v1/jobs", body), answer) != 201) ++failures;
          latencies[static_cast<std::size_t>(c)].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      });
    }
    for (auto& t : threads)
      t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::vector<double> all;
    for (const auto& l : latencies)
      all.insert(all.end(), l.begin(), l.end());
    const auto total = all.size();
    std::printf("submit: %d clients x %d = %zu durable submits in %.2f s: %.0f submits/s\n",
                clients, per_client, total, seconds, static_cast<double>(total) / seconds);
    std::printf("submit latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms; failures %d\n",
                percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0),
                failures.load());
    server.stop();  // commits() is read after the server thread ends
    std::printf("transactions: %llu (%.1f submits per commit)\n",
                static_cast<unsigned long long>(server.jobs().commits()),
                static_cast<double>(total) / static_cast<double>(server.jobs().commits()));
  }
  std::filesystem::remove_all(dir);
}

void bench_listing(int count, gridshift::testing::PostgresCluster* cluster) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gridshift-api-bench-list-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    Server server(dir, open_store(dir, cluster));
    // Filled through the store (in batches) before the io thread serves anything else.
    std::vector<JobInsert> batch;
    std::mt19937_64 random(7);
    const auto now = server.now();
    for (int i = 0; i < count; ++i) {
      Job job;
      job.id = make_job_id(random);
      job.spec.name = "listed";
      job.spec.duration = std::chrono::hours(1);
      job.submitted_at = job.updated_at = now;
      job.deadline = now + std::chrono::hours(24);
      job.regions = {"europe-west2"};
      job.power_watts = 550;
      batch.push_back({job, JobEvent{0, job.id, now, "submitted", "bench", ""}});
    }
    boost::asio::post(server.io(), [&] {
      for (std::size_t i = 0; i < batch.size(); i += 10000) {
        std::vector<JobInsert> part(
            batch.begin() + static_cast<std::ptrdiff_t>(i),
            batch.begin() + static_cast<std::ptrdiff_t>(std::min(batch.size(), i + 10000)));
        if (!server.store().insert_batch(part)) throw std::runtime_error("fill failed");
      }
    });
    Client client(server.socket());
    std::string answer;
    std::vector<double> pages;
    std::size_t seen = 0;
    std::string target = "/v1/jobs?limit=1000";
    const auto started = Clock::now();
    for (;;) {
      const auto t0 = Clock::now();
      if (client.exchange(request("GET", target), answer) != 200) {
        throw std::runtime_error("list failed");
      }
      pages.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      auto page = nlohmann::json::parse(answer);
      seen += page["jobs"].size();
      if (page["next"].is_null()) break;
      target = "/v1/jobs?limit=1000&after=" + page["next"].get<std::string>();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf(
        "list: %zu jobs in %zu pages of 1000 in %.2f s (%.0f jobs/s); page p50 %.1f ms, "
        "p99 %.1f ms\n",
        seen, pages.size(), seconds, static_cast<double>(seen) / seconds, percentile(pages, 0.5),
        percentile(pages, 0.99));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 64;
  const int per_client = argc > 2 ? std::atoi(argv[2]) : 200;
  const int list_jobs = argc > 3 ? std::atoi(argv[3]) : 100000;
  const bool postgres = argc > 4 && std::string(argv[4]) == "postgres";
  try {
    std::unique_ptr<gridshift::testing::PostgresCluster> cluster;
    if (postgres) {
      cluster = std::make_unique<gridshift::testing::PostgresCluster>(/*durable=*/true);
      if (!cluster->problem().empty()) throw std::runtime_error(cluster->problem());
      std::printf("store: PostgreSQL 15 on 127.0.0.1:%d (fsync on)\n", cluster->port());
    } else {
      std::printf("store: SQLite (WAL, synchronous=FULL)\n");
    }
    bench_submits(clients, per_client, cluster.get());
    if (list_jobs > 0) bench_listing(list_jobs, cluster.get());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "api_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
