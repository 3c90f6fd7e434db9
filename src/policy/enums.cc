// The policy's enums as their YAML and command-line spellings
// (policy/policy.h).
#include <optional>
#include <string>

#include "policy/policy.h"

namespace rf {

const char* ToString(Compatibility c) {
  return c == Compatibility::kBestEffort ? "best_effort" : "hard_requirement";
}

const char* ToString(NetMode m) {
  switch (m) {
    case NetMode::kAuto:
      return "auto";
    case NetMode::kNamespace:
      return "namespace";
    case NetMode::kPlatform:
      return "platform";
    case NetMode::kNone:
      return "none";
    case NetMode::kHost:
      return "host";
  }
  return "?";
}

const char* ToString(GpuMode g) {
  switch (g) {
    case GpuMode::kAuto:
      return "auto";
    case GpuMode::kOn:
      return "on";
    case GpuMode::kOff:
      return "off";
  }
  return "?";
}

std::optional<NetMode> ParseNetMode(const std::string& s) {
  for (NetMode m :
       {NetMode::kAuto, NetMode::kNamespace, NetMode::kPlatform, NetMode::kNone, NetMode::kHost})
    if (s == ToString(m)) return m;
  return std::nullopt;
}

const char* ToString(EnvInherit e) {
  switch (e) {
    case EnvInherit::kAll:
      return "all";
    case EnvInherit::kCore:
      return "core";
    case EnvInherit::kNone:
      return "none";
  }
  return "?";
}

std::optional<EnvInherit> ParseEnvInherit(const std::string& s) {
  for (EnvInherit e : {EnvInherit::kAll, EnvInherit::kCore, EnvInherit::kNone})
    if (s == ToString(e)) return e;
  return std::nullopt;
}

}  // namespace rf
