// Resource limits of the whole sandbox (process.limits, the `run` flags
// --memory, --pids, --cpus, --timeout, --file-size, --open-files).
//
// Each limit is held by the best mechanism this host gives the caller:
//   memory, processes, cpu: a cgroup of the sandbox's own, made in the
//     supervisor before fork and joined by the command before anything else
//     (so everything it starts is inside), removed after the run. cgroup v2
//     first (the caller's own cgroup as parent: root, systemd delegation, a
//     pod's writable cgroup; as root also the hierarchy's root), then a v1
//     hierarchy of that controller (hybrid hosts bind memory, pids and cpu
//     there). Where no cgroup can be had, an rlimit of each process:
//     RLIMIT_DATA for memory (approximate: per process, private writable
//     mappings), RLIMIT_NPROC for processes (counted per uid, over every
//     process of the sandbox's uid on the host unless the sandbox has a user
//     namespace of its own), RLIMIT_CPU for cpu (cpu x wall_time seconds of
//     CPU per process, so only with wall_time).
//   file_size: RLIMIT_FSIZE; open_files: RLIMIT_NOFILE (no cgroup holds them).
//   wall_time: the supervisor, which kills the whole sandbox at the deadline
//     (`run` then exits 124, like timeout(1)).
// docs/long-runs.md ("Limits") is the user's view of the same.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "policy/policy.h"
#include "process/spawn.h"

namespace rf {

// How one limit is held.
struct LimitStatus {
  std::string key;        // process.limits key
  std::string value;      // as a human reads it: "128m", "1.5 CPUs", "3600s"
  std::string mechanism;  // "cgroup v2 memory.max", "RLIMIT_DATA", "supervisor", ...
  bool held = false;      // false: nothing on this host holds it
  std::string note;       // why not held, or how it is approximate
};

// A limit the sandbox ran into, read after the run.
struct LimitHit {
  std::string key;     // memory, processes, cpu, wall_time, file_size
  std::string event;   // oom_kill, pids_max, wall_time, signal
  std::string reason;  // one line for the summary and the audit event
  uint64_t count = 0;
};

// Joins the sandbox's cgroups: writes "0" (the writer itself) to each
// cgroup.procs descriptor opened by the supervisor before fork. First of the
// privileged steps, before the command forks anything (namespace steps
// included), so nothing it starts is ever outside.
class CgroupJoinStep : public ChildStep {
 public:
  const char* name() const override { return "join the sandbox's cgroup"; }
  int Apply() const noexcept override;
  std::vector<UniqueFd> procs;
};

// Sets the prepared rlimits (soft = hard, but for RLIMIT_CPU) in the command. A confinement
// step, run after the privilege drop and after the caller's RLIMIT_NOFILE is
// restored (which it would otherwise undo).
class RlimitStep : public ChildStep {
 public:
  const char* name() const override { return "resource limits (setrlimit)"; }
  int Apply() const noexcept override;
  struct Entry {
    int resource;
    struct rlimit value;
  };
  std::vector<Entry> entries;
};

class SandboxLimits {
 public:
  // Decides a mechanism for each limit set in `limits` and prepares it: the
  // cgroup directories are made and written here (removed again when this
  // object is destroyed). `sandbox_userns`: the command gets a user
  // namespace of its own (RLIMIT_NPROC then counts only its processes).
  // `default_processes`: limits.processes is the default policy's cap, not
  // one the user asked for: it is not set where only RLIMIT_NPROC counted
  // per uid could hold it (that would count the caller's other processes,
  // a desktop's thousands of threads, and make the sandbox unable to fork).
  static std::unique_ptr<SandboxLimits> Prepare(const ProcessLimits& limits, bool sandbox_userns,
                                                bool default_processes);
  ~SandboxLimits();
  SandboxLimits(const SandboxLimits&) = delete;
  SandboxLimits& operator=(const SandboxLimits&) = delete;

  const std::vector<LimitStatus>& statuses() const { return statuses_; }
  // The limits nothing holds here, as "key (value): why" lines.
  std::vector<std::string> NotHeld() const;
  nlohmann::json Describe() const;
  // One line for the start-up summary: "limits: memory 128m (cgroup v1), ...".
  std::string Summary() const;

  // The steps; nullptr when there is nothing for them to do. Owned here.
  const ChildStep* join_step() const { return join_.procs.empty() ? nullptr : &join_; }
  const ChildStep* rlimit_step() const { return rlimits_.entries.empty() ? nullptr : &rlimits_; }
  // Milliseconds the sandbox may run, 0 = no deadline.
  int64_t wall_time_ms() const { return wall_time_ms_; }

  // After the run: which limits the sandbox ran into (cgroup event
  // counters, the deadline, the command's death by SIGXFSZ or SIGXCPU).
  std::vector<LimitHit> Hits(int wait_status, bool started, bool timed_out) const;

 private:
  SandboxLimits() = default;
  struct Cgroup {
    std::string dir;  // the sandbox's cgroup directory
    bool v2 = false;
    std::vector<std::string> controllers;  // held here: memory, pids, cpu
  };
  // Makes (or reuses) the sandbox's cgroup holding `controller`, writes
  // `files` in it. Fails with why no cgroup could be had.
  Result<const Cgroup*> CgroupFor(const std::string& controller,
                                  const std::vector<std::pair<std::string, std::string>>& files);
  void Remove();

  std::vector<LimitStatus> statuses_;
  std::vector<Cgroup> cgroups_;
  std::string name_;  // of the cgroup directories: ringfence-<pid>-<random>
  CgroupJoinStep join_;
  RlimitStep rlimits_;
  int64_t wall_time_ms_ = 0;
  ProcessLimits limits_;
};

// "128m", "2g": a byte count as the policy would write it.
std::string FormatSize(uint64_t bytes);

}  // namespace rf
