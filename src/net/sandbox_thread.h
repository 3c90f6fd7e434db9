// A supervisor thread that acts as the sandbox would: it runs jobs for the
// connect guard where the kernel's own checks must be the sandbox's (a
// bind() whose path Landlock must judge, whose port Landlock's TCP rules
// must judge). Its restrictions are set up once, on the thread itself, by a
// setup function: no_new_privs, landlock_restrict_self without TSYNC, and
// raw setresuid/setresgid all change the calling thread only, so the rest
// of the supervisor keeps its own rights.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"

namespace rf {

class SandboxThread {
 public:
  // Starts the thread and waits for `setup` to run on it; `setup` returns 0
  // or an errno, and a thread whose setup failed runs nothing.
  static Result<std::unique_ptr<SandboxThread>> Start(std::function<int()> setup);
  ~SandboxThread();
  SandboxThread(const SandboxThread&) = delete;
  SandboxThread& operator=(const SandboxThread&) = delete;

  // Runs `fn` on the thread and waits for it.
  void Run(const std::function<void()>& fn);

 private:
  SandboxThread() = default;
  void Loop(const std::function<int()>& setup);

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool job_done_ = false;
  bool stop_ = false;
  bool ready_ = false;
  int setup_err_ = 0;
};

}  // namespace rf
