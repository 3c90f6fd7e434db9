#include "gpu/host_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include "common/fd.h"
#include "common/file.h"
#include "common/path.h"
#include "gpu/devices.h"

namespace rf {

namespace {

constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr size_t kNewHeaderSize =
    48;  // magic+version, nlibs, len_strings, flags, pad, ext, 3 unused
constexpr size_t kNewEntrySize = 24;  // flags, key, value, osversion, hwcap
constexpr size_t kOldEntrySize = 12;  // flags, key, value
constexpr size_t kMaxCacheSize = 64u << 20;

uint32_t ReadU32(std::string_view d, size_t off) {
  uint32_t v;
  std::memcpy(&v, d.data() + off, sizeof v);
  return v;
}

// NUL-terminated string at `off` of the string table, bounds-checked.
std::optional<std::string> CacheString(std::string_view d, uint32_t off) {
  if (off >= d.size()) return std::nullopt;
  size_t end = d.find('\0', off);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(d.substr(off, end - off));
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view data) {
  size_t base = 0;
  if (StartsWith(data, kOldMagic)) {
    // Old table first: magic, u32 nlibs, 12-byte entries; the new header
    // follows, aligned to 8 bytes.
    size_t hdr = 12;  // 11 bytes of magic + 1 padding to the u32 alignment
    if (data.size() < hdr + 4) return Status::Error("ld.so.cache: truncated old header");
    uint32_t n = ReadU32(data, hdr);
    size_t end = hdr + 4 + static_cast<size_t>(n) * kOldEntrySize;
    base = (end + 7) & ~size_t{7};
    if (base >= data.size() || !StartsWith(data.substr(base), kNewMagic))
      return Status::Error("ld.so.cache: old format only (not supported)");
  }
  std::string_view d = data.substr(base);
  if (!StartsWith(d, kNewMagic)) return Status::Error("ld.so.cache: unknown format");
  if (d.size() < kNewHeaderSize) return Status::Error("ld.so.cache: truncated header");
  uint32_t nlibs = ReadU32(d, 20);
  if (static_cast<uint8_t>(d[28]) == 1)  // flags: 1 = big endian (we only read host order)
    return Status::Error("ld.so.cache: big-endian cache");
  if (nlibs > (d.size() - kNewHeaderSize) / kNewEntrySize)
    return Status::Error("ld.so.cache: entry table larger than the file");
  std::vector<LdCacheEntry> out;
  out.reserve(nlibs);
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t off = kNewHeaderSize + static_cast<size_t>(i) * kNewEntrySize;
    int32_t flags;
    std::memcpy(&flags, d.data() + off, sizeof flags);
    // String offsets are relative to the new header.
    auto key = CacheString(d, ReadU32(d, off + 4));
    auto value = CacheString(d, ReadU32(d, off + 8));
    if (!key || !value) return Status::Error("ld.so.cache: string offset out of range");
    out.push_back({std::move(*key), std::move(*value), flags});
  }
  return out;
}

const char* ToString(GpuFileKind k) {
  switch (k) {
    case GpuFileKind::kDevice:
      return "device";
    case GpuFileKind::kProcfs:
      return "procfs";
    case GpuFileKind::kLibrary:
      return "library";
    case GpuFileKind::kBinary:
      return "binary";
    case GpuFileKind::kFirmware:
      return "firmware";
    case GpuFileKind::kSocket:
      return "socket";
  }
  return "?";
}

bool IsGpuDriverLibrary(std::string_view soname) {
  static constexpr std::string_view kPrefixes[] = {
      // NVIDIA driver (the set nvidia-container-cli mounts)
      "libcuda.so", "libcudadebugger.so", "libnvidia-", "libnvcuvid.so", "libnvoptix.so",
      "libGLX_nvidia.so", "libEGL_nvidia.so", "libGLESv2_nvidia.so", "libGLESv1_CM_nvidia.so",
      "libvdpau_nvidia.so",
      // WSL2 GPU paravirtualisation
      "libdxcore.so", "libd3d12.so", "libd3d12core.so",
      // AMD ROCm runtime
      "libhsa-runtime64.so", "libamdhip64.so", "libhsakmt.so"};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [&](std::string_view p) { return StartsWith(soname, p); });
}

