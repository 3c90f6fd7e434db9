#include "sandbox/user_lookup.h"

#include <grp.h>
#include <pwd.h>

#include "common/file.h"

namespace rf {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

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

// The entry of `file` for `name` when nsswitch.conf puts plain files first
// for `database`; nothing: NSS answers.
std::optional<unsigned long> FromFilesFirst(const char* file, const char* database,
                                            const std::string& name) {
  // A name with a field or line separator would match another field or
  // line here; NSS answers for it.
  if (name.empty() || name.find_first_of(std::string(":\n\0", 3)) != std::string::npos)
    return std::nullopt;
  constexpr size_t kLimit = 1u << 20;
  auto nss = ReadSmallFile("/etc/nsswitch.conf", kLimit);
  if (!nss.ok() || !FilesFirstInNsswitch(*nss, database)) return std::nullopt;
  auto text = ReadSmallFile(file, kLimit);
  if (!text.ok()) return std::nullopt;
  return IdInFilesDatabase(*text, name);
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

// The id `name` stands for without asking NSS: a decimal id (an error when
// out of range) or the files entry (FromFilesFirst); nothing: ask NSS.
Result<std::optional<unsigned long>> IdWithoutNss(const std::string& name, const char* field,
                                                  const char* file, const char* database) {
  if (IsNumeric(name)) {
    auto id = NumericId(name, field);
    if (!id.ok()) return id.status();
    return std::optional<unsigned long>(*id);
  }
  return FromFilesFirst(file, database, name);
}

}  // namespace

bool FilesFirstInNsswitch(std::string_view nsswitch, std::string_view database) {
  bool files_first = false;
  AnyLine(nsswitch, [&](std::string_view line) {
    line = line.substr(0, line.find('#'));
    while (!line.empty() && IsBlank(line.front())) line.remove_prefix(1);
    if (line.substr(0, database.size()) != database) return false;
    line.remove_prefix(database.size());
    while (!line.empty() && IsBlank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() != ':') return false;
    line.remove_prefix(1);
    while (!line.empty() && IsBlank(line.front())) line.remove_prefix(1);
    size_t end = 0;
    while (end < line.size() && !IsBlank(line[end]) && line[end] != '[') ++end;
    std::string_view rest = line.substr(end);
    while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
    // `files` with its default actions: a found entry is the answer.
    files_first = line.substr(0, end) == "files" && (rest.empty() || rest.front() != '[');
    return true;  // the first line for the database decides
  });
  return files_first;
}

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
      return true;  // malformed: leave it to NSS
    unsigned long v = 0;
    for (char ch : field) v = v * 10 + static_cast<unsigned long>(ch - '0');
    if (v <= 0xffffffffUL) id = v;
    return true;
  });
  return id;
}

Result<uid_t> LookupUser(const std::string& name) {
  auto id = IdWithoutNss(name, "process.run_as_user", "/etc/passwd", "passwd");
  if (!id.ok()) return id.status();
  if (*id) return static_cast<uid_t>(**id);
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res)
    return Status::Error("process.run_as_user '" + name + "' does not exist on this host");
  return pw.pw_uid;
}

Result<gid_t> LookupGroup(const std::string& name) {
  auto id = IdWithoutNss(name, "process.run_as_group", "/etc/group", "group");
  if (!id.ok()) return id.status();
  if (*id) return static_cast<gid_t>(**id);
  struct group gr, *res = nullptr;
  char buf[4096];
  if (getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res)
    return Status::Error("process.run_as_group '" + name + "' does not exist on this host");
  return gr.gr_gid;
}

}  // namespace rf
