// Namespace mode: the sandbox's own /etc/resolv.conf (its resolver on
// 127.0.0.1) and /etc/hosts (the localhost lines), written by the
// supervisor into a per-run directory before fork and bound over the
// host's files in the sandbox's mount namespace (docs/dns.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "process/spawn.h"
#include "sandbox/private_tmp.h"

namespace rf::dns {

// What the files say.
std::string SandboxResolvConf();
std::string SandboxHosts();

class SandboxFilesStep : public ChildStep {
 public:
  // Writes the files into a new per-run directory (removed with the step).
  // A host file that does not exist, or whose symbolic link leads nowhere,
  // has nothing to bind over: it is left out and said in `skipped`
  // (glibc and musl then ask 127.0.0.1, which is the sandbox's resolver).
  static Result<std::unique_ptr<SandboxFilesStep>> Create(std::vector<std::string>* skipped);
  const char* name() const override { return "the sandbox's /etc/resolv.conf and /etc/hosts"; }
  // After the namespace step (mounts private), before the privilege drop.
  // Async-signal-safe.
  int Apply() const noexcept override;
  const std::string& directory() const { return dir_->path(); }

 private:
  SandboxFilesStep() = default;
  std::unique_ptr<PrivateTmpDir> dir_;
  // Source and target paths, made before fork.
  std::vector<std::pair<std::string, std::string>> binds_;
  unsigned long remount_flags_ = 0;
};

}  // namespace rf::dns
