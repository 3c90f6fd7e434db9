// Host files a GPU workload needs (`ringfence gpu list`): device nodes,
// driver libraries found through the dynamic linker cache, driver binaries,
// firmware, the persistenced socket and /proc/driver/nvidia. Everything is
// looked up under `root` (normally "/") so tests can use stand-in trees;
// returned paths are host paths without the root prefix.
//
// Libraries come from parsing <root>/etc/ld.so.cache ourselves (the glibc
// "glibc-ld.so.cache1.1" format, optionally behind the old "ld.so-1.7.0"
// table) rather than running `ldconfig -p`, so a fixture tree with its own
// cache works and no program is executed. Symlinks are resolved inside
// `root` and each file is listed once, by its final path (like
// `nvidia-container-cli list`), which is what `restorecon -f -` labels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rf {

struct LdCacheEntry {
  std::string name;  // key, e.g. "libcuda.so.1"
  std::string path;  // value, e.g. "/lib/x86_64-linux-gnu/libcuda.so.1"
  int32_t flags = 0;
};

// Parses the bytes of an ld.so.cache file. Bounds-checked: a truncated or
// foreign file gives an error, never a read out of range.
Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view data);

enum class GpuFileKind { kDevice, kProcfs, kLibrary, kBinary, kFirmware, kSocket };
const char* ToString(GpuFileKind k);

struct GpuHostFile {
  std::string path;
  GpuFileKind kind;
};

// True when a library soname belongs to a GPU driver stack (NVIDIA, WSL
// dxcore/d3d12, AMD ROCm runtime).
bool IsGpuDriverLibrary(std::string_view soname);

// Resolves every symlink of `path` inside `root` (absolute targets are
// re-rooted, at most 40 links). nullopt when a component does not exist.
std::optional<std::string> ResolveInRoot(const std::string& root, const std::string& path);

// Every GPU host file under `root`, grouped by kind (in enum order), sorted
// by path within a kind, each path once. A missing or unreadable linker
// cache is not an error (no libraries are listed); a corrupt one is.
Result<std::vector<GpuHostFile>> ListGpuHostFiles(const std::string& root = "/");

}  // namespace rf
