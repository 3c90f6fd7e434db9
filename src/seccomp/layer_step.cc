// The child step that installs a prepared seccomp program (layer_step.h).
#include "seccomp/layer_step.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/scm.h"

namespace rf::seccomp {

FilterStep::FilterStep(std::vector<sock_filter> program, UniqueFd listener_channel)
    : program_(std::move(program)), channel_(std::move(listener_channel)) {
  flags_ = channel_.valid() ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
}

int FilterStep::Apply() const noexcept {
  struct sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(program_.size());
  fprog.filter = const_cast<sock_filter*>(program_.data());
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags_, &fprog);
  if (fd < 0) return errno;
  if (!channel_.valid()) return 0;
  int err = SendFd(channel_.get(), static_cast<int>(fd));
  close(static_cast<int>(fd));
  return err;
}

}  // namespace rf::seccomp
