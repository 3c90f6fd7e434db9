// Every pattern of the failure catalogue has its own realistic sample here;
// CatalogueCoverage fails when a pattern has none.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "diagnose/catalogue.h"

namespace rf {
namespace {

struct Sample {
  const char* id;
  size_t pattern;
  const char* text;
};

const Sample kSamples[] = {
    {"cdi-specs-missing", 0,
     "docker: Error response from daemon: CDI device injection failed: unresolvable CDI devices "
     "nvidia.com/gpu=all."},
    {"cdi-specs-missing", 1,
     "Error: setting up CDI devices: CDI device not found: nvidia.com/gpu=1"},
    {"cdi-specs-missing", 2,
     "Warning  Failed  12s  kubelet  Error: failed to generate container \"4b1c\" spec: failed to "
     "generate spec: unknown CDI device: nvidia.com/gpu=GPU-6f9b2c1e"},
    {"cdi-specs-missing", 3,
     "ctr: failed to create containerd container: failed to inject CDI devices: unresolvable CDI "
     "devices nvidia.com/gpu=all"},
    {"nvml-insufficient-permissions", 0, "Failed to initialize NVML: Insufficient Permissions"},
    {"nvml-insufficient-permissions", 1,
     "dcgm: Error: nvmlInit_v2 returned NVML_ERROR_NO_PERMISSION (4)"},
    {"nvml-insufficient-permissions", 2,
     "pynvml.nvml.NVMLError_NoPermission: Insufficient Permissions"},
    {"cuda-init-304", 0, "[cuda] cuInit(0) failed: error 304"},
    {"cuda-init-304", 1,
     "numba.cuda.cudadrv.driver.CudaAPIError: [304] Call to cuInit results in "
     "CUDA_ERROR_OPERATING_SYSTEM"},
    {"cuda-init-304", 2, "CUDA runtime error: cudaErrorOperatingSystem (304) at main.cu:42"},
    {"cuda-init-304", 3,
     "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions "
     "before calling NumCudaDevices() that might have already set an error? Error 304: OS call "
     "failed or operation not supported on this OS"},
    {"persistenced-eacces", 0,
     "connect(3, {sa_family=AF_UNIX, sun_path=\"/var/run/nvidia-persistenced/socket\"}, 37) = -1 "
     "EACCES (Permission denied)"},
    {"persistenced-eacces", 1,
     "Mar 05 10:12:01 gpu01 nvidia-persistenced[1234]: Failed to open PID file: Permission denied"},
    {"landlock-unavailable", 0,
     "Hint: Landlock is currently disabled. It can be enabled in the kernel configuration by "
     "prepending \"landlock,\" to the content of CONFIG_LSM, or at boot time by setting the same "
     "content to the \"lsm\" kernel parameter."},
    {"userns-disabled", 0,
     "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
     "non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl "
     "kernel.unprivileged_userns_clone=1'."},
    {"userns-disabled", 1, "unshare: unshare failed: Operation not permitted"},
    {"userns-disabled", 2, "bwrap: setting up uid map: Permission denied"},
    {"userns-disabled", 3,
     "cannot clone: Invalid argument\nuser namespaces are not enabled in "
     "/proc/sys/user/max_user_namespaces"},
    {"userns-disabled", 4,
     "audit: type=1400 audit(1713890123.456:210): apparmor=\"DENIED\" operation=\"userns_create\" "
     "class=\"namespace\" info=\"User namespace creation restricted\" error=-13 "
     "profile=\"unconfined\" pid=4242 comm=\"bwrap\""},
    {"pidfd-getfd-blocked", 0,
     "pidfd_getfd(3, 5, 0)                    = -1 EPERM (Operation not permitted)"},
    {"proxy-port-in-use", 0, "ringfence: proxy: bind 127.0.0.1:3128: Address already in use"},
    {"selinux-gpu-device-denied", 0,
     "type=AVC msg=audit(1709633521.112:2201): avc:  denied  { read write } for  pid=51234 "
     "comm=\"nvidia-smi\" name=\"nvidiactl\" dev=\"devtmpfs\" ino=1027 "
     "scontext=system_u:system_r:container_t:s0:c184,c907 "
     "tcontext=system_u:object_r:xserver_misc_device_t:s0 tclass=chr_file permissive=0"},
    {"selinux-runtime-files-denied", 0,
     "type=AVC msg=audit(1709633521.101:2199): avc:  denied  { getattr } for  pid=51230 "
     "comm=\"nvidia-smi\" path=\"/usr/lib64/libnvidia-ml.so.550.54.14\" dev=\"tmpfs\" ino=3 "
     "scontext=system_u:system_r:container_t:s0:c184,c907 "
     "tcontext=system_u:object_r:container_runtime_tmpfs_t:s0 tclass=file permissive=0"},
    {"selinux-runtime-files-denied", 1,
     "type=AVC msg=audit(1709633521.099:2198): avc:  denied  { entrypoint } for  pid=51229 "
     "comm=\"runc:[2:INIT]\" path=\"/usr/bin/nvidia-smi\" dev=\"overlay\" ino=2361 "
     "scontext=system_u:system_r:container_t:s0:c184,c907 "
     "tcontext=system_u:object_r:xserver_exec_t:s0 tclass=file permissive=0"},
    {"ringfence-policy-denied", 0,
     "{\"action\":\"deny\",\"layer\":\"proxy\",\"reason\":\"no network_policies entry allows "
     "this host\",\"subject\":\"api.example.com:443\",\"time\":\"2026-11-23T18:34:09.123Z\"}"},
    {"ringfence-policy-denied", 1,
     "fatal: unable to access 'https://github.com/org/repo.git/': CONNECT tunnel failed, "
     "response 403"},
    {"ringfence-policy-denied", 2,
     "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) "
     "after "
     "connection broken by 'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection "
     "failed: 403 Forbidden'))': /simple/requests/"},
    {"ringfence-policy-denied", 3,
     "ringfence: proxy: CONNECT pypi.org:443 denied: no network_policies entry allows it"},
    {"ringfence-policy-denied", 4,
     "HTTP/1.1 403 Forbidden\r\n{\"binary\":\"/usr/bin/curl\",\"error\":\"forbidden by ringfence "
     "policy\",\"hint\":\"add an endpoint\",\"host\":\"example.org\",\"port\":443,"
     "\"reason\":\"no network_policies entry allows example.org:443\"}"},
    {"ringfence-direct-connect-denied", 0,
     "{\"action\":\"deny\",\"layer\":\"network\",\"pid\":4242,\"reason\":\"platform mode: only "
     "the proxy and the policy's loopback ports may be connected "
     "to\",\"subject\":\"10.0.0.7:5432\","
     "\"time\":\"2026-11-23T18:00:00.000Z\"}"},
    {"host-loopback-refused", 0,
     "curl: (7) Failed to connect to 127.0.0.1 port 18080 after 0 ms: Couldn't connect to "
     "server"},
    {"host-loopback-refused", 1,
     "TypeError: fetch failed\n  [cause]: Error: connect ECONNREFUSED 127.0.0.1:18080"},
    {"host-loopback-refused", 2,
     "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port=18080): Max "
     "retries exceeded with url: / (Caused by NewConnectionError('<urllib3.connection."
     "HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] "
     "Connection refused'))"},
    {"nvidia-runtime-missing", 0,
     "docker: Error response from daemon: could not select device driver \"\" with capabilities: "
     "[[gpu]]."},
    {"driver-libraries-missing", 0,
     "nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1: cannot "
     "open shared object file: no such file or directory: unknown."},
    {"driver-libraries-missing", 1,
     "ImportError: libnvidia-ml.so.1: cannot open shared object file: No such file or directory"},
    {"nvml-unknown-error", 0, "Failed to initialize NVML: Unknown Error"},
    {"cuda-no-device", 0, "cuInit failed: CUDA_ERROR_NO_DEVICE"},
    {"cuda-no-device", 1,
     "RuntimeError: CUDA error: no CUDA-capable device is detected\nCUDA kernel errors might be "
     "asynchronously reported at some other API call"},
    {"cuda-no-device", 2, "cudaGetDeviceCount returned 100 -> cudaErrorNoDevice"},
    {"nvml-driver-mismatch", 0, "Failed to initialize NVML: Driver/library version mismatch"},
    {"nvidia-smi-no-driver", 0,
     "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
     "that the latest NVIDIA driver is installed and running."},
    {"cuda-driver-too-old", 0,
     "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). CUDA "
     "driver version is insufficient for CUDA runtime version"},
    {"cuda-driver-too-old", 1, "CUDA error: cudaErrorInsufficientDriver at train.cu:17"},
    {"cuda-driver-too-old", 2,
     "cuInit failed: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: system has unsupported display driver / "
     "cuda driver combination"},
    {"dns-resolution-failed", 0, "Error: getaddrinfo EAI_AGAIN registry.npmjs.org"},
    {"dns-resolution-failed", 1, "curl: (6) Could not resolve host: example.org"},
    {"dns-resolution-failed", 2,
     "socket.gaierror: [Errno -3] Temporary failure in name resolution"},
    {"dns-resolution-failed", 3,
     "npm ERR! request failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org"},
    {"git-dubious-ownership", 0,
     "fatal: detected dubious ownership in repository at '/home/alice/project'"},
    {"docker-daemon-unreachable", 0,
     "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
     "running?"},
    {"sandbox-permission-denied", 0, "cat: /home/alice/.aws/credentials: Permission denied"},
    {"sandbox-permission-denied", 1,
     "openat(AT_FDCWD, \"/srv/data/x\", O_RDONLY) = -1 EACCES (Permission denied)"},
    {"sandbox-permission-denied", 2,
     "PermissionError: [Errno 13] Permission denied: '/srv/data/train.csv'"},
};

const KnownFailure* Find(const std::string& id) {
  for (const auto& f : FailureCatalogue())
    if (f.id == id) return &f;
  return nullptr;
}

class CataloguePattern : public ::testing::TestWithParam<Sample> {};

TEST_P(CataloguePattern, RealisticTextMatchesItsPatternAndEntry) {
  const Sample& s = GetParam();
  const KnownFailure* f = Find(s.id);
  ASSERT_NE(f, nullptr) << s.id;
  ASSERT_LT(s.pattern, f->patterns.size());
  std::regex re(f->patterns[s.pattern], std::regex::ECMAScript | std::regex::icase);
  EXPECT_TRUE(std::regex_search(std::string(s.text), re)) << f->patterns[s.pattern];
  auto found = Diagnose(s.text);
  auto it = std::find_if(found.begin(), found.end(),
                         [&](const Diagnosis& d) { return d.failure->id == s.id; });
  ASSERT_NE(it, found.end()) << "not diagnosed as " << s.id;
  EXPECT_FALSE(f->steps.empty());
  std::string report = FormatDiagnoses(found);
  EXPECT_NE(report.find("[" + std::string(s.id) + "]"), std::string::npos);
  EXPECT_NE(report.find("  1. "), std::string::npos);
}

std::string SampleName(const ::testing::TestParamInfo<Sample>& info) {
  std::string n = std::string(info.param.id) + "_" + std::to_string(info.param.pattern);
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Samples, CataloguePattern, ::testing::ValuesIn(kSamples), SampleName);

TEST(Catalogue, EveryPatternHasASampleAndCompiles) {
  std::set<std::pair<std::string, size_t>> covered;
  for (const auto& s : kSamples) covered.insert({s.id, s.pattern});
  std::set<std::string> ids;
  for (const auto& f : FailureCatalogue()) {
    EXPECT_TRUE(ids.insert(f.id).second) << "duplicate id " << f.id;
    EXPECT_FALSE(f.summary.empty());
    EXPECT_FALSE(f.retry_note.empty());
    for (size_t p = 0; p < f.patterns.size(); ++p) {
      EXPECT_TRUE(covered.count({f.id, p})) << f.id << " pattern " << p << " has no sample";
      EXPECT_NO_THROW(std::regex(f.patterns[p], std::regex::ECMAScript | std::regex::icase));
    }
  }
  for (const char* required :
       {"cdi-specs-missing", "nvml-insufficient-permissions", "cuda-init-304",
        "persistenced-eacces", "landlock-unavailable", "userns-disabled", "pidfd-getfd-blocked",
        "proxy-port-in-use", "selinux-gpu-device-denied", "selinux-runtime-files-denied",
        "ringfence-policy-denied"})
    EXPECT_TRUE(ids.count(required)) << required;
}

TEST(Catalogue, CdiFixNamesNvidiaCtk) {
  auto found = Diagnose(kSamples[0].text);
  ASSERT_EQ(found.size(), 1u);
  std::string report = FormatDiagnoses(found);
  EXPECT_NE(report.find("$ sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"),
            std::string::npos);
  EXPECT_NE(report.find("$ nvidia-ctk cdi list"), std::string::npos);
  EXPECT_NE(report.find("Retry: No"), std::string::npos);
}

TEST(Catalogue, LoopbackAdviceIsTheWholeRecipe) {
  // A host service refused on loopback: the endpoint with its allowed_ips
  // (without them the SSRF rule refuses loopback), the port filled in.
  for (const char* text :
       {"curl: (7) Failed to connect to 127.0.0.1 port 18080 after 0 ms: Couldn't connect to "
        "server",
        "{\"action\":\"deny\",\"layer\":\"network\",\"subject\":\"127.0.0.1:18080\"}"}) {
    std::string report = FormatDiagnoses(Diagnose(text));
    EXPECT_NE(report.find("- { host: 127.0.0.1, port: 18080, allowed_ips: [127.0.0.1/32] }"),
              std::string::npos)
        << report;
  }
  // A proxy denial of a loopback host: the added entry carries allowed_ips.
  std::string proxy =
      "{\"action\":\"deny\",\"layer\":\"proxy\",\"subject\":\"127.0.0.1:8080\",\"hint\":\"add "
      "an endpoint {host: 127.0.0.1, port: 8080, allowed_ips: [127.0.0.1/32]} to an entry of "
      "network_policies\"}";
  std::string report = FormatDiagnoses(Diagnose(proxy));
  EXPECT_NE(report.find("- { host: 127.0.0.1, port: 8080, allowed_ips: [127.0.0.1/32] }"),
            std::string::npos)
      << report;
}

TEST(Catalogue, UnknownTextGivesGenericAnswer) {
  auto found = Diagnose("everything went fine\nexit status 0\n");
  EXPECT_TRUE(found.empty());
  auto j = DiagnosesToJson(found);
  EXPECT_FALSE(j["known"].get<bool>());
  EXPECT_TRUE(j["matches"].empty());
  EXPECT_FALSE(j["generic"]["steps"].empty());
  EXPECT_NE(FormatDiagnoses(found).find("No known failure"), std::string::npos);
}

TEST(Catalogue, LogWithSeveralFailuresListsEachOnceInOrder) {
  std::string log = "starting\n" + std::string(kSamples[20].text) + "\n" + kSamples[4].text + "\n" +
                    kSamples[4].text + "\n";
  auto found = Diagnose(log);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].failure->id, "proxy-port-in-use");
  EXPECT_EQ(found[0].line, 2u);
  EXPECT_EQ(found[1].failure->id, "nvml-insufficient-permissions");
  EXPECT_EQ(found[1].line, 3u);
}

