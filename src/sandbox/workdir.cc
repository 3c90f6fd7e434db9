#include "sandbox/workdir.h"

#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "policy/loader.h"

namespace rf {

namespace {

bool SameInode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The caller's home directories, resolved: $HOME and the passwd entry of
// the real uid (they differ under sudo, or when HOME is set by hand).
std::vector<std::string> CallerHomes() {
  std::vector<std::string> candidates;
  if (const char* h = getenv("HOME"); h && h[0] == '/') candidates.push_back(h);
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found && pw.pw_dir &&
      pw.pw_dir[0] == '/')
    candidates.push_back(pw.pw_dir);
  std::vector<std::string> out;
  for (const auto& c : candidates) {
    char real[PATH_MAX];
    if (!realpath(c.c_str(), real)) continue;
    std::string r = real;
    if (r != "/" && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

// What a home directory holds that other programs trust: files they run or
// read at start-up, keys, credentials. Only the ones present are named.
std::string TrustedDotfiles(const std::string& home) {
  static constexpr const char* kNames[] = {".bashrc",    ".profile", ".bash_profile", ".zshrc",
                                           ".ssh",       ".gnupg",   ".gitconfig",    ".config",
                                           ".local/bin", ".aws",     ".kube",         ".docker"};
  std::string out;
  for (const char* n : kNames) {
    struct stat st;
    if (lstat((home + "/" + n).c_str(), &st) == 0)
      out += (out.empty() ? "" : ", ") + std::string(n);
  }
  return out.empty() ? "dotfiles such as .bashrc or .ssh/authorized_keys, created there" : out;
}

}  // namespace

Status CheckWorkdirGrant(const std::string& workdir, std::vector<std::string>& warnings) {
  struct stat wd;
  const bool have_wd = stat(workdir.c_str(), &wd) == 0;
  for (const auto& r : RefusedReadWritePaths()) {
    struct stat st;
    const bool same = workdir == r.path || (have_wd && stat(r.path, &st) == 0 && SameInode(wd, st));
    if (!same) continue;
    return Status::Error(
        "the working directory " + workdir +
        (workdir == r.path ? "" : std::string(" is '") + r.path + "' reached another way, and") +
        " would be granted read-write (filesystem_policy.include_workdir), but read_write must "
        "not grant '" +
        r.path + "' (" + r.why +
        "): pass --workdir DIR with the project's directory, or set "
        "filesystem_policy.include_workdir: false in the policy");
  }
  for (const auto& home : CallerHomes()) {
    struct stat st;
    const bool is_home =
        workdir == home || (have_wd && stat(home.c_str(), &st) == 0 && SameInode(wd, st));
    const bool contains = !is_home && home.rfind(workdir + "/", 0) == 0;
    if (!is_home && !contains) continue;
    warnings.push_back(
        "workdir: the working directory " + workdir +
        (is_home ? " is the caller's home directory"
                 : " contains the caller's home directory " + home) +
        ", granted read-write (filesystem_policy.include_workdir): the command can modify " +
        TrustedDotfiles(home) +
        " there, which other programs run or trust; pass --workdir DIR with the project's "
        "directory, or set filesystem_policy.include_workdir: false");
  }
  return Status::Ok();
}

}  // namespace rf
