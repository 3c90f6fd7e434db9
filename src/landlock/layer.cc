#include "sandbox/layers.h"
#include "sandbox/plan.h"

namespace rf {

// Placeholder until the Landlock layer lands (issue 3).
Status AddLandlockLayer(const LayerContext&, Plan& plan) {
  plan.effective.layers["landlock"] = {{"status", "not enforced"}, {"reason", "not implemented yet"}};
  return Status::Ok();
}

}  // namespace rf
