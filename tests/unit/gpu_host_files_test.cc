#include <ftw.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "gpu/host_files.h"

namespace rf {
namespace {

// A throw-away directory tree standing in for a host root.
class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/rf-gpu-unit-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempTree() {
    nftw(
        root_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  const std::string& root() const { return root_; }
  void Dir(const std::string& p) {
    std::string cur = root_;
    size_t i = 1;
    while (i <= p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      cur = root_ + p.substr(0, j);
      mkdir(cur.c_str(), 0755);
      i = j + 1;
    }
  }
  void File(const std::string& p, const std::string& content = "") {
    Dir(p.substr(0, p.rfind('/')));
    std::ofstream(root_ + p, std::ios::binary) << content;
  }
  void Link(const std::string& p, const std::string& target) {
    Dir(p.substr(0, p.rfind('/')));
    ASSERT_EQ(symlink(target.c_str(), (root_ + p).c_str()), 0) << p;
  }

 private:
  std::string root_;
};

void Put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

// A cache in glibc's "glibc-ld.so.cache1.1" format, as ldconfig writes it.
std::string MakeCache(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string strings;
  std::vector<std::pair<uint32_t, uint32_t>> offs;
  size_t table_end = 48 + entries.size() * 24;
  for (const auto& [k, v] : entries) {
    uint32_t ko = static_cast<uint32_t>(table_end + strings.size());
    strings += k + '\0';
    uint32_t vo = static_cast<uint32_t>(table_end + strings.size());
    strings += v + '\0';
    offs.push_back({ko, vo});
  }
  std::string s = "glibc-ld.so.cache1.1";
  Put32(s, static_cast<uint32_t>(entries.size()));
  Put32(s, static_cast<uint32_t>(strings.size()));
  s += std::string("\x02\0\0\0", 4);  // little endian + padding
  Put32(s, 0);                        // extension offset
  for (int i = 0; i < 3; ++i) Put32(s, 0);
  for (const auto& [ko, vo] : offs) {
    Put32(s, 0x0303);  // libc6, x86-64
    Put32(s, ko);
    Put32(s, vo);
    Put32(s, 0);
    s += std::string(8, '\0');
  }
  return s + strings;
}

// ListGpuHostFiles(root) as "kind path" lines, in order (a failure fails the test).
std::vector<std::string> ListedAsKindAndPath(const std::string& root) {
  auto files = ListGpuHostFiles(root);
  EXPECT_TRUE(files.ok()) << files.status().reason();
  std::vector<std::string> got;
  if (files.ok())
    for (const auto& f : *files) got.push_back(std::string(ToString(f.kind)) + " " + f.path);
  return got;
}

TEST(LdCache, ParsesTheHostCache) {
  std::ifstream f("/etc/ld.so.cache", std::ios::binary);
  ASSERT_TRUE(f) << "no /etc/ld.so.cache on this host";
  std::string data((std::istreambuf_iterator<char>(f)), {});
  auto entries = ParseLdCache(data);
  ASSERT_TRUE(entries.ok()) << entries.status().reason();
  bool libc = false;
  for (const auto& e : *entries) {
    EXPECT_EQ(e.path[0], '/') << e.name;
    if (e.name == "libc.so.6") {
      libc = true;
      EXPECT_EQ(access(e.path.c_str(), R_OK), 0) << e.path;
    }
  }
  EXPECT_TRUE(libc);
}

TEST(LdCache, RoundTripsASyntheticCache) {
  auto entries = ParseLdCache(
      MakeCache({{"libcuda.so.1", "/usr/lib/libcuda.so.1"}, {"libz.so.1", "/lib/libz.so.1"}}));
  ASSERT_TRUE(entries.ok()) << entries.status().reason();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "libcuda.so.1");
  EXPECT_EQ((*entries)[0].path, "/usr/lib/libcuda.so.1");
  EXPECT_EQ((*entries)[1].name, "libz.so.1");
  EXPECT_EQ((*entries)[1].flags, 0x0303);
}

TEST(LdCache, RejectsCorruptData) {
  std::string good = MakeCache({{"libcuda.so.1", "/usr/lib/libcuda.so.1"}});
  EXPECT_FALSE(ParseLdCache("").ok());
  EXPECT_FALSE(ParseLdCache("not a cache at all, but long enough to hold a header......").ok());
  EXPECT_FALSE(ParseLdCache(good.substr(0, 40)).ok());  // truncated header
  EXPECT_FALSE(ParseLdCache(good.substr(0, 60)).ok());  // truncated table
  std::string bad_offset = good;
  uint32_t huge = 0x7fffffff;
  std::memcpy(&bad_offset[48 + 4], &huge, 4);
  EXPECT_FALSE(ParseLdCache(bad_offset).ok());
  std::string no_nul = good.substr(0, good.size() - 1);  // last string unterminated
  EXPECT_FALSE(ParseLdCache(no_nul).ok());
  std::string many = good;
  uint32_t n = 1000000;
  std::memcpy(&many[20], &n, 4);
  EXPECT_FALSE(ParseLdCache(many).ok());
}

TEST(GpuLibraries, RecognisesDriverSonames) {
  for (const char* yes :
       {"libcuda.so.1", "libnvidia-ml.so.1", "libnvidia-ptxjitcompiler.so.1", "libdxcore.so",
        "libGLX_nvidia.so.0", "libamdhip64.so.6", "libcudadebugger.so.1"})
    EXPECT_TRUE(IsGpuDriverLibrary(yes)) << yes;
  for (const char* no :
       {"libc.so.6", "libcudart.so.12", "libGLX_mesa.so.0", "libnvidia", "libz.so"})
    EXPECT_FALSE(IsGpuDriverLibrary(no)) << no;
}

TEST(ResolveInRoot, FollowsLinksInsideTheRoot) {
  TempTree t;
  t.File("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14");
  t.Link("/lib", "usr/lib");
  t.Link("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.550.54.14");
  t.Link("/usr/lib/x86_64-linux-gnu/libcuda.so", "/lib/x86_64-linux-gnu/libcuda.so.1");
  t.Link("/loop", "/loop");
  EXPECT_EQ(ResolveInRoot(t.root(), "/lib/x86_64-linux-gnu/libcuda.so"),
            "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14");
  EXPECT_EQ(ResolveInRoot(t.root(), "/usr/lib/../lib/./x86_64-linux-gnu/libcuda.so.1"),
            "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14");
  EXPECT_EQ(ResolveInRoot(t.root(), "/lib/missing.so"), std::nullopt);
  EXPECT_EQ(ResolveInRoot(t.root(), "/loop"), std::nullopt);
}

TEST(GpuHostFiles, ListsExactlyTheStandInTree) {
  TempTree t;
  for (const char* d :
       {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm", "/dev/nvidia-caps/nvidia-cap1",
        "/dev/null", "/dev/dri/card0", "/dev/dri/renderD128"})
    t.File(d);
  t.Dir("/proc/driver/nvidia");
  t.File("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14");
  t.Link("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.550.54.14");
  t.File("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14");
  t.Link("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "libnvidia-ml.so.550.54.14");
  t.File("/usr/lib/x86_64-linux-gnu/libz.so.1");
  t.Link("/lib", "usr/lib");
  t.Link("/bin", "usr/bin");
  t.File("/usr/bin/nvidia-smi");
  t.File("/usr/bin/nvidia-persistenced");
  t.File("/usr/bin/ls");
  t.File("/usr/lib/firmware/nvidia/550.54.14/gsp_ga10x.bin");
  t.File("/usr/lib/firmware/nvidia/550.54.14/README");
  t.File("/run/nvidia-persistenced/socket");
  t.File("/etc/ld.so.cache",
         MakeCache({{"libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"},
                    {"libnvidia-ml.so.1", "/lib/x86_64-linux-gnu/libnvidia-ml.so.1"},
                    {"libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1"},
                    {"libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"},
                    {"libnvidia-gone.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-gone.so.1"}}));
  auto got = ListedAsKindAndPath(t.root());
  std::vector<std::string> want = {
      "device /dev/dri/renderD128",
      "device /dev/nvidia-caps/nvidia-cap1",
      "device /dev/nvidia-uvm",
      "device /dev/nvidia0",
      "device /dev/nvidiactl",
      "procfs /proc/driver/nvidia",
      "library /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
      "library /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
      "binary /usr/bin/nvidia-persistenced",
      "binary /usr/bin/nvidia-smi",
      "firmware /usr/lib/firmware/nvidia/550.54.14/gsp_ga10x.bin",
      "socket /run/nvidia-persistenced/socket",
  };
  EXPECT_EQ(got, want);
}

TEST(GpuHostFiles, ListsWslAmdAndEveryNvidiaNode) {
  TempTree t;
  for (const char* d :
       {"/dev/dxg", "/dev/kfd", "/dev/dri/renderD128", "/dev/dri/renderD129", "/dev/dri/card0",
        "/dev/nvidia-modeset", "/dev/nvidia-uvm-tools", "/dev/nvidia-fake", "/dev/sdz"})
    t.File(d);
  auto got = ListedAsKindAndPath(t.root());
  std::vector<std::string> want = {
      "device /dev/dri/renderD128",
      "device /dev/dri/renderD129",
      "device /dev/dxg",
      "device /dev/kfd",
      "device /dev/nvidia-modeset",
      "device /dev/nvidia-uvm-tools",
  };
  EXPECT_EQ(got, want);
}

TEST(GpuHostFiles, EmptyRootListsNothingAndCorruptCacheIsAnError) {
  TempTree t;
  auto none = ListGpuHostFiles(t.root());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  t.File("/etc/ld.so.cache", "glibc-ld.so.cache1.1 but then garbage");
  EXPECT_FALSE(ListGpuHostFiles(t.root()).ok());
}

}  // namespace
}  // namespace rf
