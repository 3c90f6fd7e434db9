#include "policy/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "policy/sections.h"
#include "policy/yaml_checker.h"

namespace rf {

namespace {

constexpr size_t kMaxPolicyBytes = 4u << 20;

}  // namespace

Result<Policy> LoadPolicyString(const std::string& text, const std::string& source) {
  load::Checker c(source);
  if (text.size() > kMaxPolicyBytes) {
    return Status::Invalid(source + ": policy is larger than 4 MiB");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    c.Error(e.mark, "YAML syntax error: " + e.msg);
    return Status::Invalid(c.Joined());
  } catch (const std::exception& e) {
    return Status::Invalid(source + ":0:0: cannot parse YAML: " + e.what());
  }
  // Before any other reading: the loader's own walk multiplies with aliases.
  try {
    YAML::Mark mark;
    if (std::string why = load::CheckExpansion(root, &mark); !why.empty()) {
      c.Error(mark, why);
      return Status::Invalid(c.Joined());
    }
  } catch (const std::exception& e) {
    return Status::Invalid(source + ":0:0: cannot read policy: " + e.what());
  }
  Policy p;
  p.source = source;
  bool have_version = false;
  if (!root.IsMap()) {
    c.Error(root.Mark(), "a policy must be a mapping with at least `version: 1`");
    return Status::Invalid(c.Joined());
  }
  try {
    c.ForEachKey(root, "the policy",
                 {"version", "filesystem_policy", "landlock", "process", "network", "gpu",
                  "network_policies", "network_middlewares", "source", "enforcement", "warnings",
                  "credentials"},
                 [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
                   if (key == "version") {
                     have_version = true;
                     if (auto ver = c.Integer(v, "version", 1, 1))
                       p.version = static_cast<int>(*ver);
                   } else if (key == "filesystem_policy") {
                     load::LoadFilesystem(c, v, p);
                   } else if (key == "landlock") {
                     load::LoadLandlock(c, v, p);
                   } else if (key == "process") {
                     load::LoadProcess(c, v, p);
                   } else if (key == "network") {
                     load::LoadNetwork(c, v, p);
                   } else if (key == "gpu") {
                     auto s = c.String(v, "gpu");
                     if (!s) return;
                     if (*s == "auto")
                       p.gpu = GpuMode::kAuto;
                     else if (*s == "on")
                       p.gpu = GpuMode::kOn;
                     else if (*s == "off")
                       p.gpu = GpuMode::kOff;
                     else
                       c.Error(v.Mark(), "gpu must be auto, on or off, not '" + *s + "'");
                   } else if (key == "network_policies") {
                     load::LoadNetworkPolicies(c, v, p);
                   } else if (key == "credentials") {
                     load::LoadCredentials(c, v, p);
                   } else if (key == "source" || key == "enforcement" || key == "warnings") {
                     // What `policy show` adds beside the policy (where it
                     // came from, each layer's status): its output is a
                     // policy again. Read by no one, so only the shape is
                     // checked.
                     if (key == "source" && !v.IsScalar())
                       c.Error(v.Mark(), "source (informational) must be a string");
                     if (key == "enforcement" && !v.IsMap())
                       c.Error(v.Mark(), "enforcement (informational) must be a mapping");
                     if (key == "warnings" && !v.IsSequence())
                       c.Error(v.Mark(), "warnings (informational) must be a list");
                   } else if (key == "network_middlewares") {
                     c.Error(k.Mark(),
                             "network_middlewares: not supported yet: supervisor middleware "
                             "(issue 25: L7 policy)");
                   }
                 });
  } catch (const std::exception& e) {
    c.Error(root.Mark(), std::string("cannot read policy: ") + e.what());
  }
  if (!have_version) c.Error(root.Mark(), "missing required key 'version' (must be 1)");
  if (!c.has_errors()) load::CheckCredentials(c, root, p);
  if (c.has_errors()) return Status::Invalid(c.Joined());
  p.warnings = c.TakeWarnings();
  return p;
}

Result<std::string> ReadPolicyText(const std::string& path) {
  const std::string what = "cannot read policy file " + path;
  // What the path is, before anything is read: a directory is refused; a
  // pipe (`--policy /dev/stdin`, `--policy <(generate)`) or a terminal is
  // read to its end like a file, waiting for its writer as any reader does;
  // the size limit below ends an endless one.
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::Errno(what);
  if (S_ISDIR(st.st_mode)) return Status::Invalid(what + ": is a directory");
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
    return Status::Invalid(what + ": not a file, pipe or terminal");
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return Status::Errno(what);
  if (fstat(fd.get(), &st) != 0) return Status::Errno(what);
  if (S_ISDIR(st.st_mode)) return Status::Invalid(what + ": is a directory");
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errno(what);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxPolicyBytes)
      return Status::Invalid(path + ": policy is larger than 4 MiB");
  }
  return text;
}

Result<Policy> LoadPolicyFile(const std::string& path) {
  auto text = ReadPolicyText(path);
  if (!text.ok()) return text.status();
  return LoadPolicyString(*text, path);
}

Status CheckHomeSetting(const std::string& home) {
  if (home == "per_run" || home == "persistent") return Status::Ok();
  const std::string what = "process.home must be per_run, persistent or an absolute path";
  if (home.empty() || home[0] != '/') return Status::Invalid(what + ", not '" + home + "'");
  // Granted read-write by name: the same spelling rules as read_write.
  auto ends_with = [&](std::string_view tail) {
    return home.size() >= tail.size() &&
           home.compare(home.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (home.find("//") != std::string::npos || home.find('\0') != std::string::npos ||
      home.find("/./") != std::string::npos || home.find("/../") != std::string::npos ||
      (home.size() > 1 && home.back() == '/') || ends_with("/..") || ends_with("/."))
    return Status::Invalid("process.home '" + home +
                           "' must be a plain absolute path (no '.', '..', '//' or trailing '/')");
  for (const auto& r : RefusedReadWritePaths())
    if (home == r.path)
      return Status::Invalid("process.home must not be '" + std::string(r.path) + "' (" + r.why +
                             ": the home is granted read-write)");
  return Status::Ok();
}

const std::vector<RefusedReadWrite>& RefusedReadWritePaths() {
  static const std::vector<RefusedReadWrite> kPaths = {{"/", "the whole host"}};
  return kPaths;
}

std::vector<std::string> DefaultProtectedPaths() {
  return {".git/hooks/", ".git/config", ".gitmodules", ".gitconfig", ".bashrc",   ".bash_profile",
          ".bash_login", ".profile",    ".zshrc",      ".zprofile",  ".zshenv",   ".ssh/",
          ".vscode/",    ".idea/",      ".claude/",    ".codex/",    ".mcp.json", ".cursor/"};
}

}  // namespace rf