std::optional<std::string> ResolveInRoot(const std::string& root, const std::string& path) {
  std::deque<std::string> todo;
  auto push_components = [&todo](const std::string& p, bool front) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (j > i) parts.push_back(p.substr(i, j - i));
      i = j + 1;
    }
    if (front)
      todo.insert(todo.begin(), parts.begin(), parts.end());
    else
      todo.insert(todo.end(), parts.begin(), parts.end());
  };
  push_components(path, false);
  std::vector<std::string> done;  // resolved components
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    std::string cur;
    for (const auto& d : done) cur += "/" + d;
    cur += "/" + c;
    struct stat st;
    if (lstat(UnderRoot(root, cur).c_str(), &st) != 0) return std::nullopt;
    if (!S_ISLNK(st.st_mode)) {
      done.push_back(std::move(c));
      continue;
    }
    if (++links > 40) return std::nullopt;
    char buf[PATH_MAX];
    ssize_t n = readlink(UnderRoot(root, cur).c_str(), buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    std::string target(buf, static_cast<size_t>(n));
    if (target[0] == '/') done.clear();
    push_components(target, true);
  }
  std::string out;
  for (const auto& d : done) out += "/" + d;
  return out.empty() ? "/" : out;
}

Result<std::vector<GpuHostFile>> ListGpuHostFiles(const std::string& root) {
  std::vector<GpuHostFile> files;
  auto exists = [&](const std::string& p) {
    struct stat st;
    return lstat(UnderRoot(root, p).c_str(), &st) == 0;
  };
  auto add_resolved = [&](const std::string& p, GpuFileKind k) {
    if (auto r = ResolveInRoot(root, p)) files.push_back({*r, k});
  };

  for (const auto& n : FindGpuDeviceNodes(root)) files.push_back({n.path, GpuFileKind::kDevice});
  if (exists("/proc/driver/nvidia")) files.push_back({"/proc/driver/nvidia", GpuFileKind::kProcfs});

  auto cache = ReadSmallFile(UnderRoot(root, "/etc/ld.so.cache"), kMaxCacheSize);
  if (cache.ok()) {
    auto entries = ParseLdCache(*cache);
    if (!entries.ok()) return entries.status().With(UnderRoot(root, "/etc/ld.so.cache"));
    for (const auto& e : *entries)
      if (IsGpuDriverLibrary(e.name) && !e.path.empty() && e.path[0] == '/')
        add_resolved(e.path, GpuFileKind::kLibrary);
  }

  static constexpr const char* kBinaries[] = {"nvidia-smi",
                                              "nvidia-debugdump",
                                              "nvidia-persistenced",
                                              "nv-fabricmanager",
                                              "nvidia-cuda-mps-control",
                                              "nvidia-cuda-mps-server",
                                              "rocm-smi",
                                              "rocminfo"};
  static constexpr const char* kBinDirs[] = {"/usr/local/sbin",  "/usr/local/bin", "/usr/sbin",
                                             "/usr/bin",         "/sbin",          "/bin",
                                             "/usr/lib/wsl/lib", "/opt/rocm/bin"};
  for (const char* dir : kBinDirs)
    for (const char* b : kBinaries) add_resolved(std::string(dir) + "/" + b, GpuFileKind::kBinary);

  // GSP firmware: /lib/firmware/nvidia/<driver version>/*.bin
  if (auto fw = ResolveInRoot(root, "/lib/firmware/nvidia")) {
    if (DIR* d = opendir(UnderRoot(root, *fw).c_str())) {
      std::vector<std::string> versions;
      while (struct dirent* e = readdir(d))
        if (e->d_name[0] != '.') versions.push_back(*fw + "/" + e->d_name);
      closedir(d);
      for (const auto& v : versions) {
        DIR* vd = opendir(UnderRoot(root, v).c_str());
        if (!vd) continue;
        while (struct dirent* e = readdir(vd)) {
          std::string_view n = e->d_name;
          if (n.size() > 4 && n.substr(n.size() - 4) == ".bin")
            add_resolved(v + "/" + std::string(n), GpuFileKind::kFirmware);
        }
        closedir(vd);
      }
    }
  }

  for (const char* s : {"/run/nvidia-persistenced/socket", "/run/nvidia-fabricmanager/socket"})
    add_resolved(s, GpuFileKind::kSocket);

  std::stable_sort(files.begin(), files.end(), [](const GpuHostFile& a, const GpuHostFile& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.path < b.path;
  });
  std::set<std::string> seen;
  std::vector<GpuHostFile> out;
  for (auto& f : files)
    if (seen.insert(f.path).second) out.push_back(std::move(f));
  return out;
}

}  // namespace rf
