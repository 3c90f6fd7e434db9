#include "control/control.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "common/json_text.h"

namespace rf::control {

namespace {

constexpr size_t kIdBytes = 6;
// A request holds at most a policy file (4 MiB) as a JSON string.
constexpr size_t kMaxRequest = 16u << 20;
// How long one client may take to send its request or take its answer: the
// server serves one at a time, so a client that stalls holds the others up
// for at most this long.
constexpr int kClientMs = 5000;
// What a subscriber may have waiting before lines are dropped for it.
constexpr size_t kMaxBuffered = 1u << 20;
// At the end of the run: how long subscribers get to take what is waiting.
constexpr int kFinalFlushMs = 1000;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Whether `path` is a directory (not a link) owned by `uid` that group and
// others cannot use at all.
Status CheckPrivateDir(const std::string& path, uid_t uid) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return Status::Errno("control directory ", path);
  if (!S_ISDIR(st.st_mode))
    return Status::Permission("control directory " + path + " is not a directory");
  if (st.st_uid != uid)
    return Status::Permission("control directory " + path + " is owned by uid " +
                              std::to_string(st.st_uid) + ", not " + std::to_string(uid));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    snprintf(mode, sizeof mode, "%o", st.st_mode & 0777);
    return Status::Permission("control directory " + path + " is open to group or others (mode " +
                              mode + "): it must be 0700");
  }
  return Status::Ok();
}

bool OwnedDir(const char* path, uid_t uid) {
  struct stat st;
  return path && path[0] == '/' && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid;
}

Status SendAll(int fd, const std::string& data, int timeout_ms) {
  size_t done = 0;
  const int64_t deadline = NowMs() + timeout_ms;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return Status::Errno("control socket send");
    const int64_t left = deadline - NowMs();
    struct pollfd p = {fd, POLLOUT, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
      return Status::Unavailable("control socket: the other side takes nothing");
  }
  return Status::Ok();
}

// One line (without its newline), within `max` bytes and `timeout_ms`;
// what came after it in `rest`.
Result<std::string> ReadLine(int fd, size_t max, int timeout_ms, std::string* rest = nullptr) {
  std::string buf;
  const int64_t deadline = NowMs() + timeout_ms;
  char chunk[65536];
  for (;;) {
    size_t nl = buf.find('\n');
    if (nl != std::string::npos) {
      if (rest) *rest = buf.substr(nl + 1);
      return buf.substr(0, nl);
    }
    if (buf.size() > max) return Status::Invalid("control socket: line too long");
    ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return Status::Unavailable("control socket: closed before a whole line");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Status::Errno("control socket recv");
    const int64_t left = deadline - NowMs();
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
      return Status::Unavailable("control socket: no answer within " +
                                 std::to_string(timeout_ms / 1000) + " s");
  }
}

Result<UniqueFd> Dial(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Status::Invalid("control socket path too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Errno("socket");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Status::Errno("cannot reach ", path);
  return fd;
}

}  // namespace

Result<std::string> NewSandboxId() {
  unsigned char b[kIdBytes];
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    return Status::Errno("getrandom (sandbox id)");
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char c : b) {
    id += kHex[c >> 4];
    id += kHex[c & 15];
  }
  return id;
}

