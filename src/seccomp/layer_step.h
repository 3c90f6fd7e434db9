// The child step that installs a prepared seccomp program.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "common/fd.h"
#include "process/spawn.h"

namespace rf::seccomp {

// Installs `program` with seccomp(SECCOMP_SET_MODE_FILTER). With a valid
// `listener_channel`, the filter is installed with
// SECCOMP_FILTER_FLAG_NEW_LISTENER and the listener fd is sent over the
// channel (SCM_RIGHTS), then closed in the command's process. Apply() is
// async-signal-safe: one seccomp(2), one sendmsg(2), one close(2).
// no_new_privs must already be set.
class FilterStep : public ChildStep {
 public:
  FilterStep(std::vector<sock_filter> program, UniqueFd listener_channel);
  const char* name() const override { return "seccomp"; }
  int Apply() const noexcept override;

 private:
  std::vector<sock_filter> program_;
  UniqueFd channel_;
  unsigned flags_ = 0;
};

}  // namespace rf::seccomp
