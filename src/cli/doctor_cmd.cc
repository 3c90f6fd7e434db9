// `ringfence doctor [--json] [--root DIR]`
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "common/json_text.h"
#include "diagnose/doctor.h"

namespace rf {

int DoctorMain(bool json, const std::string& root) {
  // The probe `run` decides by, with every part asked.
  auto host = ProbeHost({.namespaces = true, .doctor = true});
  if (!host.ok()) {
    fprintf(stderr, "ringfence: %s\n", host.status().reason().c_str());
    return 1;
  }
  auto checks = RunDoctor(root.empty() ? "/" : root, *host);
  if (json)
    printf("%s\n", JsonText(DoctorToJson(checks), 2).c_str());
  else
    fputs(FormatDoctor(checks).c_str(), stdout);
  return DoctorExitCode(checks);
}

CLI::App* AddDoctorCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("doctor", "Check this host's sandbox and GPU readiness");
  struct Opts {
    bool json = false;
    std::string root;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--json", o->json, "JSON output");
  cmd->add_option("--root", o->root, "Read every file under DIR instead of / (fixture trees)");
  cmd->footer("Exit codes: 0 nothing missing, 1 at least one check missing.");
  cmd->callback([o] { std::exit(DoctorMain(o->json, o->root)); });
  return cmd;
}

}  // namespace rf
