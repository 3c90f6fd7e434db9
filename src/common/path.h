// Small path helpers shared by the layers: host paths seen from another
// root (doctor --root, a container image's tree), and a path's names.
#pragma once

#include <deque>
#include <string>

namespace rf {

// `path` (absolute) as found under `root`; `root` empty or "/" is the host.
inline std::string UnderRoot(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  return (root.back() == '/' ? root.substr(0, root.size() - 1) : root) + path;
}

// The names of `path` between slashes, in order; empty names (from "//",
// a leading or a trailing '/') are dropped, "." and ".." are kept.
inline std::deque<std::string> PathComponents(const std::string& path) {
  std::deque<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace rf
