#include "landlock/deny_read.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/fd.h"
#include "landlock/uapi.h"

namespace rf::landlock {

namespace {

bool Under(const std::string& path, const std::string& root) {
  if (root == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         path[root.size()] == '/';
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace

Result<std::vector<PathRule>> SplitForDenyRead(const std::vector<PathRule>& paths,
                                               const std::vector<std::string>& denied,
                                               size_t max_rules) {
  std::set<std::string> deny(denied.begin(), denied.end());
  std::vector<PathRule> out;
  size_t added = 0;
  for (const auto& rule : paths) {
    std::vector<std::string> below;
    for (const auto& d : deny)
      if (Under(d, rule.path)) below.push_back(d);
    if (deny.count(rule.path)) continue;  // the grant is itself denied
    if (below.empty()) {
      out.push_back(rule);
      continue;
    }
    const uint64_t rights = rule.rights ? rule.rights : WantedFsRights(rule.access);
    // The directories on the way from the grant down to each denied path.
    std::set<std::string> chain = {rule.path};
    for (const auto& d : below)
      for (std::string p = d.substr(0, d.rfind('/')); Under(p, rule.path) && !p.empty();
           p = p.substr(0, p.rfind('/')))
        chain.insert(p);
    for (const auto& dir : chain) {
      out.push_back({dir, rule.access, rights & ~kFsReadFile});
      UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return Status::Errno("deny_read: opening ", dir);
      int copy = dup(fd.get());
      DIR* d = copy >= 0 ? fdopendir(copy) : nullptr;
      if (!d) {
        if (copy >= 0) close(copy);
        return Status::Errno("deny_read: reading ", dir);
      }
      std::vector<std::string> names;
      while (dirent* e = readdir(d))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
          names.emplace_back(e->d_name);
      closedir(d);
      for (const auto& name : names) {
        std::string path = Join(dir, name);
        if (chain.count(path) || deny.count(path)) continue;
        struct stat st;
        if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode))
          continue;
        if (++added > max_rules)
          return Status::Error("deny_read: more than " + std::to_string(max_rules) +
                               " entries beside the denied paths (in " + dir +
                               "); deny a path in a smaller directory, or use namespace mode");
        out.push_back({path, rule.access, rights});
      }
    }
  }
  return out;
}

}  // namespace rf::landlock
