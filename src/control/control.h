// A running sandbox's control socket (docs/live-policy.md).
//
// Each `ringfence run` is a sandbox with a short random id. Its supervisor
// serves a unix stream socket ID.sock in a control directory only its owner
// can enter: BASE/control, where BASE is /run/ringfence when started as
// root, else $XDG_RUNTIME_DIR/ringfence, else /tmp/ringfence-UID (BASE
// 0711 as for the per-run directories; control made 0700, and used only
// when it is a real directory owned by that uid with no access for others). The sandbox never
// reaches it: the command runs as another uid (as root), or Landlock does not grant it and the
// connect guard refuses every unix connect to a socket in it, whatever network.unix_sockets says.
//
// Protocol: the client sends one JSON object on one line ({"op": ...}),
// the server answers with one JSON line ({"ok": true, ...} or {"ok": false,
// "error": "..."}); `events` answers with event lines, then (follow) the
// live ones until the sandbox ends. Every request is checked against the
// peer's credentials (SO_PEERCRED): only the sandbox's owner or root.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace rf::control {

// 12 lower-case hex digits from getrandom().
Result<std::string> NewSandboxId();
// Whether `id` has that form (it names a file: nothing else is accepted).
bool ValidSandboxId(const std::string& id);

// The control directory for the calling user, made when `create` (0700)
// and checked either way: a directory (not a link), owned by this uid,
// nothing for group and others.
Result<std::string> ControlDir(bool create);
std::string SocketPath(const std::string& dir, const std::string& id);

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class Server {
 public:
  // The answer to one request: `info` (ps), `set`/`update`/`reload` (live
  // policy). Called on the server's thread; returns the reply object (its
  // "ok" is set by the server when missing).
  using Handler = std::function<nlohmann::json(const nlohmann::json& request, const Peer& peer)>;

  // Binds DIR/ID.sock (0600); Serve() starts the thread that serves it,
  // until Stop(), which removes it. Like the proxy's threads, it starts on
  // first use (a pending connection on listener_fd()): a run nobody asks
  // about never pays for it. A connection made before waits in the backlog.
  static Result<std::unique_ptr<Server>> Start(const std::string& dir, const std::string& id,
                                               Handler handler);
  int listener_fd() const { return listener_.get(); }
  void Serve();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // One audit event line (with its newline) for the `events` subscribers
  // and the replay of recent ones. Any thread; never blocks: a subscriber
  // that does not keep up loses lines (it is told how many at the end).
  void Publish(const std::string& line);
  void Stop();
  const std::string& path() const { return path_; }

  // Recent events kept for `events` (without --follow, and before the live
  // ones with it).
  static constexpr size_t kReplay = 1000;

 private:
  struct Subscriber {
    UniqueFd fd;
    std::string out;  // lines waiting for room on its socket
    uint64_t dropped = 0;
    bool once = false;  // no follow: closed once `out` is sent
    bool dead = false;
  };
  Server() = default;
  void Loop();
  void Serve(UniqueFd client);

  std::string path_;
  UniqueFd listener_, wake_;
  Handler handler_;
  uid_t owner_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::deque<std::string> recent_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
};

// The client side: one request, one answer (bounded waits).
Result<nlohmann::json> Call(const std::string& socket_path, const nlohmann::json& request,
                            int timeout_ms);
// `events`: the replayed and (follow) live lines written to `out_fd` as
// they come, until the server closes.
Status Stream(const std::string& socket_path, bool follow, int out_fd);

}  // namespace rf::control
