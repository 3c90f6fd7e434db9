#include "net/sandbox_thread.h"

#include <cstring>
#include <string>

namespace rf {

Result<std::unique_ptr<SandboxThread>> SandboxThread::Start(std::function<int()> setup) {
  std::unique_ptr<SandboxThread> t(new SandboxThread());
  t->thread_ = std::thread([p = t.get(), setup = std::move(setup)] { p->Loop(setup); });
  std::unique_lock<std::mutex> lock(t->mu_);
  t->cv_.wait(lock, [&] { return t->ready_; });
  if (t->setup_err_ != 0) {
    const int err = t->setup_err_;
    lock.unlock();
    return Status::Errno("a thread with the sandbox's restrictions", err);
  }
  return t;
}

void SandboxThread::Loop(const std::function<int()>& setup) {
  const int err = setup();
  std::unique_lock<std::mutex> lock(mu_);
  ready_ = true;
  setup_err_ = err;
  stop_ = stop_ || err != 0;
  cv_.notify_all();
  for (;;) {
    cv_.wait(lock, [&] { return job_ != nullptr || stop_; });
    if (stop_) return;
    (*job_)();
    job_ = nullptr;
    job_done_ = true;
    cv_.notify_all();
  }
}

void SandboxThread::Run(const std::function<void()>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) return;
  job_ = &fn;
  job_done_ = false;
  cv_.notify_all();
  cv_.wait(lock, [&] { return job_done_ || stop_; });
}

SandboxThread::~SandboxThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rf
