#include <fcntl.h>
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
#include "audit/kernel_audit.h"
#include "cli/commands.h"
#include "common/terminal_text.h"
#include "control/control.h"
#include "control/session.h"
#include "credentials/setup.h"
#include "dns/resolver.h"
#include "landlock/resolve.h"
#include "net/connect_guard.h"
#include "policy/loader.h"
#include "process/caller.h"
#include "process/pty_relay.h"
#include "process/spawn.h"
#include "proxy/capture.h"
#include "proxy/proxy.h"
#include "sandbox/audit_path.h"
#include "sandbox/command_lookup.h"
#include "sandbox/environment.h"
#include "sandbox/plan.h"

extern char** environ;

namespace rf {

namespace {

// Proxied connections the supervisor's descriptor limit leaves room for:
// up to 6 descriptors each (client, upstream, two splice pipes), after what
// the supervisor itself holds (listeners, epoll and event descriptors, the
// guard, the audit log, c-ares). At least one.
constexpr rlim_t kSupervisorDescriptors = 48;
constexpr int kLowProxyCapacity = 64;
// After the command: how long to wait for the kernel's last records of its
// file denials (they pass through the kernel's audit thread).
constexpr int kKernelAuditQuietMs = 100;
constexpr int kKernelAuditMaxMs = 2000;
int ProxyCapacity(rlim_t hard) {
  if (hard <= kSupervisorDescriptors + 6) return 1;
  return static_cast<int>(std::min<rlim_t>((hard - kSupervisorDescriptors) / 6, 1 << 20));
}

// The end-of-run lines for every class of refusal but the proxy's (it
// lists its own destinations), one line each with the first one as an
// example; "" when nothing was refused. File denials come from the kernel's
// audit records (`files`, when they could be read) or are said to be
// unreported (`files_unavailable`), which matters once something failed.
std::string DenialSummary(const std::map<std::string, AuditSink::DenialClass>& denials,
                          bool proxy_denied, bool seccomp_audited,
                          const LandlockDenials::Totals* files, uint64_t files_lost,
                          uint64_t files_overflows, const std::string& files_unavailable,
                          bool command_failed) {
  std::string out;
  for (const auto& [cls, d] : denials) {
    if (cls == "proxy" || cls == "landlock") continue;
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
  if (files && files->denials > 0) {
    const std::string path = files->example.substr(0, files->example.rfind(": "));
    out += "ringfence: files: " + std::to_string(files->denials) +
           " file access(es) refused by Landlock (not granted by the policy); first: " +
           TerminalText(files->example, false) + " (ask: ringfence why " +
           TerminalText(path, false) + ")\n";
  }
  if (files && files->kernel > files->denials) {
    out += "ringfence: files: the kernel counted " + std::to_string(files->kernel) +
           " refusals; the records of the others were dropped on the way (the kernel's audit "
           "backlog)\n";
  } else if (files && (files_lost > 0 || files_overflows > 0)) {
    std::string how;
    if (files_lost > 0)
      how = std::to_string(files_lost) + " dropped by the kernel's audit backlog (host-wide)";
    if (files_overflows > 0)
      how += (how.empty() ? "" : ", ") + std::string("ringfence's buffer overflowed ") +
             std::to_string(files_overflows) + " time(s)";
    out += "ringfence: files: kernel audit records were lost during the run (" + how +
           "): more file accesses may have been refused\n";
  }
  const bool any = !out.empty() || proxy_denied;
  if (!any && !command_failed) return "";
  if (!files_unavailable.empty())
    out += "ringfence: file denials: " + TerminalText(files_unavailable, false) + "\n";
  if (any && !seccomp_audited)
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

const std::vector<RunOption>& RunOptionTable() {
  using O = RunOptions;
  static const std::vector<RunOption> kOptions = {
      {"--policy", nullptr, &O::policy_file, nullptr,
       "Policy file (YAML); default: embedded policy"},
      {"--mode", nullptr, &O::mode, nullptr, "Network mode: auto|namespace|platform|none|host"},
      {"--audit", nullptr, &O::audit_file, nullptr,
       "Write audit events (JSON Lines) to FILE (a file, a FIFO, - or /dev/stderr for stderr, "
       "/dev/stdout)"},
      {"--audit-fd", nullptr, &O::audit_fd, nullptr,
       "Write audit events to inherited descriptor N (not passed to the command)"},
      {"--events", nullptr, &O::events, nullptr,
       "Stream audit events live as JSON Lines to FILE, - (stderr) or fd:N, alongside --audit"},
      {"--audit-format", nullptr, &O::audit_format, nullptr,
       "Format of --audit and --events lines: json (default) or ocsf (OCSF records)"},
      {"--workdir", nullptr, &O::workdir, nullptr,
       "Working directory of the command (default: cwd)"},
      {"--memory", nullptr, &O::memory, nullptr, "Memory limit of the sandbox (512m, 2g)"},
      {"--pids", nullptr, &O::pids, nullptr, "Processes and threads the sandbox may have at once"},
      {"--cpus", nullptr, &O::cpus, nullptr, "CPU time limit, in CPUs (1.5)"},
      {"--timeout", nullptr, &O::timeout, nullptr,
       "Wall time limit (3600, 90m, 1h): the sandbox is killed, exit 124"},
      {"--file-size", nullptr, &O::file_size, nullptr, "Largest file the sandbox may write (1g)"},
      {"--open-files", nullptr, &O::open_files, nullptr, "Open descriptors per process (4096)"},
      {"--quiet", "-q", nullptr, &O::quiet, "Only print warnings and errors"},
      {"--tty", nullptr, nullptr, &O::tty,
       "Give the command a terminal of its own even when stdin is not a terminal"},
      {"--no-tty", nullptr, nullptr, &O::no_tty,
       "No terminal of its own: the command gets stdin/stdout/stderr as they are"},
      {"--kernel-audit", nullptr, nullptr, &O::kernel_audit,
       "Turn kernel auditing on (host-wide, it stays on) when it is off, so that file denials "
       "reach the audit log"},
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
  // The live stream (docs/audit.md "Live events"): a second sink that every
  // event reaches as it is emitted; on its own it is the run's log.
  std::unique_ptr<AuditSink> events_owner;
  AuditSink* events_sink = nullptr;
  if (!o.events.empty()) {
    auto sink = o.events.rfind("fd:", 0) == 0 ? AuditSink::FromFd(o.events.substr(3), "--events")
                                              : AuditSink::Open(o.events, "--events");
    if (!sink.ok()) return SetupFailure(*audit, "", sink.status().reason());
    events_owner = std::move(sink).value();
    events_sink = events_owner.get();
  }
  if (!o.audit_format.empty() && o.audit_format != "json" && o.audit_format != "ocsf")
    return SetupFailure(*audit, "", "--audit-format '" + o.audit_format + "': give json or ocsf");
  const auto line_format =
      o.audit_format == "ocsf" ? AuditSink::LineFormat::kOcsf : AuditSink::LineFormat::kJson;
  if (audit_owner) audit_owner->set_format(line_format);
  if (events_sink) events_sink->set_format(line_format);
  if (events_owner && audit_owner) {
    audit_owner->Also(std::move(events_owner));
  } else if (events_owner) {
    audit = events_sink;
  }
  // The sandbox's id (docs/live-policy.md), in every event from the first:
  // `ps`, `policy set|update` and `events` name the run by it.
  auto sandbox_id = control::NewSandboxId();
  if (!sandbox_id.ok()) return SetupFailure(*audit, "", sandbox_id.status().reason());
  audit->SetSandboxId(*sandbox_id);
  if (o.command.empty())
    return SetupFailure(*audit, "",
                        "run: no command given (usage: ringfence run [OPTIONS] -- CMD [ARGS...])");
  const std::string subject = Join(o.command);

  Result<Policy> policy = DefaultPolicy();
  // The text in force, for live changes: they are compared with it.
  std::string policy_text;
  bool reloadable = false;
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
    policy_text = *text;
    // SIGHUP reads a regular file again; a FIFO (`--policy <(...)`) would
    // wait for a writer, so SIGHUP is then forwarded as before.
    struct stat pst;
    reloadable = stat(o.policy_file.c_str(), &pst) == 0 && S_ISREG(pst.st_mode);
  } else {
    policy_text = DefaultPolicyText();
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

  // --credential adds to the policy's credentials; the bindings are checked
  // once all are known (docs/credentials.md).
  if (Status s = cred::AddCredentialFlags(o.credentials, &*policy); !s.ok())
    return SetupFailure(*audit, subject, s.reason());
  if (!policy->credentials.empty()) {
    if (Status s = cred::CheckCredentialPolicy(*policy); !s.ok())
      return SetupFailure(*audit, subject, s.reason());
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

  // A terminal of the command's own (docs/process.md "Terminal"): made
  // before the plan, whose Landlock and seccomp layers name it.
  if (o.tty && o.no_tty)
    return SetupFailure(*audit, subject, "--tty and --no-tty both given: give one of them");
  const TerminalChoice tty_choice = ChooseTerminal(o.tty      ? TtyMode::kOn
                                                   : o.no_tty ? TtyMode::kOff
                                                              : TtyMode::kAuto);
  std::unique_ptr<PtyRelay> pty;
  std::string pty_warning;
  if (tty_choice.pty) {
    auto opened = PtyRelay::Open(tty_choice);
    if (opened.ok()) {
      pty = std::move(opened).value();
    } else if (o.tty) {
      return SetupFailure(*audit, subject, "--tty: " + opened.status().reason());
    } else {
      pty_warning = opened.status().reason() +
                    "; the command gets the caller's terminal (job control inside is limited)";
    }
  }
  PlanOptions popts{workdir, o.mode, audit, pty || isatty(0) || isatty(1) || isatty(2),
                    audit_owner != nullptr || events_sink != nullptr};
  if (pty) popts.private_terminal = pty->slave_path();
  popts.make_private_tmp = true;
  popts.default_processes = default_processes;
  auto host = ProbeHostFor(*policy, popts);
  if (!host.ok()) return SetupFailure(*audit, subject, host.status().reason());
  auto plan = BuildPlan(*policy, popts, *host);
  if (!plan.ok()) return SetupFailure(*audit, subject, plan.status().reason());

  // A log the command could write is one it could rewrite: refused, and
  // removed again when this run made it (it holds only this run's set-up
  // events; the command never started).
  // The live stream is held to the same rule as the log.
  const std::tuple<AuditSink*, std::string, std::string> logs[] = {
      {audit_owner.get(), audit_shown, o.audit_file},
      {events_sink, "--events " + o.events,
       o.events.rfind("fd:", 0) == 0 ? std::string() : o.events}};
  for (const auto& [sink, shown, path] : logs) {
    if (!sink) continue;
    Status where = CheckAuditOutsideGrants(
        sink->fd(), shown, plan->effective.policy.filesystem.read_write, workdir, getuid());
    if (!where.ok()) {
      for (const auto& [made_by, unused, made_path] : logs) {
        struct stat made, now;
        if (made_by && made_by->created() && fstat(made_by->fd(), &made) == 0 &&
            lstat(made_path.c_str(), &now) == 0 && now.st_dev == made.st_dev &&
            now.st_ino == made.st_ino)
          unlink(made_path.c_str());
      }
      return SetupFailure(no_audit, subject, where.reason());
    }
  }

  // The values are read now, before anything is started (the store's
  // memory reads as zeros in every process forked after).
  std::shared_ptr<cred::Store> credentials;
  if (!policy->credentials.empty()) {
    if (Status s = cred::CheckCredentialFiles(plan->effective.policy); !s.ok())
      return SetupFailure(*audit, subject, s.reason());
    auto store =
        cred::Store::Load(policy->credentials, plan->effective.policy.network_policies, environ);
    if (!store.ok()) return SetupFailure(*audit, subject, store.status().reason());
    credentials = std::move(store).value();
  }
  // process.environment first (secret-shaped names held back), then the
  // credentials' source variables dropped, then ringfence's own variables
  // (and the credentials' placeholders) on top.
  FilteredEnvironment inherited =
      FilterEnvironment(environ, plan->effective.policy.process.environment);
  std::vector<char*> inherited_ptrs = inherited.Pointers();
  std::vector<char*> without_sources;
  if (credentials)
    without_sources = cred::InheritedWithoutSources(*credentials, inherited_ptrs.data());
  auto env = ChildEnvironment(credentials ? without_sources.data() : inherited_ptrs.data(),
                              plan->env_additions);
  if (credentials) cred::ApplyCredentialEnvironment(*credentials, &env);
  const std::string env_summary =
      EnvironmentSummary(inherited, plan->effective.policy.process.environment);
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
  if (!quiet)
    fprintf(stderr, "ringfence: %s; sandbox %s\n", TerminalText(plan->summary).c_str(),
            sandbox_id->c_str());
  if (!quiet && !env_summary.empty())
    fprintf(stderr, "ringfence: %s\n", TerminalText(env_summary).c_str());
  for (const auto& w : plan->effective.warnings)
    fprintf(stderr, "ringfence: warning: %s\n", TerminalText(w).c_str());
  if (!pty_warning.empty())
    fprintf(stderr, "ringfence: warning: %s\n", TerminalText(pty_warning).c_str());

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
    config.ca_label = "run " + std::to_string(getpid());
    config.credentials = credentials;
    auto made = proxy::Proxy::Create(config, plan->effective.policy, audit);
    if (!made.ok()) return SetupFailure(*audit, subject, made.status().With("proxy").reason());
    px = std::move(made).value();
    if (plan->trust && px->authority()) {
      if (Status st = WriteTrust(*plan->trust, *px->authority()); !st.ok())
        return SetupFailure(*audit, subject, st.With("the CA trust for the command").reason());
    }
    if (plan->net.guard) {
      // The connect guard tells the proxy who made each connection.
      auto ledger = std::make_shared<ConnectLedger>();
      px->SetConnectLedger(ledger);
      plan->net.guard_config.ledger = std::move(ledger);
      // Transparent TCP and capture (docs/transparent-tcp.md): the run's
      // synthetic addresses (the map the sandbox's resolver answers from),
      // handed out for the policy's exact names before the command starts,
      // so they follow policy order; and the proxy's policy deciding each
      // direct connect.
      if (plan->net.synthetic_names)
        proxy::AllocatePolicyNames(plan->effective.policy, *plan->net.synthetic_names);
      plan->net.guard_config.synthetic = plan->net.synthetic_names;
      plan->net.guard_config.capture = [p = px.get()](const std::string& host, uint16_t port,
                                                      const std::vector<std::string>& caller) {
        return p->DecideCapture(host, port, caller);
      };
    }
  }
  // The sandbox's resolver (docs/dns.md), on the run's synthetic names.
  std::unique_ptr<dns::Resolver> resolver;
  if (plan->net.dns_socket_in_namespace && plan->net.synthetic_names) {
    auto made = dns::Resolver::Create(plan->effective.policy, plan->net.synthetic_names, audit);
    if (!made.ok()) return SetupFailure(*audit, subject, made.status().With("resolver").reason());
    resolver = std::move(made).value();
  }
  // The control socket (docs/live-policy.md): without one the run goes on
  // (it is how the run is watched and changed, not part of its confinement).
  std::unique_ptr<control::Session> session;
  if (auto dir = control::ControlDir(true); !dir.ok()) {
    fprintf(stderr, "ringfence: warning: no control socket (ps, policy set/update, events): %s\n",
            TerminalText(dir.status().reason()).c_str());
  } else {
    control::SessionInfo info{
        *sandbox_id, subject, ToString(plan->net.mode), o.policy_file, policy_text, reloadable, ""};
    if (reloadable) {
      // A policy file the command can write is one it could widen and have
      // reloaded: SIGHUP then refuses (judged as for the audit log).
      UniqueFd pf(open(o.policy_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      Status outside = pf.valid()
                           ? CheckAuditOutsideGrants(pf.get(), "--policy " + o.policy_file,
                                                     plan->effective.policy.filesystem.read_write,
                                                     workdir, getuid())
                           : Status::Errno("--policy ", o.policy_file);
      if (!outside.ok())
        info.reload_refusal = "SIGHUP does not reload this policy file: " + outside.reason();
    }
    auto apply = [&px, &plan](const Policy& p) -> Status {
      if (!px)
        return Status::Unavailable(std::string("network mode ") + ToString(plan->net.mode) +
                                   " has no proxy: network_policies are not in use");
      return px->ReplaceNetworkPolicies(p);
    };
    auto denials = [audit] {
      uint64_t n = 0;
      for (const auto& [cls, d] : audit->Denials()) n += d.count;
      return n;
    };
    auto started = control::Session::Start(*dir, std::move(info), audit, apply, denials);
    if (!started.ok()) {
      fprintf(stderr, "ringfence: warning: no control socket (ps, policy set/update, events): %s\n",
              TerminalText(started.status().reason()).c_str());
    } else {
      session = std::move(*started);
      // Never reachable from inside, whatever network.unix_sockets lists.
      plan->net.guard_config.control_dir = *dir;
      // A socket inside a grant the command can write is one it could
      // replace with its own (a forged answer to `policy set`): not served.
      UniqueFd sock(open(session->socket_path().c_str(), O_PATH | O_CLOEXEC));
      Status outside = sock.valid()
                           ? CheckAuditOutsideGrants(sock.get(), "the control socket",
                                                     plan->effective.policy.filesystem.read_write,
                                                     workdir, getuid())
                           : Status::Errno("the control socket");
      if (!outside.ok()) {
        session.reset();
        // The check's reason names the grant; its advice is the audit log's.
        std::string why = outside.reason();
        why = why.substr(0, why.find(": the command could"));
        fprintf(stderr,
                "ringfence: warning: no control socket (ps, policy set/update, events): %s: the "
                "command could replace it with its own (keep the control directory %s out of "
                "read_write grants, or set XDG_RUNTIME_DIR to a directory of yours that is)\n",
                TerminalText(why).c_str(), TerminalText(*dir).c_str());
      }
    }
  }
  std::string late_failure;
  std::unique_ptr<ConnectGuard> guard;

  // The kernel's records of the command's file denials: the socket is
  // open before the command starts, so none is missed.
  std::unique_ptr<KernelAuditReader> kernel_audit;
  std::string files_unavailable;
  {
    bool enabled_now = false;
    auto reader = KernelAuditReader::Open(plan->landlock_abi, plan->landlock_fs, o.kernel_audit,
                                          &enabled_now);
    if (reader.ok()) {
      kernel_audit = std::move(reader).value();
    } else {
      files_unavailable = "not reported (" + reader.status().reason() + ")";
      if (o.kernel_audit)
        fprintf(stderr, "ringfence: warning: --kernel-audit: file denials %s\n",
                TerminalText(files_unavailable).c_str());
    }
    if (enabled_now) {
      const std::string note =
          "kernel auditing turned on host-wide for --kernel-audit (it stays on; `auditctl -e 0` "
          "turns it off)";
      fprintf(stderr, "ringfence: %s\n", note.c_str());
      audit->Emit({"landlock", "kernel_audit_enabled", "kernel audit", note, {}});
    }
  }

  SpawnSpec spec;
  spec.pty = pty.get();
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
  UniqueFd proxy_listener, guard_listener, dns_socket, dns_tcp_listener;
  bool resolver_started = false;
  // A service the command needs could not start: it must not run without.
  auto fail_started = [&late_failure](pid_t pid, const std::string& why) {
    if (late_failure.empty()) late_failure = why;
    kill(pid, SIGKILL);
  };
  spec.on_started = [&](pid_t pid, std::vector<SpawnSpec::Watch>& watches) {
    auto fail = [&](const std::string& why) { fail_started(pid, why); };
    if (px) px->SetSandboxRoot(pid);
    if (session) {
      session->SetCommandPid(pid);
      // Served from the first connection on, like the proxy.
      watches.push_back({session->listener_fd(), [&] { session->Serve(); }});
    }
    auto handoff = ReceiveHandoff(plan->net);
    if (handoff.ok()) {
      proxy_listener = std::move(handoff->proxy_listener);
      plan->net.guard_config.sandbox_diag = std::move(handoff->sandbox_diag);
      guard_listener = std::move(handoff->seccomp_listener);
      dns_socket = std::move(handoff->dns_socket);
      dns_tcp_listener = std::move(handoff->dns_tcp_listener);
    } else {
      fail(handoff.status().reason());
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
    if (late_failure.empty() && resolver && dns_socket.valid()) {
      // Started by the first query, over UDP or TCP, once.
      auto start = [&, pid] {
        if (resolver_started) return;
        resolver_started = true;
        if (Status s = resolver->Start(std::move(dns_socket), pid, std::move(dns_tcp_listener));
            !s.ok())
          fail_started(pid, s.With("resolver").reason());
      };
      watches.push_back({dns_socket.get(), start});
      if (dns_tcp_listener.valid()) watches.push_back({dns_tcp_listener.get(), start});
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
    if (kernel_audit) {
      kernel_audit->denials().SetSandboxPid(pid);
      watches.push_back({kernel_audit->fd(), [&] { kernel_audit->Read(*audit); }, true});
    }
    nlohmann::json extra = {{"pid", pid}, {"workdir", workdir}, {"sandbox_id", *sandbox_id}};
    if (session) extra["control_socket"] = session->socket_path();
    // Whether this log will hold the command's file denials, and if not why.
    extra["file_denials"] =
        files_unavailable.empty() ? "reported (kernel audit records)" : files_unavailable;
    if (plan->run_as) extra["uid"] = plan->run_as->uid;
    audit->Emit({"process", "start", subject, "sandboxed command started", extra});
  };
  spec.on_signal = [&](int sig) {
    if (sig != SIGHUP || !session || !reloadable) return false;
    session->Reload();
    return true;
  };
  SpawnResult r = SpawnAndWait(spec);
  if (guard) guard->Stop();
  if (resolver) resolver->Stop();
  // Records still on their way from the kernel: until its audit queue is
  // empty, or a short quiet spell, bounded (KernelAuditReader::Finish).
  if (kernel_audit && r.started)
    kernel_audit->Finish(*audit, kKernelAuditQuietMs, kKernelAuditMaxMs);
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
  fputs(DenialSummary(audit->Denials(), proxy_denied, !o.audit_file.empty(),
                      kernel_audit ? &kernel_audit->denials().totals() : nullptr,
                      kernel_audit ? kernel_audit->records_lost() : 0,
                      kernel_audit ? kernel_audit->overflows() : 0, files_unavailable,
                      r.started && r.exit_code != 0)
            .c_str(),
        stderr);
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
