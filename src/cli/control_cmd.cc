// `ringfence ps`, `ringfence policy set|update --sandbox ID FILE` and
// `ringfence events --sandbox ID [--follow]`: clients of a running
// sandbox's control socket (docs/live-policy.md, src/control/).
#include <dirent.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/json_text.h"
#include "common/terminal_text.h"
#include "control/control.h"
#include "policy/loader.h"

namespace rf {

namespace {

constexpr int kCallMs = 15000;  // a change is validated and applied in this time
constexpr int kInfoMs = 2000;   // per sandbox, for `ps`

[[noreturn]] void Finish(int rc) {
  fflush(nullptr);
  exit(rc);
}

// Where the sandbox `id` is served: the caller's own control directory,
// then root's (a sandbox started with sudo; refused unless the caller is
// allowed there).
Result<std::string> FindSandbox(const std::string& id) {
  if (!control::ValidSandboxId(id))
    return Status::Invalid("--sandbox '" + id +
                           "': not a sandbox id (12 hex digits, as `ringfence ps` shows)");
  std::vector<std::string> dirs;
  if (auto own = control::ControlDir(false); own.ok()) dirs.push_back(*own);
  if (geteuid() != 0) dirs.push_back("/run/ringfence/control");
  for (const auto& d : dirs) {
    const std::string path = control::SocketPath(d, id);
    if (access(path.c_str(), F_OK) == 0 || errno == EACCES) return path;
  }
  return Status::NotFound("no running sandbox " + id + " (ringfence ps lists them)");
}

int PsMain(bool json) {
  nlohmann::json all = nlohmann::json::array();
  auto dir = control::ControlDir(false);
  if (dir.ok()) {
    std::vector<std::string> ids;
    if (DIR* d = opendir(dir->c_str())) {
      // Bounded: one socket per running sandbox.
      for (int n = 0; n < 100000; ++n) {
        struct dirent* e = readdir(d);
        if (!e) break;
        std::string name = e->d_name;
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".sock") == 0 &&
            control::ValidSandboxId(name.substr(0, name.size() - 5)))
          ids.push_back(name.substr(0, name.size() - 5));
      }
      closedir(d);
    }
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
      // A socket nobody serves (a run that was killed) is left out.
      auto info = control::Call(control::SocketPath(*dir, id), {{"op", "info"}}, kInfoMs);
      if (info.ok() && info->value("ok", false)) all.push_back(*info);
    }
  }
  if (json) {
    printf("%s\n", JsonText(all, 2).c_str());
    return 0;
  }
  printf("%-12s  %-7s  %-9s  %-20s  %7s  %-24s  %s\n", "ID", "PID", "MODE", "STARTED", "DENIALS",
         "POLICY", "COMMAND");
  for (const auto& s : all) {
    const std::string policy = s.value("policy_file", std::string());
    printf("%-12s  %-7d  %-9s  %-20s  %7llu  %-24s  %s\n", s.value("id", std::string()).c_str(),
           s.value("pid", 0), s.value("mode", std::string()).c_str(),
           s.value("started", std::string()).c_str(),
           static_cast<unsigned long long>(s.value("denials", uint64_t{0})),
           TerminalText(policy.empty() ? "(default)" : policy, false).c_str(),
           TerminalText(s.value("command", std::string()), false).c_str());
  }
  return 0;
}

int ChangeMain(const std::string& op, const std::string& id, const std::string& file) {
  auto path = FindSandbox(id);
  if (!path.ok()) {
    fprintf(stderr, "ringfence: %s\n", path.status().reason().c_str());
    return 1;
  }
  // Read here, with the caller's rights: the supervisor never opens a path
  // it is handed.
  auto text = ReadPolicyText(file);
  if (!text.ok()) {
    fprintf(stderr, "ringfence: %s\n", TerminalText(text.status().reason()).c_str());
    return 1;
  }
  auto answer = control::Call(*path, {{"op", op}, {"policy", *text}, {"source", file}}, kCallMs);
  if (!answer.ok()) {
    fprintf(stderr, "ringfence: sandbox %s: %s\n", id.c_str(),
            TerminalText(answer.status().reason()).c_str());
    return 1;
  }
  if (!answer->value("ok", false)) {
    fprintf(stderr, "ringfence: sandbox %s: policy %s refused, nothing changed:\n%s\n", id.c_str(),
            op.c_str(), TerminalText(answer->value("error", std::string("refused"))).c_str());
    return 1;
  }
  fprintf(stderr, "ringfence: sandbox %s: policy %s: network_policies in force (sha256 %s -> %s)\n",
          id.c_str(), op.c_str(), answer->value("old_sha256", std::string()).c_str(),
          answer->value("new_sha256", std::string()).c_str());
  return 0;
}

int EventsMain(const std::string& id, bool follow) {
  auto path = FindSandbox(id);
  if (!path.ok()) {
    fprintf(stderr, "ringfence: %s\n", path.status().reason().c_str());
    return 1;
  }
  if (Status s = control::Stream(*path, follow, 1); !s.ok()) {
    fprintf(stderr, "ringfence: sandbox %s: %s\n", id.c_str(), TerminalText(s.reason()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void AddControlCommands(CLI::App& app, CLI::App& policy) {
  auto json = std::make_shared<bool>(false);
  auto* ps = app.add_subcommand("ps", "List running sandboxes (this user's; root's as root)");
  ps->add_flag("--json", *json, "JSON array on stdout");
  ps->callback([json] { Finish(PsMain(*json)); });

  for (const char* op : {"set", "update"}) {
    auto id = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    const std::string what = std::string(op) == "set"
                                 ? "Replace a running sandbox's network_policies with FILE's"
                                 : "Add or replace a running sandbox's network_policies entries "
                                   "by name from FILE";
    auto* cmd = policy.add_subcommand(op, what);
    cmd->add_option("--sandbox", *id, "Sandbox id (ringfence ps)")->required();
    cmd->add_option("file", *file, "Policy file")->required();
    cmd->footer("Exit codes: 0 applied, 1 refused (nothing changed), 2 usage error.");
    cmd->callback([op = std::string(op), id, file] { Finish(ChangeMain(op, *id, *file)); });
  }

  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto* events = app.add_subcommand(
      "events", "A running sandbox's audit events (JSON Lines): the recent ones, then live");
  events->add_option("--sandbox", *id, "Sandbox id (ringfence ps)")->required();
  events->add_flag("--follow,-f", *follow, "Keep streaming until the sandbox ends");
  events->callback([id, follow] { Finish(EventsMain(*id, *follow)); });
}

}  // namespace rf
