// The pieces both component-by-component path walks share: the rule-path
// resolver (resolve.cc: links followed only when trusted) and the metadata
// guard (metadata_guard.cc: the caller's lookup redone in its root). Each
// keeps its own loop: they treat "..", the root and the last component
// differently on purpose.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string>

#include "common/path.h"

namespace rf::landlock {

// As the kernel's path walk: more links than this in one lookup is a loop.
inline constexpr int kMaxLinks = 40;

using rf::PathComponents;  // common/path.h

// The target of the link `link_fd` (an O_PATH | O_NOFOLLOW descriptor of the
// link itself: what is read is what was stat'ed). 0, or the errno
// (ENAMETOOLONG for a target that does not fit PATH_MAX).
inline int ReadLinkTarget(int link_fd, std::string* target) {
  char buf[PATH_MAX];
  ssize_t n = readlinkat(link_fd, "", buf, sizeof buf);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) >= sizeof buf) return ENAMETOOLONG;
  target->assign(buf, static_cast<size_t>(n));
  return 0;
}

// Puts the names of a followed link's `target` before the names still to
// walk (`todo`), as the kernel continues a lookup through a link.
inline void QueueLinkTarget(const std::string& target, std::deque<std::string>& todo) {
  std::deque<std::string> more = PathComponents(target);
  todo.insert(todo.begin(), more.begin(), more.end());
}

}  // namespace rf::landlock
