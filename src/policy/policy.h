// The validated policy model. Field names follow NVIDIA OpenShell's sandbox
// policy (filesystem_policy, landlock, process, network_policies) plus the
// ringfence extensions `network` and `gpu`. See docs/policy.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rf {

enum class Compatibility { kBestEffort, kHardRequirement };
enum class NetMode { kAuto, kNamespace, kPlatform, kNone, kHost };
enum class GpuMode { kAuto, kOn, kOff };

const char* ToString(Compatibility c);
const char* ToString(NetMode m);
const char* ToString(GpuMode g);
std::optional<NetMode> ParseNetMode(const std::string& s);

// What `filesystem_policy.protected` is when a policy does not set it: the
// files another program (git, a shell, an editor, an agent) later runs or
// trusts outside any sandbox. A trailing '/' marks a directory.
std::vector<std::string> DefaultProtectedPaths();

struct FilesystemPolicy {
  bool include_workdir = true;
  std::vector<std::string> read_only;
  std::vector<std::string> read_write;
  // Ringfence extensions (docs/policy.md, "Protected paths"): globs that
  // stay read-only inside every read-write grant, and globs inside any grant
  // that cannot be read. Relative patterns match at any depth below a grant;
  // absolute ones name host paths.
  std::vector<std::string> protected_paths = DefaultProtectedPaths();
  std::vector<std::string> deny_read;
  // ringfence: size of the sandbox's own tmpfs on /tmp (namespace mode), as
  // tmpfs's size= option takes it ("512m", "2g", "25%"); empty: tmpfs's
  // default (half of RAM).
  std::string tmp_size;
  // Set by the GPU baseline on the host's /proc, never from YAML: the
  // command's own /proc/<pid>/task is writable (thread names), not /proc.
  bool own_task_dir_writable = false;
  bool operator==(const FilesystemPolicy&) const = default;
};

// ringfence: resource limits of the whole sandbox (docs/long-runs.md,
// "Limits"). Unset = no limit. How each is held (a cgroup of the sandbox's
// own, an rlimit, the supervisor) is decided at run time (src/sandbox/limits.h).
struct ProcessLimits {
  std::optional<uint64_t> memory;      // bytes
  std::optional<uint64_t> processes;   // tasks (processes and threads)
  std::optional<double> cpu;           // cores (1.5 = one and a half CPUs' time)
  std::optional<uint64_t> wall_time;   // seconds
  std::optional<uint64_t> file_size;   // bytes, largest file the sandbox may write
  std::optional<uint64_t> open_files;  // descriptors per process
  bool empty() const {
    return !memory && !processes && !cpu && !wall_time && !file_size && !open_files;
  }
  bool operator==(const ProcessLimits&) const = default;
};

// The default policy's cap on the sandbox's processes and threads (a fork
// bomb stops there); docs/long-runs.md says why this figure.
inline constexpr uint64_t kDefaultProcessesLimit = 4096;

// ringfence: which of the caller's environment variables the command gets
// (docs/process.md, "Environment"; the rules are in
// src/sandbox/environment.h). Patterns are globs on names, case-insensitive.
enum class EnvInherit { kAll, kCore, kNone };
const char* ToString(EnvInherit e);
std::optional<EnvInherit> ParseEnvInherit(const std::string& s);
struct EnvironmentPolicy {
  EnvInherit inherit = EnvInherit::kAll;
  std::vector<std::string> include;  // passed even when secret-shaped or outside inherit
  std::vector<std::string> exclude;  // never passed (wins over include)
  bool operator==(const EnvironmentPolicy&) const = default;
};

struct ProcessPolicy {
  std::string run_as_user = "nobody";
  std::string run_as_group = "nogroup";
  // Given in the policy (not the default): started as root in a working
  // directory owned by another user, the sandbox runs as that owner unless
  // the policy names the user (docs/policy.md, "process").
  bool run_as_user_given = false;
  bool run_as_group_given = false;
  // The command's HOME: "per_run" (a directory made for the run, removed
  // after), "persistent" (one per working directory and sandbox user, kept
  // between runs) or an absolute path.
  std::string home = "per_run";
  bool sysv_ipc = false;
  ProcessLimits limits;
  EnvironmentPolicy environment;
  bool operator==(const ProcessPolicy&) const = default;
};

struct NetworkSettings {
  NetMode mode = NetMode::kAuto;
  uint16_t proxy_port = 0;  // 0 = ephemeral
  std::vector<uint16_t> loopback_ports;
  std::vector<uint16_t> bind_ports;
  std::map<std::string, std::string> hosts;  // static resolution: name -> address
  std::vector<std::string> unix_sockets;
  bool unix_datagram = false;  // allow AF_UNIX SOCK_DGRAM (see docs/unix-sockets.md)
  std::string upstream_proxy;  // "" (off), "from_env" or an http:// URL (src/proxy/upstream.h)
  // An extra trust anchor (PEM file) for the inspecting proxy's TLS to
  // destinations, beside the system roots (docs/l7.md).
  std::string upstream_ca;
  bool operator==(const NetworkSettings&) const = default;
};

