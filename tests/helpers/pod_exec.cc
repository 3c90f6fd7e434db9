// Starts a command the way a restricted Kubernetes pod would: uid/gid 65534,
// no supplementary groups, no capabilities (bounding set dropped too),
// no_new_privs, and a container runtime's seccomp profile (Docker/containerd
// RuntimeDefault JSON) applied, then execs it.
//
//   pod_exec PROFILE.json CMD [ARGS...]
//
// The JSON is interpreted like the runtimes do for an unprivileged container
// on x86_64: rules whose `includes` need capabilities are skipped, rules whose
// `excludes` name capabilities we lack still apply, arch filters are
// honoured, `minKernel` is assumed satisfied.
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using nlohmann::json;

static bool ArchMatches(const json& arches) {
  for (const auto& a : arches) {
    std::string s = a.get<std::string>();
    if (s == "amd64" || s == "x86_64" || s == "SCMP_ARCH_X86_64") return true;
  }
  return false;
}

static uint32_t Action(const json& rule, const json& profile) {
  std::string act = rule.value("action", "SCMP_ACT_ALLOW");
  if (act == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (act == "SCMP_ACT_ERRNO") {
    int e = rule.contains("errnoRet") ? rule["errnoRet"].get<int>()
                                      : profile.value("defaultErrnoRet", 1);
    return SCMP_ACT_ERRNO(e);
  }
  if (act == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return SCMP_ACT_KILL_PROCESS;
}

static scmp_compare Op(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  return SCMP_CMP_MASKED_EQ;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: pod_exec PROFILE.json CMD [ARGS...]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  json profile = json::parse(in);

  // Drop to 65534 with nothing left.
  if (syscall(SYS_setgroups, 0, nullptr) != 0 && geteuid() == 0) return perror("setgroups"), 1;
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (setresgid(65534, 65534, 65534) != 0) return perror("setresgid"), 1;
  if (setresuid(65534, 65534, 65534) != 0) return perror("setresuid"), 1;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &hdr, data) != 0) return perror("capset"), 1;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return perror("no_new_privs"), 1;

  std::string def = profile.value("defaultAction", "SCMP_ACT_ERRNO");
  uint32_t def_action = def == "SCMP_ACT_ALLOW"
                            ? SCMP_ACT_ALLOW
                            : SCMP_ACT_ERRNO(profile.value("defaultErrnoRet", 1));
  scmp_filter_ctx ctx = seccomp_init(def_action);
  if (!ctx) return fprintf(stderr, "seccomp_init failed\n"), 1;
  for (const auto& rule : profile["syscalls"]) {
    const json inc = rule.value("includes", json::object());
    const json exc = rule.value("excludes", json::object());
    if (inc.contains("caps") && !inc["caps"].empty()) continue;  // we have no capabilities
    if (inc.contains("arches") && !ArchMatches(inc["arches"])) continue;
    if (exc.contains("arches") && ArchMatches(exc["arches"])) continue;
    uint32_t action = Action(rule, profile);
    if (action == def_action) continue;
    std::vector<scmp_arg_cmp> cmps;
    if (rule.contains("args") && rule["args"].is_array()) {
      for (const auto& a : rule["args"]) {
        scmp_arg_cmp c{};
        c.arg = a["index"].get<unsigned>();
        c.op = Op(a["op"].get<std::string>());
        c.datum_a = a["value"].get<uint64_t>();
        c.datum_b = a.value("valueTwo", uint64_t{0});
        cmps.push_back(c);
      }
    }
    for (const auto& n : rule["names"]) {
      int nr = seccomp_syscall_resolve_name(n.get<std::string>().c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                      cmps.empty() ? nullptr : cmps.data());
      if (rc != 0 && rc != -EEXIST) {
        fprintf(stderr, "pod_exec: rule for %s: %s\n", n.get<std::string>().c_str(), strerror(-rc));
      }
    }
  }
  if (seccomp_load(ctx) != 0) return fprintf(stderr, "seccomp_load failed\n"), 1;
  seccomp_release(ctx);
  execv(argv[2], argv + 2);
  perror("execv");
  return 127;
}
