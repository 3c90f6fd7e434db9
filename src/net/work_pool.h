// A bounded pool of threads for the connect guard's notifications: a
// connect() made on the command's behalf can block (a full listener, a slow
// peer), and must not hold up the sandbox's other connects. Threads are
// started only when every existing one is busy, up to a bound, and then
// kept until the pool stops, so an idle sandbox costs one thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "net/sandbox_thread.h"

namespace rf {

class WorkPool {
 public:
  WorkPool(size_t max_threads, size_t max_queued);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `job`, waiting while `max_queued` jobs are already waiting (the
  // kernel keeps further notifications meanwhile). False once stopping.
  bool Submit(std::function<void()> job);
  // Runs the queued jobs, then joins every thread.
  void Stop();

  size_t threads() const;

 private:
  void Work();

  const size_t max_threads_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable space_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stop_ = false;
};

// Threads with the sandbox's credentials (SandboxThread), one per job
// running at a time: a unix connect must be made with the sandbox's
// credentials, and several can be under way at once. Started on demand, up
// to `max`; a caller waits for a free one beyond that.
class ConnectorPool {
 public:
  ConnectorPool(std::function<int()> setup, size_t max) : setup_(std::move(setup)), max_(max) {}
  // Runs `fn` on a free connector and waits; false when no connector could
  // be started (the set-up failed): `fn` has not run.
  bool Run(const std::function<void()>& fn);

 private:
  SandboxThread* Acquire();
  void Release(SandboxThread* t);

  const std::function<int()> setup_;
  const size_t max_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<SandboxThread>> all_;
  std::vector<SandboxThread*> free_;
  bool failed_ = false;
};

}  // namespace rf