bool ValidSandboxId(const std::string& id) {
  if (id.size() != kIdBytes * 2) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> ControlDir(bool create) {
  const uid_t uid = geteuid();
  // The same base directories as the per-run ones (src/sandbox/private_tmp.cc:
  // 0711, so the sandbox's user can reach its own home there); the control
  // sockets get a subdirectory of their own that nobody else can enter.
  std::string base;
  if (uid == 0) {
    base = "/run/ringfence";
  } else if (const char* xdg = getenv("XDG_RUNTIME_DIR"); OwnedDir(xdg, uid)) {
    // Only a runtime directory that is really this user's: an inherited
    // XDG_RUNTIME_DIR of someone else (sudo -u) is not.
    base = std::string(xdg) + "/ringfence";
  } else {
    base = "/tmp/ringfence-" + std::to_string(uid);
  }
  const std::string dir = base + "/control";
  if (create) {
    if (mkdir(base.c_str(), 0711) != 0 && errno != EEXIST)
      return Status::Errno("cannot make the control directory's parent ", base);
    struct stat st;
    if (lstat(base.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid ||
        (st.st_mode & 022) != 0)
      return Status::Permission(base + " is not a directory of uid " + std::to_string(uid) +
                                " that only it can write");
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::Errno("cannot make the control directory ", dir);
  }
  if (Status s = CheckPrivateDir(dir, uid); !s.ok()) return s;
  return dir;
}

std::string SocketPath(const std::string& dir, const std::string& id) {
  return dir + "/" + id + ".sock";
}

Result<std::unique_ptr<Server>> Server::Start(const std::string& dir, const std::string& id,
                                              Handler handler) {
  std::unique_ptr<Server> s(new Server());
  s->path_ = SocketPath(dir, id);
  s->handler_ = std::move(handler);
  s->owner_ = geteuid();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (s->path_.size() >= sizeof addr.sun_path)
    return Status::Invalid("control socket path too long: " + s->path_);
  memcpy(addr.sun_path, s->path_.c_str(), s->path_.size() + 1);
  s->listener_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s->listener_.valid()) return Status::Errno("control socket");
  if (bind(s->listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Status::Errno("cannot bind the control socket ", s->path_);
  // The directory already keeps everyone else out; the socket, too.
  if (chmod(s->path_.c_str(), 0600) != 0 || listen(s->listener_.get(), 16) != 0) {
    Status st = Status::Errno("control socket ", s->path_);
    unlink(s->path_.c_str());
    return st;
  }
  s->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_.valid()) {
    unlink(s->path_.c_str());
    return Status::Errno("eventfd");
  }
  return s;
}

void Server::Serve() {
  if (thread_.joinable() || stopping_.load()) return;
  // The thread starts with every signal blocked: signals sent to the
  // supervisor are read by its wait loop (and forwarded to the command),
  // never taken by this thread with their default action.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { Loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
  unlink(path_.c_str());
}

void Server::Publish(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  recent_.push_back(line);
  if (recent_.size() > kReplay) recent_.pop_front();
  bool wake = false;
  for (auto& sub : subscribers_) {
    if (sub->dead) continue;
    if (sub->out.size() + line.size() > kMaxBuffered) {
      ++sub->dropped;
      continue;
    }
    sub->out += line;
    ssize_t n = send(sub->fd.get(), sub->out.data(), sub->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) sub->out.erase(0, static_cast<size_t>(n));
    if (n < 0 && errno != EAGAIN && errno != EINTR) sub->dead = true;
    wake = wake || sub->dead || !sub->out.empty();
  }
  if (wake) {
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
  }
}

void Server::Loop() {
  std::vector<struct pollfd> fds;
  std::vector<std::shared_ptr<Subscriber>> polled;
  int64_t final_deadline = 0;
  for (;;) {
    const bool stopping = stopping_.load();
    fds.assign({{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}});
    polled.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Gone, or (no follow) done: closed here, the only place that does.
      std::erase_if(subscribers_, [&](const std::shared_ptr<Subscriber>& s) {
        return s->dead || ((s->once || stopping) && s->out.empty());
      });
      if (stopping && final_deadline == 0) final_deadline = NowMs() + kFinalFlushMs;
      if (stopping && (subscribers_.empty() || NowMs() >= final_deadline)) {
        subscribers_.clear();
        return;
      }
      for (auto& s : subscribers_) {
        fds.push_back(
            {s->fd.get(), static_cast<short>(POLLRDHUP | (s->out.empty() ? 0 : POLLOUT)), 0});
        polled.push_back(s);
      }
    }
    int timeout = stopping ? 50 : -1;
    int n = poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) continue;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_.get(), &v, sizeof v);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < polled.size(); ++i) {
        Subscriber& s = *polled[i];
        const short ev = fds[2 + i].revents;
        if (ev & (POLLRDHUP | POLLHUP | POLLERR)) {
          s.dead = true;
        } else if ((ev & POLLOUT) && !s.out.empty()) {
          ssize_t w = send(s.fd.get(), s.out.data(), s.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          if (w > 0) s.out.erase(0, static_cast<size_t>(w));
          if (w < 0 && errno != EAGAIN && errno != EINTR) s.dead = true;
        }
        if (!s.dead && s.out.empty() && s.dropped > 0 && (s.once || stopping)) {
          // Said once, at the end: how many lines it missed.
          s.out = JsonText({{"layer", "control"},
                            {"action", "events_dropped"},
                            {"count", s.dropped},
                            {"reason",
                             "the subscriber did not keep up; these events were not "
                             "sent to it (the audit log has them)"}}) +
                  "\n";
          s.dropped = 0;
        }
      }
    }
    if (!stopping && (fds[0].revents & POLLIN)) {
      // Bounded: the listener is non-blocking.
      for (int i = 0; i < 16; ++i) {
        UniqueFd c(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!c.valid()) break;
        Serve(std::move(c));
      }
    }
  }
}