// One L7 rule (OpenShell's REST/WebSocket allow or deny entry).
struct L7QueryMatcher {
  std::string name;
  std::vector<std::string> globs;  // a value matches one of them
  bool operator==(const L7QueryMatcher&) const = default;
};
struct L7Rule {
  std::string method;
  std::string path;
  std::vector<L7QueryMatcher> query;
  // protocol: mcp: `tool` and `params.name`, globs for tools/call's
  // params.name (empty: not given).
  std::vector<std::string> tool = {};
  std::vector<std::string> params_name = {};
  // GraphQL operation rule fields (protocol: graphql, or websocket).
  bool graphql = false;  // operation_type given
  std::string operation_type, operation_name;
  std::vector<std::string> fields;
  bool operator==(const L7Rule&) const = default;
};
// A graphql_persisted_queries entry: the operation a hash stands for.
struct L7PersistedQuery {
  std::string key;
  L7Rule operation;
  bool operator==(const L7PersistedQuery&) const = default;
};
// An endpoint's GraphQL options (protocol: graphql, or websocket).
struct L7Graphql {
  std::string persisted_queries;           // "", deny, allow_registered
  std::vector<L7PersistedQuery> registry;  // graphql_persisted_queries
  long max_body_bytes = 65536;             // graphql_max_body_bytes
  bool operator==(const L7Graphql&) const = default;
};

// An endpoint's credential fields (docs/credentials.md):
// `credential_binding.provider`, the opt-in to carry credentials where they
// cannot be inspected, and the opt-in to rewrite placeholders in bodies.
struct EndpointCredentials {
  std::string binding;
  bool allow_uninspected = false;
  bool body_rewrite = false;
  bool operator==(const EndpointCredentials&) const = default;
};

// protocol: mcp (`mcp:`) and json-rpc (`json_rpc:`) endpoint options.
struct RpcOptions {
  long max_body_bytes = 65536;  // request bodies buffered for inspection
  bool strict_tool_names = true;
  bool allow_all_known_methods = false;
  std::string section;  // "mcp" or "json_rpc" when that section is present
  bool operator==(const RpcOptions&) const = default;
};

struct Endpoint {
  std::string host;
  std::vector<uint16_t> ports;           // from `port` or `ports`
  std::vector<std::string> allowed_ips;  // CIDRs
  std::string protocol;                  // "" (L4), rest, websocket, mcp, json-rpc (docs/l7.md)
  std::string enforcement;               // "", "enforce" or "audit"
  std::string access;                    // "", read-only, read-write, full
  std::string tls;                       // "", skip (terminate/passthrough: no effect)
  std::string path;                      // selector glob between endpoints of a host:port
  bool has_l7_rules = false;             // rules / deny_rules present
  std::vector<L7Rule> rules;             // allow rules
  std::vector<L7Rule> deny_rules;
  bool allow_encoded_slash = false;
  EndpointCredentials credentials;
  RpcOptions rpc;
  L7Graphql graphql;
  bool operator==(const Endpoint&) const = default;
};

struct Binary {
  std::string path;  // exact or glob (`*`, `**`)
  bool operator==(const Binary&) const = default;
};

struct NetworkPolicy {
  std::string key;   // map key under network_policies
  std::string name;  // `name` field (defaults to the key)
  std::vector<Endpoint> endpoints;
  std::vector<Binary> binaries;  // empty = any binary in the sandbox
  bool operator==(const NetworkPolicy&) const = default;
};

// ringfence: a credential whose real value stays in the supervisor; the
// command sees a placeholder, the proxy puts the value on the wire only at
// the endpoints it is bound to (docs/credentials.md).
struct CredentialEndpoint {
  std::string host;  // exact name or a `*.` wildcard, as endpoint hosts
  uint16_t port = 0;
  std::string path;  // glob; empty: every path
  bool operator==(const CredentialEndpoint&) const = default;
};
struct Credential {
  std::string name;      // the variable the command sees (holding the placeholder)
  std::string from;      // "env:VAR" or "file:PATH"
  std::string provider;  // what credential_binding.provider names (defaults to `name`)
  std::vector<CredentialEndpoint> endpoints;
  bool operator==(const Credential&) const = default;
};

// Where values stood in the file ("file:line:col" by field path), for
// messages about them made after loading (a run_as_user this host does not
// have). Not part of a policy's meaning: equality ignores it.
struct SourceMarks {
  std::map<std::string, std::string> at;
  bool operator==(const SourceMarks&) const { return true; }
};

struct Policy {
  int version = 1;
  std::string source;  // file name, or "<embedded default>"
  SourceMarks marks;
  // "file:line:col: warning: ..." lines: valid, but probably not meant.
  std::vector<std::string> warnings;
  FilesystemPolicy filesystem;
  Compatibility compatibility = Compatibility::kBestEffort;
  ProcessPolicy process;
  NetworkSettings network;
  GpuMode gpu = GpuMode::kAuto;
  std::vector<NetworkPolicy> network_policies;
  std::vector<Credential> credentials;
  bool operator==(const Policy&) const = default;
};

}  // namespace rf
