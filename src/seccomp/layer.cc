#include "sandbox/layers.h"
#include "sandbox/plan.h"

namespace rf {

// Placeholder until the seccomp layer lands (issue 4).
Status AddSeccompLayer(const LayerContext&, Plan& plan) {
  plan.effective.layers["seccomp"] = {{"status", "not enforced"}, {"reason", "not implemented yet"}};
  return Status::Ok();
}

}  // namespace rf
