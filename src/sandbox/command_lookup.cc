#include "sandbox/command_lookup.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/access_as.h"

namespace rf {

namespace {

bool UnderOrAt(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Real(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string WhoIs(const CommandLookup& how) {
  return how.run_as ? "the sandbox's user (uid " + std::to_string(how.run_as->uid) + ", gid " +
                          std::to_string(how.run_as->gid) + ")"
                    : "the sandbox's user (the caller, uid " + std::to_string(geteuid()) + ")";
}

struct Candidate {
  std::string path;     // as exec will get it
  std::string checked;  // absolute (relative ones joined to the workdir)
};

}  // namespace

Result<std::string> LookupCommand(const std::string& cmd, const std::string& path_env,
                                  const CommandLookup& how) {
  if (cmd.empty()) return Status::NotFound("empty command");
  auto absolute = [&](const std::string& p) {
    return p[0] == '/' || how.workdir.empty() ? p : how.workdir + "/" + p;
  };
  std::vector<Candidate> cands;
  const bool explicit_path = cmd.find('/') != std::string::npos;
  if (explicit_path) {
    cands.push_back({cmd, absolute(cmd)});
  } else {
    std::string path = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env;
    for (size_t start = 0; start <= path.size();) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(start, end - start);
      if (dir.empty()) dir = ".";
      std::string c = dir + "/" + cmd;
      cands.push_back({c, absolute(c)});
      start = end + 1;
    }
  }
  // Two questions per candidate, answered as the sandbox's user: can it
  // reach the file (every directory searchable), can it execute it.
  std::vector<AccessCheck> checks;
  for (const auto& c : cands) {
    checks.push_back({c.checked, F_OK});
    checks.push_back({c.checked, X_OK});
  }
  std::vector<int> res = AccessAs(how.run_as, checks);
  std::vector<std::string> granted_real;
  if (how.landlock)
    for (const auto& g : how.granted)
      if (std::string r = Real(g); !r.empty()) granted_real.push_back(r);

  std::vector<std::string> refusals;
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    struct stat st;
    // What exists for the caller: a shell sees nothing where the sandbox's
    // user cannot look, but the message names what is there.
    if (stat(c.checked.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      // A path given as such goes to exec, which says what is wrong.
      if (explicit_path) return c.path;
      continue;
    }
    // Every reason, so that fixing one does not just reveal the next.
    std::vector<std::string> why;
    if (how.landlock) {
      std::string real = Real(c.checked);
      bool granted = false;
      for (const auto& g : granted_real) granted = granted || UnderOrAt(real, g);
      if (!granted)
        why.push_back("refused by the policy (Landlock: " + (real == c.checked ? "" : real + " ") +
                      "is under no filesystem_policy grant; add its directory to read_only)");
    }
    if (res[2 * i] != 0) {
      why.push_back("refused by file permissions (" + WhoIs(how) +
                    " cannot search a directory on the way: " + strerror(res[2 * i]) + ")");
    } else if (res[2 * i + 1] != 0) {
      why.push_back("refused by file permissions (" + WhoIs(how) +
                    " may not execute it: " + strerror(res[2 * i + 1]) + ")");
    }
    if (!why.empty()) {
      std::string line = c.checked + ": ";
      for (size_t k = 0; k < why.size(); ++k) line += (k ? ", and " : "") + why[k];
      refusals.push_back(line);
      continue;
    }
    return c.path;
  }
  if (refusals.empty()) return Status::NotFound(cmd + ": command not found");
  std::string msg = cmd + ": permission denied: found, but the sandbox cannot run it: ";
  for (size_t i = 0; i < refusals.size(); ++i) msg += (i ? "; " : "") + refusals[i];
  return Status::Permission(msg);
}

}  // namespace rf
