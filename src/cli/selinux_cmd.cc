// `ringfence selinux module --flavor container-selinux|refpolicy --out DIR`
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "selinux/module.h"

namespace rf {

int SelinuxModuleMain(const std::string& flavor, const std::string& out) {
  auto f = ParseSelinuxFlavor(flavor);
  if (!f.ok()) {
    fprintf(stderr, "ringfence: selinux module: %s\n", f.status().reason().c_str());
    return 2;
  }
  if (Status s = WriteSelinuxModule(*f, out); !s.ok()) {
    fprintf(stderr, "ringfence: selinux module: %s\n", s.reason().c_str());
    return 1;
  }
  for (const auto& file : SelinuxModuleFiles(*f)) printf("%s/%s\n", out.c_str(), file.name.c_str());
  return 0;
}

CLI::App* AddSelinuxCommand(CLI::App& app) {
  auto* se = app.add_subcommand("selinux", "SELinux helpers");
  se->require_subcommand(1);
  auto* mod = se->add_subcommand("module",
                                 "Write the nvidia_container_t policy module (.te .fc .if README)");
  struct Opts {
    std::string flavor;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  mod->add_option("--flavor", o->flavor, "container-selinux or refpolicy")
      ->required()
      ->check(CLI::IsMember({"container-selinux", "refpolicy"}));
  mod->add_option("--out", o->out, "Output directory (created if missing)")->required();
  mod->callback([o] { std::exit(SelinuxModuleMain(o->flavor, o->out)); });
  return se;
}

}  // namespace rf
