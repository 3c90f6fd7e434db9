#include "audit/ocsf.h"

#include <arpa/inet.h>

#include <map>

#include "common/version.h"

namespace rf {

namespace {

// Category and class numbers, OCSF 1.x.
constexpr int kSystem = 1, kNetwork = 4;
constexpr int kFileActivity = 1001, kProcessActivity = 1007;
constexpr int kNetworkActivity = 4001, kHttpActivity = 4002;
constexpr int kOther = 99;

std::string Str(const nlohmann::json& extra, const char* key) {
  auto it = extra.find(key);
  return it != extra.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "host:port", "[v6]:port", "bind IP:PORT", "unix:/path": the endpoint the
// event is about, with at least one of the fields OCSF asks an endpoint
// for (ip, hostname or name).
nlohmann::json Endpoint(const AuditEvent& e) {
  nlohmann::json ep = nlohmann::json::object();
  std::string host = Str(e.extra, "host");
  int port = -1;
  if (auto it = e.extra.find("port"); it != e.extra.end() && it->is_number_integer())
    port = it->get<int>();
  std::string subject = e.subject;
  if (subject.rfind("bind ", 0) == 0) subject = subject.substr(5);
  if (subject.rfind("unix:", 0) == 0) {
    ep["name"] = subject;
    return ep;
  }
  if (host.empty()) {
    size_t colon = subject.rfind(':');
    if (colon != std::string::npos && colon + 1 < subject.size() &&
        subject.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
        subject.size() - colon - 1 <= 5) {
      host = subject.substr(0, colon);
      port = std::stoi(subject.substr(colon + 1));
    } else {
      host = subject;
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
  }
  if (IsIp(host)) {
    ep["ip"] = host;
  } else if (!host.empty()) {
    ep["hostname"] = host;
  } else {
    ep["name"] = e.subject.empty() ? "-" : e.subject;
  }
  std::string address = Str(e.extra, "address");
  if (!ep.contains("ip") && IsIp(address)) ep["ip"] = address;
  if (port >= 0) ep["port"] = port;
  return ep;
}

// The process an event names (the caller of a connection, the refused
// process), or none.
nlohmann::json CallerProcess(const AuditEvent& e) {
  nlohmann::json p = nlohmann::json::object();
  if (auto it = e.extra.find("pid"); it != e.extra.end() && it->is_number_integer())
    p["pid"] = it->get<int64_t>();
  std::string exe = Str(e.extra, "binary");
  if (exe.empty() || exe == "unknown") exe = Str(e.extra, "exe");
  if (!exe.empty() && exe != "unknown") {
    p["file"] = {{"path", exe}, {"name", Basename(exe)}, {"type_id", 1}};
    p["name"] = Basename(exe);
  }
  if (std::string comm = Str(e.extra, "comm"); !comm.empty()) p["name"] = comm;
  return p;
}

int HttpActivity(const std::string& method) {
  static const std::map<std::string, int> kMethods = {{"CONNECT", 1}, {"DELETE", 2},  {"GET", 3},
                                                      {"HEAD", 4},    {"OPTIONS", 5}, {"POST", 6},
                                                      {"PUT", 7},     {"TRACE", 8},   {"PATCH", 9}};
  auto it = kMethods.find(method);
  return it == kMethods.end() ? kOther : it->second;
}

// Landlock's refused right as a file system activity.
int FileActivity(const std::string& access) {
  if (access == "read_file" || access == "read_dir") return 2;                // Read
  if (access == "write_file" || access == "truncate") return 3;               // Update
  if (access.rfind("make_", 0) == 0) return 1;                                // Create
  if (access.rfind("remove_", 0) == 0) return 4;                              // Delete
  if (access == "refer") return 5;                                            // Rename
  if (access == "execute" || access == "ioctl_dev") return 14;                // Open
  if (access == "chmod" || access == "chown" || access == "xattr") return 6;  // Set Attributes
  return kOther;
}

}  // namespace

nlohmann::json OcsfRecord(const AuditEvent& e, int64_t time_ms, const std::string& hostname,
                          int supervisor_pid) {
  const bool deny = e.action == "deny";
  const bool allow = e.action == "allow" || e.action == "start" || e.action == "exit";
  const bool would_deny = e.action == "would_deny";
  const bool failure = e.action == "error" || e.action == "setup_failed" || e.action == "invalid" ||
                       e.action == "unreadable";
  nlohmann::json r = nlohmann::json::object();
  int category = kSystem, cls = kProcessActivity, activity = kOther;

  nlohmann::json caller = CallerProcess(e);
  if (e.layer == "http") {
    category = kNetwork, cls = kHttpActivity;
    const std::string method = Str(e.extra, "method");
    activity = HttpActivity(method);
    nlohmann::json url = {{"path", Str(e.extra, "path")}};
    if (std::string h = Str(e.extra, "host"); !h.empty()) url["hostname"] = h;
    if (auto it = e.extra.find("port"); it != e.extra.end() && it->is_number_integer())
      url["port"] = *it;
    r["http_request"] = {{"http_method", method.empty() ? "-" : method}, {"url", url}};
    if (auto it = e.extra.find("status"); it != e.extra.end() && it->is_number_integer())
      r["http_response"] = {{"code", *it}};
    r["dst_endpoint"] = Endpoint(e);
  } else if (e.layer == "proxy" || e.layer == "network") {
    category = kNetwork, cls = kNetworkActivity;
    // Open for an allowed connection, Refuse for a refused one, Listen for
    // a bind the guard made, Fail for the proxy's errors.
    const bool bind = e.subject.rfind("bind", 0) == 0;
    activity = deny ? 5 : bind && allow ? 7 : allow ? 1 : failure ? 4 : kOther;
    r["dst_endpoint"] = Endpoint(e);
  } else if ((e.layer == "landlock" && e.action == "deny") || e.layer == "filesystem") {
    category = kSystem, cls = kFileActivity;
    std::string access;
    if (auto it = e.extra.find("access"); it != e.extra.end()) {
      if (it->is_array() && !it->empty() && it->front().is_string())
        access = it->front().get<std::string>();
      else if (it->is_string())
        access = it->get<std::string>();
    }
    // The metadata guard says the call in its reason ("chmod: ...").
    if (access.empty()) access = e.reason.substr(0, e.reason.find(':'));
    activity = FileActivity(access);
    const std::string path = Str(e.extra, "path").empty() ? e.subject : Str(e.extra, "path");
    r["file"] = {{"path", path},
                 {"name", Basename(path).empty() ? path : Basename(path)},
                 {"type_id", access == "read_dir" || access.rfind("make_dir", 0) == 0 ? 2 : 0}};
  } else {
    category = kSystem, cls = kProcessActivity;
    if (e.layer == "process" && e.action == "start") activity = 1;  // Launch
    if (e.layer == "process" && e.action == "exit") activity = 2;   // Terminate
    nlohmann::json proc = caller;
    if (e.layer == "process") {
      proc = nlohmann::json::object();
      if (auto it = e.extra.find("pid"); it != e.extra.end()) proc["pid"] = *it;
      proc["cmd_line"] = e.subject;
      if (auto it = e.extra.find("exit_code"); it != e.extra.end()) r["exit_code"] = *it;
    }
    if (proc.empty()) proc = {{"pid", supervisor_pid}, {"name", "ringfence"}};
    r["process"] = proc;
  }

  // The actor: the calling process where the event names one, else the
  // supervisor (process lifecycle, policy and set-up events).
  nlohmann::json actor = (e.layer == "process" || caller.empty())
                             ? nlohmann::json{{"pid", supervisor_pid}, {"name", "ringfence"}}
                             : caller;
  r["actor"] = {{"process", actor}};
  if (category == kNetwork) r["src_endpoint"] = {{"hostname", hostname}, {"name", "sandbox"}};

  r["metadata"] = {
      {"version", kOcsfVersion},
      {"product",
       {{"name", "ringfence"}, {"vendor_name", "ringfence"}, {"version", RINGFENCE_VERSION}}},
      {"log_name", "ringfence audit"}};
  r["time"] = time_ms;
  r["category_uid"] = category;
  r["class_uid"] = cls;
  r["activity_id"] = activity;
  r["type_uid"] = cls * 100 + activity;
  r["severity_id"] = deny ? 3 : failure ? 4 : e.action == "degraded" ? 2 : 1;
  r["status_id"] = deny || failure ? 2 : allow || would_deny ? 1 : 0;
  if (deny || allow || would_deny) {
    r["action_id"] = deny ? 2 : 1;  // Denied / Allowed
    // A would-be denial under `enforcement: audit` went through: Logged.
    r["disposition_id"] = deny ? 2 : would_deny ? 17 : 1;  // Blocked / Logged / Allowed
  }
  r["message"] = e.reason;
  r["status_detail"] = e.reason;
  r["device"] = {{"hostname", hostname}, {"type_id", 0}};
  nlohmann::json original = e.extra;
  original["layer"] = e.layer;
  original["action"] = e.action;
  original["subject"] = e.subject;
  r["unmapped"] = {{"ringfence", original}};
  return r;
}

}  // namespace rf
