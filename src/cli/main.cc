// ringfence: confine a program to the files, network destinations and
// devices a policy grants. See DESIGN.md and docs/.
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/version.h"

namespace {

// `run` is on every sandboxed command's start-up path: the common forms are
// parsed here directly (building the whole CLI11 tree costs more than the
// rest of the start-up). Anything unusual (--help, an unknown or malformed
// option) returns false and goes through CLI11, which gives the messages.
bool FastParseRun(int argc, char** argv, rf::RunOptions* o) {
  if (argc < 2 || std::string(argv[1]) != "run") return false;
  std::vector<const std::string*> seen;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::string* target = nullptr;
    std::string value;
    bool flag = false;
    for (const auto& opt : rf::RunOptionTable()) {
      std::string n(opt.name);
      if (opt.flag) {
        if (a == n || (opt.short_name && a == opt.short_name)) {
          o->*opt.flag = true;
          flag = true;
        }
      } else if (a == n) {
        if (i + 1 >= argc) return false;
        target = &(o->*opt.value);
        value = argv[++i];
      } else if (a.rfind(n + "=", 0) == 0) {
        target = &(o->*opt.value);
        value = a.substr(n.size() + 1);
      }
    }
    if (flag) continue;
    // --credential may be given many times (one credential each).
    if (a == "--credential") {
      if (i + 1 >= argc) return false;
      o->credentials.push_back(argv[++i]);
      continue;
    }
    if (a.rfind("--credential=", 0) == 0) {
      o->credentials.push_back(a.substr(13));
      continue;
    }
    if (target) {
      // Given twice: the slow path refuses it with a message.
      if (std::find(seen.begin(), seen.end(), target) != seen.end()) return false;
      seen.push_back(target);
      *target = value;
      continue;
    }
    if (a == "--") {
      o->command.assign(argv + i + 1, argv + argc);
      return !o->command.empty();
    }
    if (a.empty() || a[0] == '-') return false;
    o->command.assign(argv + i, argv + argc);
    return true;
  }
  return false;
}

// The options of `run` that take one value must be given at most once: a
// second `--mode` silently winning (even `host`) is how a wrapper's flag
// overrides the one a person typed. `policy show` and `why` (`cmd`) are
// checked for the ones of these they have. Returns the complaint, or "".
std::string RepeatedOption(const std::vector<std::string>& args, CLI::App& cmd) {
  std::vector<std::pair<std::string, std::string>> given;  // name, value
  for (size_t i = 0; i < args.size(); ++i) {
    for (const auto& opt : rf::RunOptionTable()) {
      const std::string name(opt.name);
      if (!opt.value || !cmd.get_option_no_throw(name)) continue;
      std::string value;
      if (args[i] == name) {
        value = i + 1 < args.size() ? args[i + 1] : "";
      } else if (args[i].rfind(name + "=", 0) == 0) {
        value = args[i].substr(name.size() + 1);
      } else {
        continue;
      }
      for (const auto& [prev, prev_value] : given)
        if (prev == name)
          return name + " given twice ('" + prev_value + "', then '" + value + "'): give it once";
      given.push_back({name, value});
    }
  }
  return "";
}

// The first word of `args` that names no subcommand of `app` (descending
// into the subcommands it does name), or "".
std::string UnknownSubcommand(CLI::App& app, const std::vector<std::string>& args) {
  const std::function<bool(CLI::App*)> all;  // no filter: every subcommand
  CLI::App* at = &app;
  std::string path;
  for (const auto& a : args) {
    if (a.empty() || a[0] == '-') return "";
    if (at->get_subcommands(all).empty()) return "";
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands(all))
      if (sub->check_name(a)) next = sub;
    if (!next) return path + (path.empty() ? "" : " ") + a;
    path += (path.empty() ? "" : " ") + a;
    at = next;
  }
  return "";
}

}  // namespace

namespace {

// Before any other initialisation of this program (the highest constructor
// priority user code may take): a signal that arrives while ringfence starts
// and sets the sandbox up waits, blocked and pending, and is then forwarded
// to the command like any later one, instead of killing ringfence by its
// default action before it could answer for the command. Only for `run`:
// other subcommands keep the default dispositions. The kernel passes argv to
// ELF constructors.
__attribute__((constructor(101))) void BlockEarlySignals(int argc, char** argv, char**) {
  if (argc < 2 || strcmp(argv[1], "run") != 0) return;
  sigset_t early;
  sigemptyset(&early);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&early, s);
  sigprocmask(SIG_BLOCK, &early, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rf;
  // A peer that resets a connection while the proxy writes to it (splice
  // cannot pass MSG_NOSIGNAL) must cost that connection, not the process:
  // EPIPE instead of SIGPIPE. The command gets default dispositions back.
  signal(SIGPIPE, SIG_IGN);
  // Not dumpable: no core file of the supervisor's memory (the caller's
  // environment, the listener) wherever its limits get changed, and its
  // /proc entries (mem, environ, oom_score_adj...) belong to root, so a
  // sandbox running as the same uid cannot open them even where /proc is
  // writable (GPU baseline). init shares this memory and this setting; the
  // command gets its own at exec.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  {
    RunOptions fast;
    if (FastParseRun(argc, argv, &fast)) {
      // Everything RunMain opened is closed when it returns; what exit()
      // would add is static destructors and atexit handlers, nothing this
      // path needs: only stdio is flushed.
      int rc = RunMain(fast);
      fflush(nullptr);
      _exit(rc);
    }
  }
  CLI::App app{"ringfence: a sandbox for AI agents and GPU workloads", "ringfence"};
  app.require_subcommand(1);
  // `ringfence --version` and `ringfence version` print the same line.
  const std::string version_line = std::string("ringfence ") + RINGFENCE_VERSION;
  app.set_version_flag("--version", version_line);

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run a command inside the sandbox");
  for (const auto& opt : RunOptionTable()) {
    if (opt.value) {
      run_cmd->add_option(opt.name, run.*opt.value, opt.help);
    } else {
      const std::string names =
          opt.short_name ? std::string(opt.short_name) + "," + opt.name : std::string(opt.name);
      run_cmd->add_flag(names, run.*opt.flag, opt.help);
    }
  }
  run_cmd
      ->add_option("--credential", run.credentials,
                   "NAME=env:VAR|file:PATH[@HOST[:PORT][/PATH]]: the command sees a placeholder "
                   "in NAME, the proxy sends the value to HOST only (repeatable; "
                   "docs/credentials.md)")
      ->allow_extra_args(false);
  run_cmd->add_option("command", run.command,
                      "CMD [ARGS...] (everything after `--` or the first non-option)");
  run_cmd->footer(
      "Exit codes: the command's own; 128+N if killed by signal N; 124 killed at --timeout;\n"
      "125 ringfence failed; 126 command not executable; 127 command not found.");

