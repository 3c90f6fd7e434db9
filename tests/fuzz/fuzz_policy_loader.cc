// libFuzzer target: the strict policy loader (YAML text -> validated Policy).
//
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - the loader never throws (errors are values);
//  - a refusal always says why, and names the source in "file:line:col";
//  - an accepted policy is internally valid: ports in range, absolute paths
//    without `..` components, every allowed_ips entry parses as a CIDR;
//  - aliases cannot multiply the work: an accepted policy stays within the
//    loader's bounds (docs/policy.md, "Limits"), and libFuzzer's -timeout
//    and -rss_limit_mb catch a slow or large walk (seeds: corpus/alias-*).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "policy/cidr.h"
#include "policy/loader.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

bool AbsoluteClean(const std::string& p) {
  if (p.empty() || p.front() != '/') return false;
  for (size_t at = 0; (at = p.find("..", at)) != std::string::npos; at += 2) {
    bool start = at == 0 || p[at - 1] == '/';
    bool end = at + 2 == p.size() || p[at + 2] == '/';
    if (start && end) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  rf::Result<rf::Policy> r = rf::LoadPolicyString(text, "fuzz.yaml");
  if (!r.ok()) {
    const std::string& why = r.status().reason();
    Check(!why.empty());
    Check(why.rfind("fuzz.yaml:", 0) == 0);
    return 0;
  }
  const rf::Policy& p = *r;
  for (const auto& d : p.filesystem.read_only) Check(AbsoluteClean(d));
  for (const auto& d : p.filesystem.read_write) Check(AbsoluteClean(d));
  Check(p.filesystem.read_only.size() + p.filesystem.read_write.size() <= 10000);
  size_t endpoints = 0, binaries = 0;
  for (const auto& np : p.network_policies) {
    endpoints += np.endpoints.size();
    binaries += np.binaries.size();
    for (const auto& ep : np.endpoints) {
      Check(!ep.host.empty());
      for (uint16_t port : ep.ports) Check(port != 0);
      for (const auto& c : ep.allowed_ips) Check(rf::ParseCidr(c).has_value());
    }
  }
  Check(endpoints <= 10000 && binaries <= 10000);
  return 0;
}
