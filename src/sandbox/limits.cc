#include "sandbox/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/raw_syscall.h"

namespace rf {

namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteSmallFile(const std::string& path, const std::string& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Errno("open ", path);
  if (write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return Status::Errno("write '", data, "' to ", path);
  return Status::Ok();
}

bool HasWord(const std::string& list, const std::string& word, char sep) {
  std::stringstream ss(list);
  std::string w;
  while (std::getline(ss, w, sep))
    if (w == word) return true;
  return false;
}

// A counter from a flat-keyed cgroup file ("oom_kill 3" lines).
uint64_t ReadCounter(const std::string& path, const std::string& key) {
  std::istringstream in(ReadSmallFile(path));
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

struct CgroupMount {
  std::string root;   // of the hierarchy that this mount shows ("/" mostly)
  std::string point;  // where it is mounted
  bool v2 = false;
  std::string options;  // super options: the v1 controllers
};

std::vector<CgroupMount> CgroupMounts() {
  std::vector<CgroupMount> out;
  std::istringstream in(ReadSmallFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    std::string w;
    while (ls >> w) f.push_back(w);
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash < 5 || dash + 3 >= f.size()) continue;
    const std::string& type = f[dash + 1];
    if (type != "cgroup" && type != "cgroup2") continue;
    // Mount points with spaces are escaped (\040): not ours to guess at.
    if (f[4].find('\\') != std::string::npos) continue;
    out.push_back({f[3], f[4], type == "cgroup2", f[dash + 3]});
  }
  return out;
}

// The caller's cgroup in the hierarchy of `controller` ("" = v2), from
// /proc/self/cgroup, as a directory under `m`; empty when it is not visible.
std::string OwnCgroupDir(const CgroupMount& m, const std::string& controller) {
  std::istringstream in(ReadSmallFile("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    bool match = controller.empty() ? (line.substr(0, a) == "0" && ctrls.empty())
                                    : HasWord(ctrls, controller, ',');
    if (!match) continue;
    if (m.root != "/") {
      if (path.rfind(m.root, 0) != 0) return "";
      path = path.substr(m.root.size());
    }
    if (path.find("..") != std::string::npos) return "";
    while (!path.empty() && path.back() == '/') path.pop_back();
    return m.point + path;
  }
  return "";
}

std::string CpuText(double cpus) {
  char buf[32];
  snprintf(buf, sizeof buf, "%g CPU%s", cpus, cpus == 1 ? "" : "s");
  return buf;
}

}  // namespace

std::string FormatSize(uint64_t bytes) {
  const char* units = "kmgt";
  std::string suffix;
  for (int i = 3; i >= 0; --i) {
    uint64_t m = uint64_t{1} << (10 * (i + 1));
    if (bytes % m == 0) return std::to_string(bytes / m) + units[i];
  }
  return std::to_string(bytes);
}

int CgroupJoinStep::Apply() const noexcept {
  // Raw: the command shares the supervisor's memory until exec, errno too.
  for (const auto& fd : procs) {
    long r = RawSyscall(SYS_write, fd.get(), reinterpret_cast<long>("0"), 1);
    if (r != 1) return r < 0 ? static_cast<int>(-r) : EIO;
  }
  return 0;
}

int RlimitStep::Apply() const noexcept {
  for (const auto& e : entries)
    if (setrlimit(static_cast<__rlimit_resource>(e.resource), &e.value) != 0) return errno;
  return 0;
}

Result<const SandboxLimits::Cgroup*> SandboxLimits::CgroupFor(
    const std::string& controller, const std::vector<std::pair<std::string, std::string>>& files) {
  auto write_files = [&](const std::string& dir) -> Status {
    for (const auto& [file, value] : files)
      if (Status s = WriteSmallFile(dir + "/" + file, value); !s.ok()) return s;
    return Status::Ok();
  };
  std::string why;
  const auto mounts = CgroupMounts();
  bool bound_to_v1 = false;
  for (const auto& m : mounts)
    bound_to_v1 = bound_to_v1 || (!m.v2 && HasWord(m.options, controller, ','));
  // cgroup v2: the caller's own cgroup as parent, or as root the root of
  // the hierarchy (the only cgroup exempt from "no processes in a cgroup
  // that hands controllers to its children").
  for (const auto& m : mounts) {
    if (!m.v2) continue;
    std::string own = OwnCgroupDir(m, "");
    std::vector<std::string> parents;
    if (!own.empty()) parents.push_back(own);
    if (geteuid() == 0 && m.root == "/" && own != m.point) parents.push_back(m.point);
    for (const auto& parent : parents) {
      if (!HasWord(ReadSmallFile(parent + "/cgroup.controllers"), controller, ' ')) {
        why = "cgroup v2 (" + parent + ") has no " + controller + " controller" +
              (bound_to_v1 ? " (a cgroup v1 hierarchy holds it: hybrid mode)" : "");
        continue;
      }
      if (!HasWord(ReadSmallFile(parent + "/cgroup.subtree_control"), controller, ' ')) {
        Status s = WriteSmallFile(parent + "/cgroup.subtree_control", "+" + controller);
        if (!s.ok()) {
          why = "cgroup v2: " + s.reason() +
                (s.err() == EBUSY
                     ? " (the cgroup has processes of its own: run ringfence in a delegated "
                       "cgroup of its own)"
                     : "");
          continue;
        }
      }
      const std::string dir = parent + "/" + name_;
      Cgroup* cg = nullptr;
      for (auto& c : cgroups_)
        if (c.dir == dir) cg = &c;
      if (!cg) {
        if (mkdir(dir.c_str(), 0755) != 0) {
          why = "cgroup v2: " + Status::Errno("mkdir ", dir).reason();
          continue;
        }
        cgroups_.push_back({dir, true, {}});
        cg = &cgroups_.back();
      }
      if (Status s = write_files(dir); !s.ok()) {
        why = "cgroup v2: " + s.reason();
        continue;
      }
      cg->controllers.push_back(controller);
      return cg;
    }
  }
  // cgroup v1: the hierarchy this controller is bound to.
  for (const auto& m : mounts) {
    if (m.v2 || !HasWord(m.options, controller, ',')) continue;
    std::string own = OwnCgroupDir(m, controller);
    if (own.empty()) {
      why = "cgroup v1 " + controller + ": the caller's cgroup is not visible under " + m.point;
      break;
    }
    const std::string dir = own + "/" + name_;
    Cgroup* cg = nullptr;
    for (auto& c : cgroups_)
      if (c.dir == dir) cg = &c;
    if (!cg) {
      if (mkdir(dir.c_str(), 0755) != 0) {
        why += (why.empty() ? "" : "; ") + std::string("cgroup v1: ") +
               Status::Errno("mkdir ", dir).reason();
        break;
      }
      cgroups_.push_back({dir, false, {}});
      cg = &cgroups_.back();
    }
    if (Status s = write_files(dir); !s.ok()) {
      why += (why.empty() ? "" : "; ") + std::string("cgroup v1: ") + s.reason();
      break;
    }
    cg->controllers.push_back(controller);
    return cg;
  }
  if (why.empty()) why = "no cgroup hierarchy with the " + controller + " controller is mounted";
  return Status::Error(why);
}

std::unique_ptr<SandboxLimits> SandboxLimits::Prepare(const ProcessLimits& l, bool sandbox_userns,
                                                      bool default_processes) {
  std::unique_ptr<SandboxLimits> out(new SandboxLimits());
  out->limits_ = l;
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = static_cast<uint32_t>(time(nullptr));
  char name[64];
  snprintf(name, sizeof name, "ringfence-%d-%08x", static_cast<int>(getpid()), rnd);
  out->name_ = name;
  // The cgroups cannot cover more than the rlimits the caller could set:
  // an rlimit is never raised above the caller's hard limit.
  // `grace`: the hard limit is that much above the soft one (RLIMIT_CPU:
  // SIGXCPU at the soft limit, SIGKILL at the hard one; equal, the kill
  // comes first and the report cannot say why).
  auto add_rlimit = [&](int resource, uint64_t value, uint64_t grace = 0) {
    struct rlimit cur;
    rlim_t v = static_cast<rlim_t>(value), h = static_cast<rlim_t>(value + grace);
    if (getrlimit(static_cast<__rlimit_resource>(resource), &cur) == 0 &&
        cur.rlim_max != RLIM_INFINITY && cur.rlim_max < h) {
      h = cur.rlim_max;
      v = std::min(v, h);
    }
    out->rlimits_.entries.push_back({resource, {v, h}});
  };
  auto cgroup_mech = [](const Cgroup& c, const std::string& file) {
    return std::string(c.v2 ? "cgroup v2 " : "cgroup v1 ") + file + " (" + c.dir + ")";
  };
  if (l.memory) {
    LimitStatus st{"memory", FormatSize(*l.memory), "", true, ""};
    const std::string v = std::to_string(*l.memory);
    // No swap beyond the limit: memory.swap.max / memsw where the kernel
    // accounts swap (written after the memory limit, which v1 requires).
    std::vector<std::pair<std::string, std::string>> v2files = {{"memory.max", v}};
    std::vector<std::pair<std::string, std::string>> v1files = {{"memory.limit_in_bytes", v}};
    auto c = out->CgroupFor("memory", {});
    if (c.ok()) {
      const Cgroup& cg = **c;
      auto files = cg.v2 ? v2files : v1files;
      if (cg.v2 && access((cg.dir + "/memory.swap.max").c_str(), F_OK) == 0)
        files.push_back({"memory.swap.max", "0"});
      if (!cg.v2 && access((cg.dir + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
        files.push_back({"memory.memsw.limit_in_bytes", v});
      Status s = Status::Ok();
      for (const auto& [f, val] : files)
        if (s.ok()) s = WriteSmallFile(cg.dir + "/" + f, val);
      if (s.ok()) {
        st.mechanism = cgroup_mech(cg, cg.v2 ? "memory.max" : "memory.limit_in_bytes");
        st.note = "the whole sandbox together; the kernel's OOM killer ends a process at the limit";
      } else {
        c = s;
      }
    }
    if (!c.ok()) {
      add_rlimit(RLIMIT_DATA, *l.memory);
      st.mechanism = "RLIMIT_DATA";
      st.note =
          "approximate: each process's private writable memory, not the sandbox's total "
          "(no cgroup: " +
          c.status().reason() + ")";
    }
    out->statuses_.push_back(st);
  }
  if (l.processes) {
    LimitStatus st{"processes", std::to_string(*l.processes), "", true, ""};
    auto c = out->CgroupFor("pids", {{"pids.max", std::to_string(*l.processes)}});
    if (c.ok()) {
      st.mechanism = cgroup_mech(**c, "pids.max");
      st.note = "processes and threads of the whole sandbox";
    } else if (default_processes && !sandbox_userns) {
      st.held = false;
      st.mechanism = "none";
      st.note =
          "the default cap is not set as RLIMIT_NPROC, which would count every process of "
          "the sandbox's uid on the host (no cgroup: " +
          c.status().reason() + "); set process.limits.processes or --pids to have it anyway";
    } else {
      add_rlimit(RLIMIT_NPROC, *l.processes);
      st.mechanism = "RLIMIT_NPROC";
      st.note = std::string(sandbox_userns
                                ? "counts the sandbox's processes and threads (its own user "
                                  "namespace)"
                                : "approximate: counts every process and thread of the sandbox's "
                                  "uid on the host, not only the sandbox's") +
                " (no cgroup: " + c.status().reason() + ")";
    }
    out->statuses_.push_back(st);
  }
  if (l.cpu) {
    LimitStatus st{"cpu", CpuText(*l.cpu), "", true, ""};
    const uint64_t period = 100000;
    const auto quota = static_cast<uint64_t>(std::llround(*l.cpu * period));
    Result<const Cgroup*> c = Status::Error("");
    // cpu.max in v2; cfs_period_us and cfs_quota_us in v1 (each hierarchy
    // takes its own files: try v2's first, the v1 ones on failure).
    c = out->CgroupFor("cpu", {});
    if (c.ok()) {
      const Cgroup& cg = **c;
      Status s = cg.v2 ? WriteSmallFile(cg.dir + "/cpu.max",
                                        std::to_string(quota) + " " + std::to_string(period))
                       : WriteSmallFile(cg.dir + "/cpu.cfs_period_us", std::to_string(period));
      if (s.ok() && !cg.v2) s = WriteSmallFile(cg.dir + "/cpu.cfs_quota_us", std::to_string(quota));
      if (s.ok()) {
        st.mechanism = cgroup_mech(cg, cg.v2 ? "cpu.max" : "cpu.cfs_quota_us");
        st.note = "CPU time per 100 ms of the whole sandbox: throttled, never killed";
      } else {
        c = s;
      }
    }
    if (!c.ok()) {
      if (l.wall_time) {
        const auto secs = static_cast<uint64_t>(std::ceil(*l.cpu * *l.wall_time));
        add_rlimit(RLIMIT_CPU, secs, 1);
        st.mechanism = "RLIMIT_CPU";
        st.note = "approximate: " + std::to_string(secs) +
                  " s of CPU time per process (cpu x wall_time), SIGXCPU past it, SIGKILL a "
                  "second later; "
                  "not a rate (no cgroup: " +
                  c.status().reason() + ")";
      } else {
        st.held = false;
        st.mechanism = "none";
        st.note = "a CPU rate needs a cgroup (" + c.status().reason() +
                  "); with wall_time set, RLIMIT_CPU would cap CPU seconds per process";
      }
    }
    out->statuses_.push_back(st);
  }
  if (l.file_size) {
    add_rlimit(RLIMIT_FSIZE, *l.file_size);
    out->statuses_.push_back({"file_size", FormatSize(*l.file_size), "RLIMIT_FSIZE", true,
                              "a write past it fails with EFBIG, after SIGXFSZ (which ends a "
                              "process that does not handle it)"});
  }
  if (l.open_files) {
    add_rlimit(RLIMIT_NOFILE, *l.open_files);
    out->statuses_.push_back({"open_files", std::to_string(*l.open_files), "RLIMIT_NOFILE", true,
                              "descriptors per process; past it open() fails with EMFILE"});
  }
  if (l.wall_time) {
    out->wall_time_ms_ = static_cast<int64_t>(*l.wall_time) * 1000;
    out->statuses_.push_back({"wall_time", std::to_string(*l.wall_time) + "s", "supervisor", true,
                              "the whole sandbox is killed at the deadline; run exits 124"});
  }
  for (const auto& c : out->cgroups_) {
    UniqueFd fd(open((c.dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) {
      // Not joinable: the limits it holds are not held.
      for (auto& st : out->statuses_)
        if (st.mechanism.find(c.dir) != std::string::npos) {
          st.held = false;
          st.note = Status::Errno("cannot join ", c.dir).reason();
        }
      continue;
    }
    out->join_.procs.push_back(std::move(fd));
  }
  return out;
}

SandboxLimits::~SandboxLimits() { Remove(); }

void SandboxLimits::Remove() {
  join_.procs.clear();
  for (const auto& c : cgroups_) {
    // Whatever is left inside (nothing, normally: init killed and reaped the
    // whole tree) is killed first, so the directory can go. Bounded.
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      if (rmdir(c.dir.c_str()) == 0 || errno == ENOENT) {
        gone = true;
        break;
      }
      if (errno != EBUSY) break;
      if (c.v2 && WriteSmallFile(c.dir + "/cgroup.kill", "1").ok()) {
      } else {
        std::istringstream in(ReadSmallFile(c.dir + "/cgroup.procs"));
        pid_t pid;
        while (in >> pid)
          if (pid > 0) kill(pid, SIGKILL);
      }
      usleep(10000);
    }
    if (!gone)
      fprintf(stderr, "ringfence: warning: cgroup %s could not be removed: %s\n", c.dir.c_str(),
              strerror(errno));
  }
  cgroups_.clear();
}

std::vector<std::string> SandboxLimits::NotHeld() const {
  std::vector<std::string> out;
  for (const auto& s : statuses_)
    if (!s.held) out.push_back(s.key + " (" + s.value + "): " + s.note);
  return out;
}

nlohmann::json SandboxLimits::Describe() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& s : statuses_)
    j[s.key] = {{"value", s.value},
                {"mechanism", s.mechanism},
                {"status", s.held ? "held" : "not held"},
                {"note", s.note}};
  return j;
}

std::string SandboxLimits::Summary() const {
  std::string out;
  for (const auto& s : statuses_) {
    std::string mech = s.mechanism.substr(0, s.mechanism.find(" ("));
    out += (out.empty() ? "" : ", ") + s.key + " " + s.value + " (" + (s.held ? mech : "not held") +
           ")";
  }
  return out;
}

std::vector<LimitHit> SandboxLimits::Hits(int wait_status, bool started, bool timed_out) const {
  std::vector<LimitHit> out;
  if (timed_out && limits_.wall_time)
    out.push_back({"wall_time", "wall_time",
                   "wall_time limit (" + std::to_string(*limits_.wall_time) +
                       "s) reached: the sandbox was killed (exit 124)",
                   1});
  for (const auto& c : cgroups_) {
    for (const auto& ctrl : c.controllers) {
      if (ctrl == "memory") {
        uint64_t n =
            ReadCounter(c.dir + (c.v2 ? "/memory.events" : "/memory.oom_control"), "oom_kill");
        if (n)
          out.push_back({"memory", "oom_kill",
                         "memory limit (" + FormatSize(*limits_.memory) +
                             ") reached: the kernel's OOM killer killed " + std::to_string(n) +
                             " process" + (n == 1 ? "" : "es") + " in the sandbox",
                         n});
      } else if (ctrl == "pids") {
        uint64_t n = ReadCounter(c.dir + "/pids.events", "max");
        if (n)
          out.push_back({"processes", "pids_max",
                         "processes limit (" + std::to_string(*limits_.processes) + ") reached: " +
                             std::to_string(n) + " fork/clone refused in the sandbox",
                         n});
      }
    }
  }
  if (started && WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    if (sig == SIGXFSZ && limits_.file_size)
      out.push_back({"file_size", "signal",
                     "file_size limit (" + FormatSize(*limits_.file_size) +
                         ") reached: the command was killed by SIGXFSZ",
                     1});
    if (sig == SIGXCPU && limits_.cpu)
      out.push_back(
          {"cpu", "signal", "CPU time limit reached: the command was killed by SIGXCPU", 1});
  }
  return out;
}

}  // namespace rf
