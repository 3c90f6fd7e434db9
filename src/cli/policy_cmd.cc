#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/json_text.h"
#include "policy/loader.h"
#include "sandbox/plan.h"
#include "sandbox/user_lookup.h"

namespace rf {

int PolicyValidateMain(const std::string& file) {
  auto p = LoadPolicyFile(file);
  if (!p.ok()) {
    fprintf(stderr, "%s\n", p.status().reason().c_str());
    return 1;
  }
  for (const auto& w : p->warnings) fprintf(stderr, "%s\n", w.c_str());
  // Policies move between hosts: an account this host lacks is worth a
  // warning here, and only `run` as root (which needs the ids) refuses it.
  const std::pair<const char*, Result<unsigned>> accounts[] = {
      {"process.run_as_user", LookupUser(p->process.run_as_user)},
      {"process.run_as_group", LookupGroup(p->process.run_as_group)}};
  for (const auto& [field, id] : accounts) {
    if (id.ok()) continue;
    auto at = p->marks.at.find(field);
    fprintf(stderr, "%s: warning: %s; `ringfence run` as root exits 125 on this host\n",
            at == p->marks.at.end() ? file.c_str() : at->second.c_str(),
            id.status().reason().c_str());
  }
  printf("%s: valid\n", file.c_str());
  return 0;
}

int PolicyShowMain(const std::string& file, bool effective, bool json, const std::string& mode) {
  auto p = file.empty() ? Result<Policy>(DefaultPolicy()) : LoadPolicyFile(file);
  if (!p.ok()) {
    fprintf(stderr, "%s\n", p.status().reason().c_str());
    return 1;
  }
  nlohmann::json out;
  if (effective) {
    char cwd[PATH_MAX];
    std::string wd = getcwd(cwd, sizeof cwd) ? cwd : "/";
    PlanOptions popts{wd, mode, nullptr};
    popts.default_processes = file.empty();
    auto plan = BuildPlan(*p, popts);
    if (!plan.ok()) {
      fprintf(stderr, "ringfence: %s\n", plan.status().reason().c_str());
      return 1;
    }
    out = EffectiveToJson(plan->effective);
  } else {
    out = PolicyToJson(*p);
    out["source"] = p->source;
  }
  if (json) {
    std::cout << JsonText(out, 2) << "\n";
  } else {
    std::cout << JsonToYaml(out);
  }
  return 0;
}

}  // namespace rf
