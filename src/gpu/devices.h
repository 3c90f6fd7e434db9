// GPU device node discovery, shared by the Landlock GPU baseline, `gpu list`
// and `doctor`. Looks under `root` (normally "/"), so tests can point it at a
// stand-in tree; returned paths are host paths (without the root prefix).
#pragma once

#include <string>
#include <vector>

namespace rf {

enum class GpuVendor { kNvidia, kWsl, kAmd };

struct GpuNode {
  std::string path;  // e.g. "/dev/nvidia0"
  GpuVendor vendor;
};

// Every GPU device node present: NVIDIA (/dev/nvidiactl, /dev/nvidia-uvm,
// /dev/nvidia-uvm-tools, /dev/nvidia-modeset, /dev/nvidiaN with N digits
// only, /dev/nvidia-caps/*), WSL (/dev/dxg), AMD (/dev/kfd,
// /dev/dri/renderD*). Sorted, no duplicates.
std::vector<GpuNode> FindGpuDeviceNodes(const std::string& root = "/");

// True when `gpu: auto` should turn the GPU baseline on: /dev/nvidiactl or
// /dev/dxg exists under root.
bool GpuPresent(const std::string& root = "/");

const char* ToString(GpuVendor v);

}  // namespace rf