  auto* policy_cmd = app.add_subcommand("policy", "Validate or show policies");
  policy_cmd->require_subcommand(1);
  std::string validate_file;
  bool validate_json = false;
  auto* validate =
      policy_cmd->add_subcommand("validate", "Validate a policy file (exit 0 valid, 1 invalid)");
  validate->add_option("file", validate_file, "Policy file")->required();
  validate->add_flag("--json", validate_json,
                     "JSON on stdout: {file, valid, errors[], warnings[]} with line and column");
  std::string show_file, show_mode;
  bool show_effective = false, show_json = false;
  auto* show = policy_cmd->add_subcommand("show", "Print a policy (after defaults and enrichment)");
  show->add_option("--policy", show_file, "Policy file; default: embedded policy");
  show->add_flag("--effective", show_effective, "Enrich and add each layer's enforcement status");
  show->add_flag("--json", show_json, "JSON instead of YAML");
  show->add_option("--mode", show_mode, "Network mode override, as for run");
  AddPolicySuggestCommand(*policy_cmd);
  AddControlCommands(app, *policy_cmd);  // ps, events, policy set|update

  std::string connect_host;
  int connect_port = 0;
  auto* connect_cmd = app.add_subcommand(
      "connect", "CONNECT client on stdin/stdout through the sandbox's proxy (ssh ProxyCommand)");
  connect_cmd->add_option("host", connect_host, "Destination host")->required();
  connect_cmd->add_option("port", connect_port, "Destination port")->required();

  auto* version = app.add_subcommand("version", "Print the version");
  AddProxyCommand(app);  // `ringfence proxy`: runs and exits from within app.parse()
  AddGpuCommand(app);    // gpu list, doctor, diagnose, selinux module: same
  AddDoctorCommand(app);
  AddDiagnoseCommand(app);
  AddSelinuxCommand(app);
  AddWhyCommand(app);  // `ringfence why`: runs and exits from within app.parse()

  // `run`: the command and its arguments are split off before parsing, so
  // that they reach the command verbatim (CLI11 would parse `--` and flags).
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> command;
  if (!args.empty() && args[0] == "run") {
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      bool takes_value = false;
      for (const auto& opt : RunOptionTable())
        takes_value = takes_value || (opt.value && a == opt.name);
      if (takes_value || a == "--credential") {
        ++i;
        continue;
      }
      if (a == "--") {
        command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
        args.resize(i);
        break;
      }
      if (a.empty() || a[0] != '-') {
        command.assign(args.begin() + static_cast<long>(i), args.end());
        args.resize(i);
        break;
      }
    }
  }
  const bool in_run = !args.empty() && args[0] == "run";
  if (std::string bad = UnknownSubcommand(app, args); !bad.empty()) {
    fprintf(stderr, "ringfence: unknown subcommand '%s' (see ringfence --help)\n", bad.c_str());
    return in_run ? kExitSetupFailed : 2;
  }
  CLI::App* checked = in_run                                                        ? run_cmd
                      : args.size() > 1 && args[0] == "policy" && args[1] == "show" ? show
                      : !args.empty() && args[0] == "why" ? app.get_subcommand("why")
                                                          : nullptr;
  if (checked) {
    if (std::string bad = RepeatedOption(args, *checked); !bad.empty()) {
      fprintf(stderr, "ringfence: %s\n", bad.c_str());
      return in_run ? kExitSetupFailed : 2;
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code == 0) return 0;  // --help
    bool in_run = run_cmd->parsed();
    return in_run ? kExitSetupFailed : 2;
  }

  if (run_cmd->parsed()) {
    run.command = std::move(command);
    return RunMain(run);
  }
  if (validate->parsed()) return PolicyValidateMain(validate_file, validate_json);
  if (connect_cmd->parsed()) return ConnectMain(connect_host, connect_port);
  if (show->parsed()) return PolicyShowMain(show_file, show_effective, show_json, show_mode);
  if (version->parsed()) {
    printf("%s\n", version_line.c_str());
    return 0;
  }
  return 2;
}
