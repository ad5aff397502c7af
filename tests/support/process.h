// Test support: run the real gridshiftd / gridshift binaries as child processes, with output
// captured to files, and wait on them with a bounded poll (never a fixed sleep).
// Single-threaded use from a test body; the destructor kills a child still running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gridshift::testing {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` with every `from` replaced by `to`.
inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Polls `condition` every 10 ms until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A unique temporary directory, removed with everything in it at the end of the scope.
class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path() / "gridshift-test-XXXXXX";
    std::string pattern = base.string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct ProcessOptions {
  std::vector<std::string> argv;
  std::filesystem::path cwd;
  std::map<std::string, std::string> set_env;  // added to (or replacing in) the environment
  std::vector<std::string> unset_env;
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;
  std::string stdin_text;  // written to a file and given as stdin
};

// The environment a child gets: this process's, less `unset_env`, plus `set_env`.
inline std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    const bool dropped = options.set_env.count(name) > 0 ||
                         std::find(options.unset_env.begin(), options.unset_env.end(), name) !=
                             options.unset_env.end();
    if (!dropped) env.push_back(text);
  }
  for (const auto& [name, value] : options.set_env)
    env.push_back(name + "=" + value);
  return env;
}

// A null-terminated array of pointers into `strings`, which must outlive it.
inline std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

class ChildProcess {
 public:
  explicit ChildProcess(const ProcessOptions& options) : options_(options) {
    std::filesystem::path stdin_path = options.stdout_path;
    stdin_path += ".stdin";
    write_file(stdin_path, options.stdin_text);
    // Truncated here, before the fork, so that a caller polling the output never sees what a
    // previous process left in the same file.
    write_file(options.stdout_path, "");
    write_file(options.stderr_path, "");
    // Everything the child needs is made here, before the fork: a test process has other
    // threads (the fakes' servers), and a child that allocates or takes a lock (setenv,
    // push_back) can deadlock on a lock another thread held at the fork. The child makes only
    // async-signal-safe calls.
    const int in = ::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = ::open(options.stdout_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    const int err = ::open(options.stderr_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (in < 0 || out < 0 || err < 0) {
      for (int fd : {in, out, err})
        if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot open the child's stdio files");
    }
    std::vector<std::string> env = child_environment(options);
    std::vector<char*> args = c_strings(options.argv);
    std::vector<char*> envp = c_strings(env);
    const std::string cwd = options.cwd.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // dup2 clears close-on-exec on the copies; the originals close at exec.
      if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    for (int fd : {in, out, err})
      ::close(fd);
  }
  ~ChildProcess() {
    if (!exit_code_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int number) { ::kill(pid_, number); }
  std::string stdout_text() const { return read_file(options_.stdout_path); }
  std::string stderr_text() const { return read_file(options_.stderr_path); }

  // Exit code (128 + signal when killed), or nullopt when still running after `limit`.
  std::optional<int> wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    if (exit_code_) return exit_code_;
    wait_until(
        [&] {
          int status = 0;
          const pid_t r = ::waitpid(pid_, &status, WNOHANG);
          if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          }
          return exit_code_.has_value();
        },
        limit);
    return exit_code_;
  }

  bool running() {
    if (exit_code_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }

 private:
  ProcessOptions options_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (bounded by `limit`) and returns its exit code and output.
inline CommandResult run_command(const std::vector<std::string>& argv,
                                 const std::filesystem::path& scratch,
                                 const std::filesystem::path& cwd = {},
                                 const std::string& stdin_text = {},
                                 std::chrono::seconds limit = std::chrono::seconds(60)) {
  static int counter = 0;
  const auto tag = std::to_string(::getpid()) + "-" + std::to_string(counter++);
  ProcessOptions options;
  options.argv = argv;
  options.cwd = cwd;
  options.stdout_path = scratch / ("cmd-" + tag + ".out");
  options.stderr_path = scratch / ("cmd-" + tag + ".err");
  options.stdin_text = stdin_text;
  ChildProcess child(options);
  CommandResult result;
  auto code = child.wait_exit(limit);
  result.exit_code = code.value_or(-1);
  result.out = child.stdout_text();
  result.err = child.stderr_text();
  return result;
}

}  // namespace gridshift::testing
