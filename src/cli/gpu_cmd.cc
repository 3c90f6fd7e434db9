// `ringfence gpu list [--json] [--root DIR]`
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/json_text.h"
#include "gpu/host_files.h"

namespace rf {

int GpuListMain(bool json, const std::string& root) {
  auto files = ListGpuHostFiles(root.empty() ? "/" : root);
  if (!files.ok()) {
    fprintf(stderr, "ringfence: gpu list: %s\n", files.status().reason().c_str());
    return 1;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : *files) out.push_back({{"path", f.path}, {"kind", ToString(f.kind)}});
    printf("%s\n", JsonText(out, 2).c_str());
    return 0;
  }
  for (const auto& f : *files) printf("%s\n", f.path.c_str());
  return 0;
}

CLI::App* AddGpuCommand(CLI::App& app) {
  auto* gpu = app.add_subcommand("gpu", "GPU host files");
  gpu->require_subcommand(1);
  auto* list = gpu->add_subcommand(
      "list", "Every host file a GPU workload needs, one path a line (pipe into restorecon -f -)");
  struct Opts {
    bool json = false;
    std::string root;
  };
  auto o = std::make_shared<Opts>();
  list->add_flag("--json", o->json, "JSON array of {path, kind}");
  list->add_option("--root", o->root, "Look under DIR instead of / (stand-in trees)");
  list->callback([o] { std::exit(GpuListMain(o->json, o->root)); });
  return gpu;
}

}  // namespace rf
