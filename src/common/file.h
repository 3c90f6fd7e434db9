// Reading small text files (configuration, caches) whole.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/fd.h"
#include "common/status.h"

namespace rf {

// The whole of `path`, or an error naming it (missing, unreadable, or more
// than `limit` bytes).
inline Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Errno("open ", path);
  std::string out;
  char buf[65536];
  while (out.size() <= limit) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("read ", path);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
  return Status::Error(path + ": larger than " + std::to_string(limit) + " bytes");
}

}  // namespace rf
