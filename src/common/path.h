// Host paths seen from another root (doctor --root, a container image's
// tree): the one place that joins them.
#pragma once

#include <string>

namespace rf {

// `path` (absolute) as found under `root`; `root` empty or "/" is the host.
inline std::string UnderRoot(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  return (root.back() == '/' ? root.substr(0, root.size() - 1) : root) + path;
}

}  // namespace rf
