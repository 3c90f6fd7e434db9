// Subcommands of the ringfence binary. Each returns the process exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rf {

struct RunOptions {
  std::string policy_file;  // empty = embedded default
  std::string mode;         // empty = from policy
  std::string audit_file;
  std::string workdir;  // empty = current directory
  bool quiet = false;
  std::vector<std::string> command;
};

int RunMain(const RunOptions& o);

int PolicyValidateMain(const std::string& file);
int PolicyShowMain(const std::string& file, bool effective, bool json, const std::string& mode);

// Exit codes of `run` (DESIGN.md).
inline constexpr int kExitSetupFailed = 125;
inline constexpr int kExitNotExecutable = 126;
inline constexpr int kExitNotFound = 127;

}  // namespace rf
