#include "gpu/devices.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/path.h"

namespace rf {

namespace {

bool Exists(const std::string& root, const std::string& path) {
  struct stat st;
  return lstat(UnderRoot(root, path).c_str(), &st) == 0;
}

// Names in `dir` (a host path) accepted by `want`.
template <typename F>
void ListDir(const std::string& root, const std::string& dir, F&& want,
             std::vector<std::string>& out) {
  DIR* d = opendir(UnderRoot(root, dir).c_str());
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (want(name)) out.push_back(dir + "/" + name);
  }
  closedir(d);
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::vector<GpuNode> FindGpuDeviceNodes(const std::string& root) {
  std::vector<GpuNode> nodes;
  auto add = [&](const std::string& p, GpuVendor v) {
    if (Exists(root, p)) nodes.push_back({p, v});
  };
  for (const char* p :
       {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"})
    add(p, GpuVendor::kNvidia);
  std::vector<std::string> found;
  ListDir(
      root, "/dev",
      [](const std::string& n) { return n.rfind("nvidia", 0) == 0 && AllDigits(n.substr(6)); },
      found);
  for (auto& p : found) nodes.push_back({p, GpuVendor::kNvidia});
  found.clear();
  ListDir(
      root, "/dev/nvidia-caps", [](const std::string&) { return true; }, found);
  for (auto& p : found) nodes.push_back({p, GpuVendor::kNvidia});
  add("/dev/dxg", GpuVendor::kWsl);
  add("/dev/kfd", GpuVendor::kAmd);
  found.clear();
  ListDir(
      root, "/dev/dri", [](const std::string& n) { return n.rfind("renderD", 0) == 0; }, found);
  for (auto& p : found) nodes.push_back({p, GpuVendor::kAmd});
  std::sort(nodes.begin(), nodes.end(),
            [](const GpuNode& a, const GpuNode& b) { return a.path < b.path; });
  nodes.erase(std::unique(nodes.begin(), nodes.end(),
                          [](const GpuNode& a, const GpuNode& b) { return a.path == b.path; }),
              nodes.end());
  return nodes;
}

bool GpuPresent(const std::string& root) {
  return Exists(root, "/dev/nvidiactl") || Exists(root, "/dev/dxg");
}

const char* ToString(GpuVendor v) {
  switch (v) {
    case GpuVendor::kNvidia:
      return "nvidia";
    case GpuVendor::kWsl:
      return "wsl";
    case GpuVendor::kAmd:
      return "amd";
  }
  return "?";
}

}  // namespace rf
