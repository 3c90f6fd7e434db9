// The enforcement layers plug into the plan through these functions, one per
// layer, each implemented in its own folder. A layer adds its prepared child
// steps (Plan::confine_steps / privileged_steps), its status under
// plan.effective.layers["<layer>"], warnings to plan.effective.warnings, and
// a short phrase to the summary. It returns an error Status when it cannot
// be set up as the policy demands; the command is then never started.
#pragma once

#include <string>

#include "audit/audit.h"
#include "common/status.h"
#include "policy/policy.h"

namespace rf {

struct Plan;

struct LayerContext {
  const Policy& policy;  // enriched (workdir and baselines added)
  NetMode mode;          // resolved: never kAuto
  std::string workdir;
  bool has_terminal;  // the command gets a terminal
  AuditSink* audit;   // never null
};

Status AddLandlockLayer(const LayerContext& ctx, Plan& plan);  // src/landlock/layer.cc
Status AddSeccompLayer(const LayerContext& ctx, Plan& plan);   // src/seccomp/layer.cc

}  // namespace rf
