// `ringfence selinux module`: an SELinux policy module (nvidia-container.te,
// .fc, .if and a README) defining nvidia_container_t, a domain in which a
// container started with --cap-drop=ALL --security-opt=no-new-privileges can
// use NVIDIA GPUs without --privileged. Two flavors:
//  - container-selinux: for Red Hat's container-selinux policy (Fedora, RHEL);
//    nvidia_container_t joins container_t's attributes and gets the GPU on top.
//  - refpolicy: only types the reference policy provides (Debian's
//    selinux-policy-default), links into that store.
// Both are written in the plain policy language with `require` blocks, so
// each compiles standalone with `checkmodule -M -m`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rf {

enum class SelinuxFlavor { kContainerSelinux, kRefpolicy };

Result<SelinuxFlavor> ParseSelinuxFlavor(const std::string& s);
const char* ToString(SelinuxFlavor f);

struct ModuleFile {
  std::string name;  // e.g. "nvidia-container.te"
  std::string content;
};

std::vector<ModuleFile> SelinuxModuleFiles(SelinuxFlavor flavor);

// Writes the files into `dir` (created if missing, parents included);
// existing files of the same name are replaced.
Status WriteSelinuxModule(SelinuxFlavor flavor, const std::string& dir);

}  // namespace rf
