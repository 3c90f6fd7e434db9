// The effective policy: the loaded policy after defaults and enrichment
// (workdir, baselines), plus the enforcement status of each layer as later
// stages report it. `policy show --effective` prints this.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace rf {

struct EnrichContext {
  std::string workdir;                // absolute
  NetMode mode = NetMode::kPlatform;  // resolved network mode (never kAuto)
  // Where baseline paths are looked up (tests point it at a stand-in tree);
  // the paths added to the policy are host paths, without this prefix.
  std::string root = "/";
  // The command mounts a /proc of its own PID namespace (namespace mode,
  // and `none` with an empty network namespace): only the sandbox's
  // processes are in it.
  bool own_proc = false;
};

struct EffectivePolicy {
  Policy policy;                                     // enriched
  nlohmann::json layers = nlohmann::json::object();  // per-layer status
  std::vector<std::string> warnings;
};

// Adds the workdir (include_workdir), the proxy baseline (namespace and
// platform modes: system directories read-only, /dev/null read-write; not
// /tmp, which is the sandbox's own unless listed), the GPU baseline
// (`gpu: on`, or `gpu: auto` with /dev/nvidiactl or /dev/dxg present: device
// nodes read-write, /proc read-write when it is the sandbox's own, else
// read-only with the command's own /proc/<pid>/task writable, what NVML
// reads read-only; see docs/gpu.md), and removes duplicate paths. Baseline
// paths are added only when they exist. A path granted read-write is not
// also listed read-only.
EffectivePolicy Enrich(Policy p, const EnrichContext& ctx);

nlohmann::json PolicyToJson(const Policy& p);
nlohmann::json EffectiveToJson(const EffectivePolicy& e);
// Renders JSON as block YAML (for humans).
std::string JsonToYaml(const nlohmann::json& j);

}  // namespace rf
