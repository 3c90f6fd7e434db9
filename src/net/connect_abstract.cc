// The connect guard's abstract unix addresses where abstract names are the
// host's (platform mode): allowed when a sandbox process serves the name,
// or (without Landlock's abstract scope) when network.unix_sockets lists
// it; connected on the command's behalf to the name the guard checked.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "net/connect_guard.h"
#include "net/guard_io.h"
#include "net/sockaddr_parse.h"
#include "net/unix_diag.h"

namespace rf {

void ConnectGuard::HandleAbstract(const struct seccomp_notif& req, const std::string& name) {
  const int listener = listener_.get();
  const std::string shown = ShownAbstract(name);
  if (!IdValid(listener, req.id)) return;
  if (ConnectOwnAbstract(req, name)) return;
  std::string why_allowed;
  if (const std::string* entry = FirstListedAbstract(cfg_.unix_allowed, shown))
    why_allowed = "network.unix_sockets: " + *entry;
  if (why_allowed.empty() || cfg_.abstract_scoped) {
    why_allowed.clear();
    auto listeners = WithDiag([&](int diag) { return ListenersNamed(diag, name); });
    if (listeners.ok() && !listeners->empty() && HeldByAny(ProcessTree(root_), *listeners))
      why_allowed = "served by the sandbox";
  }
  if (why_allowed.empty()) {
    ++denied_;
    audit_->Emit({"network",
                  "deny",
                  "unix:" + shown,
                  cfg_.abstract_scoped
                      ? "abstract unix socket not served by the sandbox (Landlock scope)"
                      : "abstract unix socket not in network.unix_sockets (no Landlock scope on "
                        "this kernel)",
                  {{"pid", req.pid}}});
    Respond(listener, req.id, EPERM, false);  // what Landlock's scope answers
    return;
  }
  // Connect on the command's behalf to the name we checked: a racing thread
  // rewriting the address cannot redirect it.
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  memcpy(to.sun_path + 1, name.data(), name.size());
  ConnectUnixOnBehalf(req, to,
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()),
                      "unix:" + shown, why_allowed);
}

}  // namespace rf
