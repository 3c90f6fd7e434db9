// The control side of one `ringfence run` (docs/live-policy.md): its id,
// its control socket and the live policy it serves (`ps`, `policy set`,
// `policy update`, SIGHUP, `events`).
//
// A change is planned first (control/live_policy.h), then applied through
// `apply` (the proxy's rules), then recorded; a change that fails at either
// step leaves the running policy as it was. Every outcome is an audit event
// of layer "control" with the digests of the old and new policy texts.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/audit.h"
#include "common/status.h"
#include "control/control.h"
#include "policy/policy.h"

namespace rf::control {

struct SessionInfo {
  std::string id;
  std::string command;      // as given
  std::string mode;         // the network mode in force
  std::string policy_file;  // "" = the embedded default
  std::string policy_text;  // what is in force at the start
  // Whether SIGHUP reloads policy_file (a regular file; never a FIFO,
  // which a reload would wait on).
  bool reloadable = false;
  // Why SIGHUP must not reload it ("" when it may): a file the sandbox can
  // write would let it choose its own rules.
  std::string reload_refusal;
};

class Session {
 public:
  // Applies a planned policy's dynamic part to the running services.
  using Apply = std::function<Status(const Policy&)>;
  // Total refusals so far (for `ps`).
  using Denials = std::function<uint64_t()>;

  // Serves the control socket in `dir` and streams `audit`'s events to its
  // subscribers until Stop().
  static Result<std::unique_ptr<Session>> Start(const std::string& dir, SessionInfo info,
                                                AuditSink* audit, Apply apply, Denials denials);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void SetCommandPid(pid_t pid);
  // The socket to watch, and what to call at its first connection (the
  // serving thread starts then: Server::Serve).
  int listener_fd() const { return server_->listener_fd(); }
  void Serve() { server_->Serve(); }
  // SIGHUP: policy_file read again and set, as `policy set` would.
  void Reload();
  // The socket removed, subscribers given what is left (bounded).
  void Stop();
  const std::string& socket_path() const { return server_->path(); }

  // One request (`op` set, update or reload; text and source for the first
  // two), as the socket's handler and SIGHUP call it. The answer: {"ok":
  // true, "old_sha256", "new_sha256"} or {"ok": false, "error"}.
  nlohmann::json Change(const std::string& op, const std::string& text, const std::string& source,
                        const Peer* peer);

 private:
  Session() = default;
  nlohmann::json Handle(const nlohmann::json& request, const Peer& peer);

  SessionInfo info_;
  AuditSink* audit_ = nullptr;
  Apply apply_;
  Denials denials_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;  // one change at a time; guards the fields below
  std::string text_;
  pid_t command_pid_ = 0;
  std::string started_;  // RFC 3339, UTC
  uint64_t changes_ = 0;
};

}  // namespace rf::control