TEST(Catalogue, PolicyDenialPointsToThePolicyEntry) {
  for (const auto& [text, host, port] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {kSamples[24].text, "api.example.com", "443"},
           {kSamples[25].text, "github.com", "443"},
           {"* CONNECT pypi.internal:8080 HTTP/1.1\ncurl: (56) CONNECT tunnel failed, response 403",
            "pypi.internal", "8080"},
           {"ringfence: proxy denied 3 connection(s):\n  files.pythonhosted.org:443  /usr/bin/pip  "
            "x3\n",
            "files.pythonhosted.org", "443"}}) {
    auto found = Diagnose(text);
    ASSERT_EQ(found.size(), 1u) << text;
    auto j = DiagnosesToJson(found);
    std::string all = j.dump();
    EXPECT_NE(all.find("{ host: " + host + ", port: " + port + " }"), std::string::npos) << all;
  }
}

TEST(Catalogue, ProxyBodyNamesHostPortAndBinary) {
  auto found = Diagnose(kSamples[28].text);
  ASSERT_EQ(found.size(), 1u);
  std::string report = FormatDiagnoses(found);
  EXPECT_NE(report.find("{ host: example.org, port: 443 }"), std::string::npos) << report;
  EXPECT_NE(report.find("- { path: /usr/bin/curl }"), std::string::npos) << report;
}

TEST(Catalogue, ProxyPortStepNamesThePort) {
  auto found = Diagnose(kSamples[20].text);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(FormatDiagnoses(found).find("ss -ltnp 'sport = :3128'"), std::string::npos);
  EXPECT_TRUE(found[0].failure->retry_helps);
}

TEST(Catalogue, HugeLineIsCutNotFatal) {
  std::string line(200000, 'a');
  line += " unresolvable CDI devices";
  EXPECT_TRUE(Diagnose(line).empty());  // beyond the 4096-character cut
  EXPECT_EQ(Diagnose(line.substr(0, 100) + " unresolvable CDI devices").size(), 1u);
}

}  // namespace
}  // namespace rf
