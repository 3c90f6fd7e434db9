#include "sandbox/user_lookup.h"

#include "common/file.h"

namespace rf {

namespace {

// Calls f(line) for each line of `text` until f returns true.
template <typename F>
bool AnyLine(std::string_view text, F f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (f(line)) return true;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return false;
}

bool IsNumeric(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A decimal id, or an error naming the field: (uid_t)-1 and beyond are not
// ids (setresuid would read -1 as "unchanged").
Result<unsigned long> NumericId(const std::string& s, const char* field) {
  if (s.size() <= 10) {
    unsigned long v = std::stoul(s);
    if (v < 0xffffffffUL) return v;
  }
  return Status::Error(std::string(field) + " '" + s + "' is not a valid id (0-4294967294)");
}

// The id `name` stands for: a decimal id, or the entry of `file` (the files
// database of `field`). Errors name the field and say where ringfence looked.
Result<unsigned long> LookupId(const std::string& name, const char* field, const char* file) {
  if (IsNumeric(name)) return NumericId(name, field);
  const std::string what = std::string(field) + " '" + name + "'";
  // A name with a field or line separator would match another field or line.
  if (name.empty() || name.find_first_of(std::string(":\n\0", 3)) != std::string::npos)
    return Status::Error(what + " is not a valid user or group name");
  constexpr size_t kLimit = 64u << 20;
  auto text = ReadSmallFile(file, kLimit);
  if (!text.ok()) return text.status().With(what + ": cannot read " + file);
  auto id = IdInFilesDatabase(*text, name);
  if (!id)
    return Status::Error(what + " does not exist on this host (not in " + file +
                         "; ringfence does not consult other NSS sources: use a numeric id "
                         "or add the account)");
  return *id;
}

}  // namespace

std::optional<unsigned long> IdInFilesDatabase(std::string_view text, std::string_view name) {
  std::optional<unsigned long> id;
  AnyLine(text, [&](std::string_view line) {
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ':')
      return false;
    line.remove_prefix(name.size() + 1);
    size_t c = line.find(':');  // skip the password field
    if (c == std::string_view::npos) return true;
    line.remove_prefix(c + 1);
    std::string_view field = line.substr(0, line.find(':'));
    if (field.empty() || field.size() > 10 ||
        field.find_first_not_of("0123456789") != std::string_view::npos)
      return true;  // malformed: no id
    unsigned long v = 0;
    for (char ch : field) v = v * 10 + static_cast<unsigned long>(ch - '0');
    if (v <= 0xffffffffUL) id = v;
    return true;
  });
  return id;
}

std::optional<unsigned long> PrimaryGidInPasswd(std::string_view text, unsigned long uid) {
  auto number = [](std::string_view f) -> std::optional<unsigned long> {
    if (f.empty() || f.size() > 10 || f.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    unsigned long v = 0;
    for (char ch : f) v = v * 10 + static_cast<unsigned long>(ch - '0');
    if (v >= 0xffffffffUL) return std::nullopt;
    return v;
  };
  std::optional<unsigned long> gid;
  AnyLine(text, [&](std::string_view line) {
    std::string_view f[4];
    for (int i = 0; i < 4; ++i) {
      size_t c = line.find(':');
      if (c == std::string_view::npos) {
        if (i < 3) return false;
        f[i] = line;
        break;
      }
      f[i] = line.substr(0, c);
      line.remove_prefix(c + 1);
    }
    if (number(f[2]) != uid) return false;
    gid = number(f[3]);
    return true;
  });
  return gid;
}

std::optional<gid_t> PrimaryGidOf(uid_t uid) {
  auto text = ReadSmallFile("/etc/passwd", 64u << 20);
  if (!text.ok()) return std::nullopt;
  auto gid = PrimaryGidInPasswd(*text, uid);
  if (!gid) return std::nullopt;
  return static_cast<gid_t>(*gid);
}

Result<uid_t> LookupUser(const std::string& name) {
  auto id = LookupId(name, "process.run_as_user", "/etc/passwd");
  if (!id.ok()) return id.status();
  return static_cast<uid_t>(*id);
}

Result<gid_t> LookupGroup(const std::string& name) {
  auto id = LookupId(name, "process.run_as_group", "/etc/group");
  if (!id.ok()) return id.status();
  return static_cast<gid_t>(*id);
}

}  // namespace rf
