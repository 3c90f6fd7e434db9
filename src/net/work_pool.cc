#include "net/work_pool.h"

namespace rf {

WorkPool::WorkPool(size_t max_threads, size_t max_queued)
    : max_threads_(max_threads == 0 ? 1 : max_threads),
      max_queued_(max_queued == 0 ? 1 : max_queued) {}

WorkPool::~WorkPool() { Stop(); }

bool WorkPool::Submit(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mu_);
  space_.wait(lock, [&] { return stop_ || queue_.size() < max_queued_; });
  if (stop_) return false;
  queue_.push_back(std::move(job));
  if (idle_ < queue_.size() && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { Work(); });
  } else {
    work_.notify_one();
  }
  return true;
}

void WorkPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    lock.unlock();
    job();
    lock.lock();
  }
}

void WorkPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    threads.swap(threads_);
  }
  work_.notify_all();
  space_.notify_all();
  for (auto& t : threads) t.join();
}

size_t WorkPool::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

SandboxThread* ConnectorPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!free_.empty()) {
      SandboxThread* t = free_.back();
      free_.pop_back();
      return t;
    }
    if (failed_) return nullptr;
    if (all_.size() < max_) {
      // Started under the lock: set-up is a few system calls, and the
      // bound stays exact.
      auto started = SandboxThread::Start(setup_);
      if (!started.ok()) {
        failed_ = all_.empty();
        if (failed_) return nullptr;
      } else {
        all_.push_back(std::move(started).value());
        return all_.back().get();
      }
    }
    freed_.wait(lock, [&] { return !free_.empty(); });
  }
}

void ConnectorPool::Release(SandboxThread* t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(t);
  }
  freed_.notify_one();
}

bool ConnectorPool::Run(const std::function<void()>& fn) {
  SandboxThread* t = Acquire();
  if (!t) return false;
  t->Run(fn);
  Release(t);
  return true;
}

}  // namespace rf
