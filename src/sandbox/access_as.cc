#include "sandbox/access_as.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/thread_creds.h"

namespace rf {

namespace {

// Bounds the wait for the child: a path on a hung network filesystem must
// not hold up the start.
constexpr int kDeadlineMs = 5000;

long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

}  // namespace

std::vector<int> AccessAs(const std::optional<RunAs>& run_as,
                          const std::vector<AccessCheck>& checks) {
  std::vector<int> out(checks.size(), 0);
  if (checks.empty()) return out;
  if (!run_as) {
    for (size_t i = 0; i < checks.size(); ++i)
      if (faccessat(AT_FDCWD, checks[i].path.c_str(), checks[i].mode, AT_EACCESS) != 0)
        out[i] = errno;
    return out;
  }
  // Everything the child touches is made before fork: it makes raw system
  // calls only.
  std::vector<const char*> paths;
  for (const auto& c : checks) paths.push_back(c.path.c_str());
  std::vector<int> results(checks.size(), 0);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return out;
  UniqueFd r(fds[0]), w(fds[1]);
  const uid_t uid = run_as->uid;
  const gid_t gid = run_as->gid;
  pid_t pid = fork();
  if (pid < 0) return out;
  if (pid == 0) {
    if (SwitchThreadCredentials(uid, gid) != 0) _exit(1);
    // Real and effective ids are the sandbox's now: faccessat checks them.
    for (size_t i = 0; i < paths.size(); ++i)
      results[i] = syscall(SYS_faccessat, AT_FDCWD, paths[i], checks[i].mode) == 0 ? 0 : errno;
    const char* p = reinterpret_cast<const char*>(results.data());
    size_t left = results.size() * sizeof(int);
    while (left > 0) {
      ssize_t n = write(w.get(), p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(1);
      p += n;
      left -= static_cast<size_t>(n);
    }
    _exit(0);
  }
  w.reset();
  std::vector<char> buf(checks.size() * sizeof(int));
  size_t got = 0;
  const long deadline = NowMs() + kDeadlineMs;
  while (got < buf.size()) {
    long left = deadline - NowMs();
    if (left <= 0) break;
    struct pollfd pfd = {r.get(), POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;
    ssize_t n = read(r.get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < buf.size()) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == buf.size() && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    memcpy(out.data(), buf.data(), buf.size());
  return out;
}

}  // namespace rf