void Server::Serve(UniqueFd client) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  auto reply = [&](nlohmann::json answer) {
    if (!answer.contains("ok")) answer["ok"] = true;
    (void)SendAll(client.get(), JsonText(answer) + "\n", kClientMs);
  };
  // The request is read before the answer, refusals included: a peer
  // closed on with its request unread would see a reset, not the reason.
  auto line = ReadLine(client.get(), kMaxRequest, kClientMs);
  if (!line.ok()) return;
  if (getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return reply({{"ok", false}, {"error", "cannot read the caller's credentials"}});
  // The owner (the uid that started the sandbox) or root; nobody else may
  // watch or change it, whatever the directory's mode let through.
  if (cred.uid != owner_ && cred.uid != 0)
    return reply({{"ok", false},
                  {"error", "permission denied: uid " + std::to_string(cred.uid) +
                                " is neither the sandbox's owner (uid " + std::to_string(owner_) +
                                ") nor root"}});
  nlohmann::json req = nlohmann::json::parse(*line, nullptr, false);
  if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string())
    return reply({{"ok", false}, {"error", "not a control request"}});
  if (req["op"] == "events") {
    auto sub = std::make_shared<Subscriber>();
    sub->once = !(req.contains("follow") && req["follow"] == true);
    std::string head = JsonText({{"ok", true}}) + "\n";
    if (Status s = SendAll(client.get(), head, kClientMs); !s.ok()) return;
    sub->fd = std::move(client);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& l : recent_) sub->out += l;
    subscribers_.push_back(std::move(sub));
    return;
  }
  Peer peer{cred.pid, cred.uid, cred.gid};
  nlohmann::json answer;
  try {
    answer = handler_(req, peer);
  } catch (const std::exception& e) {
    answer = {{"ok", false}, {"error", std::string("internal error: ") + e.what()}};
  }
  reply(std::move(answer));
}

Result<nlohmann::json> Call(const std::string& socket_path, const nlohmann::json& request,
                            int timeout_ms) {
  auto fd = Dial(socket_path);
  if (!fd.ok()) return fd.status();
  if (Status s = SendAll(fd->get(), JsonText(request) + "\n", timeout_ms); !s.ok()) return s;
  auto line = ReadLine(fd->get(), kMaxRequest, timeout_ms);
  if (!line.ok()) return line.status();
  nlohmann::json answer = nlohmann::json::parse(*line, nullptr, false);
  if (answer.is_discarded() || !answer.is_object())
    return Status::Invalid("control socket " + socket_path + ": not an answer");
  return answer;
}

Status Stream(const std::string& socket_path, bool follow, int out_fd) {
  auto fd = Dial(socket_path);
  if (!fd.ok()) return fd.status();
  if (Status s =
          SendAll(fd->get(), JsonText({{"op", "events"}, {"follow", follow}}) + "\n", kClientMs);
      !s.ok())
    return s;
  std::string first;
  auto head = ReadLine(fd->get(), 65536, kClientMs, &first);
  if (!head.ok()) return head.status();
  nlohmann::json h = nlohmann::json::parse(*head, nullptr, false);
  if (h.is_discarded() || !h.is_object() || h.value("ok", false) != true)
    return Status::Permission(h.is_object() && h.contains("error") && h["error"].is_string()
                                  ? h["error"].get<std::string>()
                                  : "the sandbox refused the request");
  auto put = [out_fd](const char* p, size_t n) {
    for (size_t done = 0; done < n;) {
      ssize_t w = write(out_fd, p + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return Status::Errno("write");
      done += static_cast<size_t>(w);
    }
    return Status::Ok();
  };
  // What came with the head line is written first.
  if (Status s = put(first.data(), first.size()); !s.ok()) return s;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd->get(), buf, sizeof buf, 0);
    if (n == 0) return Status::Ok();
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("control socket recv");
    }
    if (Status s = put(buf, static_cast<size_t>(n)); !s.ok()) return s;
  }
}

}  // namespace rf::control
