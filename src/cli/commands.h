// Subcommands of the ringfence binary. Each returns the process exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rf {

struct RunOptions {
  std::string policy_file;  // empty = embedded default
  std::string mode;         // empty = from policy
  std::string audit_file;   // --audit: a path, "-" (stderr), /dev/stderr...
  std::string audit_fd;     // --audit-fd: an inherited descriptor's number
  std::string workdir;      // empty = current directory
  bool quiet = false;       // -q, or RINGFENCE_QUIET set (RunMain reads it)
  // --events: the live stream (FILE, -, fd:N); --audit-format: the lines
  // of --audit and --events, json (default) or ocsf.
  std::string events, audit_format;
  // --kernel-audit: turn kernel auditing on (host-wide) when it is off, so
  // that file denials can be reported.
  bool kernel_audit = false;
  // --tty: a terminal of the command's own whatever stdin is; --no-tty:
  // none (the command gets the descriptors as they are). Neither: auto.
  bool tty = false, no_tty = false;
  // Resource limits overriding process.limits, as given (validated by
  // RunMain): --memory, --pids, --cpus, --timeout, --file-size, --open-files.
  std::string memory, pids, cpus, timeout, file_size, open_files;
  // --credential NAME=env:VAR[@HOST[:PORT][/PATH]] (repeatable), as given.
  std::vector<std::string> credentials;
  std::vector<std::string> command;
};

// Every `run` option, spelled once: the start-up parser (main.cc), the
// CLI11 definition that gives --help and the error messages, the split of
// the command's own arguments and the given-twice check all read it.
struct RunOption {
  const char* name;                          // "--policy"
  const char* short_name = nullptr;          // "-q", or none
  std::string RunOptions::*value = nullptr;  // takes one value, given at most once
  bool RunOptions::*flag = nullptr;          // or a flag (exactly one of the two)
  const char* help = "";
};
const std::vector<RunOption>& RunOptionTable();

int RunMain(const RunOptions& o);
int ConnectMain(const std::string& host, int port);

int PolicyValidateMain(const std::string& file, bool json);
int PolicyShowMain(const std::string& file, bool effective, bool json, const std::string& mode);

}  // namespace rf

namespace CLI {
class App;
}  // namespace CLI

namespace rf {

// Registers `ringfence proxy` (src/cli/proxy_cmd.cc); it runs from app.parse().
CLI::App* AddProxyCommand(CLI::App& app);

// GPU host tooling: each registers its subcommand; it runs from
// app.parse() and ends the process with its exit code.
CLI::App* AddGpuCommand(CLI::App& app);       // gpu list (src/cli/gpu_cmd.cc)
CLI::App* AddDoctorCommand(CLI::App& app);    // doctor (src/cli/doctor_cmd.cc)
CLI::App* AddDiagnoseCommand(CLI::App& app);  // diagnose (src/cli/diagnose_cmd.cc)
CLI::App* AddSelinuxCommand(CLI::App& app);   // selinux module (src/cli/selinux_cmd.cc)
// why PATH | HOST:PORT (src/cli/why_cmd.cc): exit 0 allowed, 1 refused, 2 usage.
CLI::App* AddWhyCommand(CLI::App& app);
// policy suggest (src/cli/suggest_cmd.cc), under `policy`; exits from app.parse().
CLI::App* AddPolicySuggestCommand(CLI::App& policy_cmd);
// ps, events, policy set|update (src/cli/control_cmd.cc): clients of a
// running sandbox's control socket; they run and exit from app.parse().
void AddControlCommands(CLI::App& app, CLI::App& policy);
int GpuListMain(bool json, const std::string& root);
int DoctorMain(bool json, const std::string& root);
int DiagnoseMain(const std::string& file, bool json);
int SelinuxModuleMain(const std::string& flavor, const std::string& out);

// Exit codes of `run` (DESIGN.md).
inline constexpr int kExitSetupFailed = 125;
inline constexpr int kExitNotExecutable = 126;
inline constexpr int kExitNotFound = 127;

}  // namespace rf
