#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <tuple>

#include "audit/audit.h"
#include "cli/commands.h"
#include "common/scm.h"
#include "common/terminal_text.h"
#include "landlock/resolve.h"
#include "net/connect_guard.h"
#include "policy/loader.h"
#include "process/spawn.h"
#include "proxy/proxy.h"
#include "sandbox/audit_path.h"
#include "sandbox/command_lookup.h"
#include "sandbox/plan.h"
#include "seccomp/notify.h"

extern char** environ;

namespace rf {

namespace {

// Proxied connections the supervisor's descriptor limit leaves room for:
// up to 6 descriptors each (client, upstream, two splice pipes), after what
// the supervisor itself holds (listeners, epoll and event descriptors, the
// guard, the audit log, c-ares). At least one.
constexpr rlim_t kSupervisorDescriptors = 48;
constexpr int kLowProxyCapacity = 64;
int ProxyCapacity(rlim_t hard) {
  if (hard <= kSupervisorDescriptors + 6) return 1;
  return static_cast<int>(std::min<rlim_t>((hard - kSupervisorDescriptors) / 6, 1 << 20));
}

// The end-of-run lines for every class of refusal but the proxy's (it
// lists its own destinations), one line each with the first one as an
// example; "" when nothing was refused.
std::string DenialSummary(const std::map<std::string, AuditSink::DenialClass>& denials,
                          bool proxy_denied, bool seccomp_audited) {
  std::string out;
  for (const auto& [cls, d] : denials) {
    if (cls == "proxy") continue;
    std::string what;
    if (cls == "network") {
      what = "direct connection(s) or bind(s) refused (the connect and bind guards)";
    } else if (cls == "unix sockets") {
      what = "unix socket connection(s) or bind(s) refused (network.unix_sockets)";
    } else if (cls == "filesystem") {
      what = "metadata call(s) refused outside the grants (chmod, chown, xattr, inotify)";
    } else if (cls == "seccomp") {
      what = "system call(s) refused (seccomp)";
    } else {
      what = "refusal(s)";
    }
    out += "ringfence: " + cls + ": " + std::to_string(d.count) + " " + what +
           "; first: " + TerminalText(d.example, false) + "\n";
  }
  if (out.empty() && !proxy_denied) return "";
  out +=
      "ringfence: file accesses refused by Landlock are not counted (Landlock reports them to "
      "the kernel audit log only)\n";
  if (!seccomp_audited)
    out += "ringfence: system calls refused by seccomp are counted only with --audit\n";
  return out;
}

int SetupFailure(AuditSink& audit, const std::string& subject, const std::string& reason) {
  fprintf(stderr, "ringfence: %s\n", TerminalText(reason).c_str());
  audit.Emit({"process", "setup_failed", subject, reason, {}});
  return kExitSetupFailed;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

const std::vector<RunValueOption>& RunValueOptions() {
  static const std::vector<RunValueOption> kOptions = {
      {"--policy", &RunOptions::policy_file, "Policy file (YAML); default: embedded policy"},
      {"--mode", &RunOptions::mode, "Network mode: auto|namespace|platform|none|host"},
      {"--audit", &RunOptions::audit_file,
       "Write audit events (JSON Lines) to FILE (a file, a FIFO, - or /dev/stderr for stderr, "
       "/dev/stdout)"},
      {"--audit-fd", &RunOptions::audit_fd,
       "Write audit events to inherited descriptor N (not passed to the command)"},
      {"--workdir", &RunOptions::workdir, "Working directory of the command (default: cwd)"},
      {"--memory", &RunOptions::memory, "Memory limit of the sandbox (512m, 2g)"},
      {"--pids", &RunOptions::pids, "Processes and threads the sandbox may have at once"},
      {"--cpus", &RunOptions::cpus, "CPU time limit, in CPUs (1.5)"},
      {"--timeout", &RunOptions::timeout,
       "Wall time limit (3600, 90m, 1h): the sandbox is killed, exit 124"},
      {"--file-size", &RunOptions::file_size, "Largest file the sandbox may write (1g)"},
      {"--open-files", &RunOptions::open_files, "Open descriptors per process (4096)"},
  };
  return kOptions;
}

int RunMain(const RunOptions& o) {
  AuditSink no_audit;
  std::unique_ptr<AuditSink> audit_owner;
  AuditSink* audit = &no_audit;
  if (!o.audit_file.empty() && !o.audit_fd.empty())
    return SetupFailure(no_audit, "",
                        "--audit " + o.audit_file + " and --audit-fd " + o.audit_fd +
                            " both given: the log goes to one place, give one of them");
  const std::string audit_shown =
      o.audit_fd.empty() ? "--audit " + o.audit_file : "--audit-fd " + o.audit_fd;
  if (!o.audit_file.empty() || !o.audit_fd.empty()) {
    auto sink = o.audit_fd.empty() ? AuditSink::Open(o.audit_file) : AuditSink::FromFd(o.audit_fd);
    if (!sink.ok()) return SetupFailure(no_audit, "", sink.status().reason());
    audit_owner = std::move(sink).value();
    audit = audit_owner.get();
  }
  if (o.command.empty())
    return SetupFailure(*audit, "",
                        "run: no command given (usage: ringfence run [OPTIONS] -- CMD [ARGS...])");
  const std::string subject = Join(o.command);

  Result<Policy> policy = DefaultPolicy();
  if (!o.policy_file.empty()) {
    // A file that cannot be read is not an invalid policy: say which it is.
    auto text = ReadPolicyText(o.policy_file);
    if (!text.ok()) {
      fprintf(stderr, "ringfence: %s: the command was not started\n",
              TerminalText(text.status().reason()).c_str());
      audit->Emit({"policy", "unreadable", o.policy_file, text.status().reason(), {}});
      return kExitSetupFailed;
    }
    policy = LoadPolicyString(*text, o.policy_file);
  }
  if (!policy.ok()) {
    fprintf(stderr, "%s\nringfence: invalid policy: the command was not started\n",
            policy.status().reason().c_str());
    audit->Emit({"policy", "invalid", o.policy_file, policy.status().reason(), {}});
    return kExitSetupFailed;
  }

  // The limit flags override process.limits, each checked as the policy's
  // value would be.
  bool default_processes = o.policy_file.empty();
  for (auto [flag, key, text] :
       {std::tuple{"--memory", "memory", &o.memory}, std::tuple{"--pids", "processes", &o.pids},
        std::tuple{"--cpus", "cpu", &o.cpus}, std::tuple{"--timeout", "wall_time", &o.timeout},
        std::tuple{"--file-size", "file_size", &o.file_size},
        std::tuple{"--open-files", "open_files", &o.open_files}}) {
    if (text->empty()) continue;
    if (Status s = ParseLimit(key, *text, policy->process.limits); !s.ok())
      return SetupFailure(*audit, subject, std::string(flag) + " " + s.reason());
    if (std::string(key) == "processes") default_processes = false;
  }

  std::string workdir = o.workdir;
  if (workdir.empty() || workdir[0] != '/') {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
      return SetupFailure(*audit, subject, Status::Errno("getcwd").reason());
    workdir = workdir.empty() ? cwd : std::string(cwd) + "/" + workdir;
  }
  // Resolved as a rule path is (the include_workdir grant is one): a link
  // on the way is followed only when no one else could have planted it.
  auto resolved = landlock::ResolveRulePath(workdir, getuid());
  struct stat st;
  if (resolved.ok() && (fstat(resolved->fd.get(), &st) != 0 || !S_ISDIR(st.st_mode)))
    resolved = Status::Error("is not a directory");
  if (!resolved.ok()) {
    const std::string& why = resolved.status().reason();
    return SetupFailure(*audit, subject,
                        "--workdir " + workdir + " " +
                            (why == landlock::OpenFailure(ENOENT) || why == "is not a directory"
                                 ? "is not an existing directory"
                                 : why));
  }
  workdir = resolved->real;

  PlanOptions popts{
      workdir, o.mode, audit, isatty(0) || isatty(1) || isatty(2), false, audit_owner != nullptr};
  popts.make_private_tmp = true;
  popts.default_processes = default_processes;
  auto plan = BuildPlan(*policy, popts);
  if (!plan.ok()) return SetupFailure(*audit, subject, plan.status().reason());

  // A log the command could write is one it could rewrite: refused, and
  // removed again when this run made it (it holds only this run's set-up
  // events; the command never started).
  if (audit_owner) {
    Status where =
        CheckAuditOutsideGrants(audit_owner->fd(), audit_shown,
                                plan->effective.policy.filesystem.read_write, workdir, getuid());
    if (!where.ok()) {
      struct stat made, now;
      if (audit_owner->created() && fstat(audit_owner->fd(), &made) == 0 &&
          lstat(o.audit_file.c_str(), &now) == 0 && now.st_dev == made.st_dev &&
          now.st_ino == made.st_ino)
        unlink(o.audit_file.c_str());
      return SetupFailure(no_audit, subject, where.reason());
    }
  }

  auto env = ChildEnvironment(environ, plan->env_additions);
  std::string path_env;
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) path_env = kv.substr(5);
  // Looked up as a shell would, for the sandbox's user and grants.
  CommandLookup how;
  how.run_as = plan->run_as;
  how.landlock = plan->landlock_fs;
  how.granted = plan->effective.policy.filesystem.read_only;
  for (const auto& g : plan->effective.policy.filesystem.read_write) how.granted.push_back(g);
  how.workdir = workdir;
  Result<std::string> exe = LookupCommand(o.command[0], path_env, how);
  if (!exe.ok()) {
    // A shell's codes: found but not runnable is 126, nothing found 127.
    const int code =
        exe.status().code() == Status::Code::kPermission ? kExitNotExecutable : kExitNotFound;
    fprintf(stderr, "ringfence: %s\n", TerminalText(exe.status().reason()).c_str());
    audit->Emit({"process", "exit", subject, exe.status().reason(), {{"exit_code", code}}});
    return code;
  }

  // RINGFENCE_QUIET: for agents and wrappers that cannot add -q to the
  // command line; any value but empty or "0".
  const char* quiet_env = getenv("RINGFENCE_QUIET");
  const bool quiet = o.quiet || (quiet_env && *quiet_env && std::string(quiet_env) != "0");
  if (!quiet) fprintf(stderr, "ringfence: %s\n", TerminalText(plan->summary).c_str());
  for (const auto& w : plan->effective.warnings)
    fprintf(stderr, "ringfence: warning: %s\n", TerminalText(w).c_str());

  // A tunnel costs the proxy up to 6 descriptors: the supervisor takes the
  // hard limit for itself (the command gets the caller's limit back), and
  // the proxy serves as many connections as that leaves room for, answering
  // 503 past it rather than failing on a missing descriptor.
  struct rlimit nofile;
  const bool have_nofile = getrlimit(RLIMIT_NOFILE, &nofile) == 0;
  if (have_nofile) {
    struct rlimit raised = {nofile.rlim_max, nofile.rlim_max};
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  // The egress proxy runs in the supervisor on its own threads.
  std::unique_ptr<proxy::Proxy> px;
  if (plan->net.proxy) {
    proxy::ProxyConfig config;
    config.sandbox_only = true;  // it listens where every local process can reach it
    if (have_nofile && nofile.rlim_max != RLIM_INFINITY) {
      const int capacity = ProxyCapacity(nofile.rlim_max);
      if (capacity < config.max_connections) {
        config.max_connections = capacity;
        if (capacity < kLowProxyCapacity)
          fprintf(stderr,
                  "ringfence: warning: the descriptor limit (%llu) leaves room for %d proxied "
                  "connection(s) at once; past that the proxy answers 503 (raise it with "
                  "ulimit -Hn)\n",
                  static_cast<unsigned long long>(nofile.rlim_max), capacity);
      }
    }
    auto made = proxy::Proxy::Create(config, plan->effective.policy, audit);
    if (!made.ok()) return SetupFailure(*audit, subject, made.status().With("proxy").reason());
    px = std::move(made).value();
    if (plan->net.guard) {
      // The connect guard tells the proxy who made each connection.
      auto ledger = std::make_shared<proxy::ConnectLedger>();
      px->SetConnectLedger(ledger);
      plan->net.guard_config.ledger = std::move(ledger);
    }
  }
  std::string late_failure;
  std::unique_ptr<ConnectGuard> guard;

  SpawnSpec spec;
  if (have_nofile) spec.caller_nofile = nofile;
  spec.exe = *exe;
  spec.argv = o.command;
  spec.env = std::move(env);
  spec.workdir = workdir;
  spec.run_as = plan->run_as;
  spec.init_namespaces = plan->init_namespaces;
  spec.uid_map = plan->uid_map;
  spec.gid_map = plan->gid_map;
  spec.hold_task_dir = plan->hold_command_task_dir;
  if (plan->limits) {
    // Joined before anything else, so all the command starts is inside;
    // rlimits set before the confinement, after the caller's are restored.
    if (const ChildStep* join = plan->limits->join_step()) spec.privileged_steps.push_back(join);
    if (const ChildStep* rl = plan->limits->rlimit_step()) spec.confine_steps.push_back(rl);
    spec.timeout_ms = plan->limits->wall_time_ms();
  }
  for (const auto& s : plan->privileged_steps) spec.privileged_steps.push_back(s.get());
  for (const auto& s : plan->confine_steps) spec.confine_steps.push_back(s.get());
  if (plan->protection) {
    // Last before the run: the placeholders it makes are removed by Finish.
    if (Status s = plan->protection->Prepare(); !s.ok())
      return SetupFailure(*audit, subject, s.With("protected paths").reason());
    if (const ChildStep* step = plan->protection->step()) spec.privileged_steps.push_back(step);
  }
  // Received from the command before its exec; started on first use.
  UniqueFd proxy_listener, guard_listener;
  // A service the command needs could not start: it must not run without.
  auto fail_started = [&late_failure](pid_t pid, const std::string& why) {
    if (late_failure.empty()) late_failure = why;
    kill(pid, SIGKILL);
  };
  spec.on_started = [&](pid_t pid, std::vector<SpawnSpec::Watch>& watches) {
    auto fail = [&](const std::string& why) { fail_started(pid, why); };
    if (px) {
      px->SetSandboxRoot(pid);
      if (plan->net.listener.valid()) {
        proxy_listener = std::move(plan->net.listener);
      } else if (plan->net.listener_channel.valid()) {
        // Sent by the command before exec, from inside its namespace.
        auto l = ReceiveFd(plan->net.listener_channel.get());
        if (l.ok()) {
          proxy_listener = std::move(l).value();
        } else {
          fail(l.status().With("proxy").reason());
        }
      }
    }
    if (plan->net.listener_channel.valid() && late_failure.empty()) {
      // Then the sock_diag socket of the sandbox's network namespace.
      auto d = ReceiveFd(plan->net.listener_channel.get());
      if (d.ok()) {
        plan->net.guard_config.sandbox_diag = std::move(d).value();
      } else {
        fail(d.status().With("network namespace").reason());
      }
    }
    if (plan->net.seccomp_channel.valid() && late_failure.empty()) {
      // The filter's listener, sent by the command before exec.
      auto l = seccomp::ReceiveListener(plan->net.seccomp_channel.get(), 5000);
      if (l.ok()) {
        guard_listener = std::move(l).value();
      } else {
        fail(l.status().With("connect guard").reason());
      }
    }
    // The proxy's threads and the connect guard start when the command first
    // connects (a pending connection on the listener, a pending connect()
    // notification), not before: a command that never touches the network
    // never pays for them. The connection or the notification waits in its
    // queue meanwhile, so nothing is missed or decided without them.
    if (late_failure.empty() && proxy_listener.valid()) {
      watches.push_back({proxy_listener.get(), [&, pid] {
                           if (Status s = px->Start(std::move(proxy_listener)); !s.ok())
                             fail_started(pid, s.With("proxy").reason());
                         }});
    }
    if (late_failure.empty() && guard_listener.valid()) {
      watches.push_back({guard_listener.get(), [&, pid] {
                           auto g =
                               ConnectGuard::Start(std::move(guard_listener),
                                                   std::move(plan->net.guard_config), audit, pid);
                           if (g.ok()) {
                             guard = std::move(g).value();
                           } else {
                             fail_started(pid, g.status().With("connect guard").reason());
                           }
                         }});
    }
    nlohmann::json extra = {{"pid", pid}, {"workdir", workdir}};
    if (plan->run_as) extra["uid"] = plan->run_as->uid;
    audit->Emit({"process", "start", subject, "sandboxed command started", extra});
  };
  SpawnResult r = SpawnAndWait(spec);
  if (guard) guard->Stop();
  // Limits the sandbox ran into: on stderr, one line each, and as events.
  std::vector<LimitHit> hits;
  if (plan->limits) hits = plan->limits->Hits(r.wait_status, r.started, r.timed_out);
  for (const auto& h : hits) {
    fprintf(stderr, "ringfence: limit: %s\n", TerminalText(h.reason).c_str());
    audit->Emit({"limits", h.event, subject, h.reason, {{"limit", h.key}, {"count", h.count}}});
  }
  if (plan->protection) {
    for (const auto& line : plan->protection->Finish(audit))
      fprintf(stderr, "ringfence: %s\n", TerminalText(line).c_str());
  }
  bool proxy_denied = false;
  if (px) {
    px->Stop();
    std::string summary = proxy::Proxy::FormatDenialSummary(px->DenialSummary());
    if (!summary.empty()) fputs(summary.c_str(), stderr);
    proxy_denied = !summary.empty();
  }
  fputs(DenialSummary(audit->Denials(), proxy_denied, !o.audit_file.empty()).c_str(), stderr);
  if (!late_failure.empty()) return SetupFailure(*audit, subject, late_failure);
  if (!r.started) {
    fprintf(stderr, "ringfence: %s\n", TerminalText(r.failure).c_str());
    audit->Emit({"process",
                 r.exit_code == kExitSetupFailed ? "setup_failed" : "exit",
                 subject,
                 r.failure,
                 {{"exit_code", r.exit_code}}});
    return r.exit_code;
  }
  nlohmann::json extra = {{"pid", r.pid}, {"exit_code", r.exit_code}};
  std::string reason;
  if (!hits.empty()) {
    nlohmann::json reached = nlohmann::json::array();
    for (const auto& h : hits) reached.push_back(h.key);
    extra["limits_reached"] = reached;
  }
  if (r.timed_out) {
    reason = "killed at the wall_time limit";
  } else if (WIFSIGNALED(r.wait_status)) {
    extra["signal"] = WTERMSIG(r.wait_status);
    reason = std::string("killed by signal ") + strsignal(WTERMSIG(r.wait_status));
  } else {
    reason = "exited with code " + std::to_string(r.exit_code);
  }
  // The end-of-run totals of every capped source (docs/audit.md).
  nlohmann::json counts = nlohmann::json::object();
  std::string not_written;
  for (const auto& [source, c] : audit->Counts()) {
    counts[source] = {{"total", c.total}, {"written", c.written}};
    if (c.total > c.written)
      not_written +=
          (not_written.empty() ? "" : ", ") + source + " " + std::to_string(c.total - c.written);
  }
  if (!counts.empty()) extra["audit_counts"] = counts;
  // Events the log could not take (a full disk, a reader gone): each is
  // missing whole. Said here and on stderr, which may be the only record.
  if (uint64_t dropped = audit->write_failures(); dropped > 0) {
    extra["audit_dropped"] = dropped;
    fprintf(stderr, "ringfence: audit: %llu events could not be written to the log\n",
            static_cast<unsigned long long>(dropped));
  }
  if (!not_written.empty())
    fprintf(stderr,
            "ringfence: audit: events past the per-source cap of %llu were counted, not "
            "written: %s\n",
            static_cast<unsigned long long>(AuditSink::kCapPerSource),
            TerminalText(not_written).c_str());
  audit->Emit({"process", "exit", subject, reason, extra});
  return r.exit_code;
}

}  // namespace rf
