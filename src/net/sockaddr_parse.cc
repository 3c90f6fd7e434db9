#include "net/sockaddr_parse.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace rf {

namespace {

// IPv6 connects accept an address without its scope id (RFC 2133 length).
constexpr size_t kSin6LenRfc2133 = 24;

}  // namespace

int SockaddrLengthError(uint64_t addrlen_arg, size_t* len) {
  const int n = static_cast<int>(static_cast<uint32_t>(addrlen_arg));
  *len = 0;
  if (n < 0 || static_cast<size_t>(n) > sizeof(sockaddr_storage)) return EINVAL;
  *len = static_cast<size_t>(n);
  return 0;
}

ConnectAddress ClassifyConnectAddress(const void* addr, size_t len) {
  ConnectAddress out;
  if (len < sizeof(sa_family_t) || len > sizeof(sockaddr_storage)) {
    out.err = EINVAL;
    return out;
  }
  const auto* bytes = static_cast<const unsigned char*>(addr);
  memcpy(&out.family, bytes, sizeof out.family);
  switch (out.family) {
    case AF_UNIX: {
      const size_t off = offsetof(sockaddr_un, sun_path);
      // No name (the kernel would autobind a connecting datagram socket
      // only through bind) or longer than sockaddr_un: EINVAL.
      if (len <= off || len > sizeof(sockaddr_un)) {
        out.err = EINVAL;
        return out;
      }
      const char* path = reinterpret_cast<const char*>(bytes + off);
      const size_t n = len - off;
      if (path[0] == '\0') {
        out.kind = ConnectAddress::Kind::kUnixAbstract;
        out.name.assign(path + 1, n - 1);
      } else {
        out.kind = ConnectAddress::Kind::kUnixPath;
        out.name.assign(path, strnlen(path, n));
      }
      return out;
    }
    case AF_INET:
      if (len < sizeof(sockaddr_in)) {
        out.err = EINVAL;
        return out;
      }
      out.kind = ConnectAddress::Kind::kInet;
      return out;
    case AF_INET6:
      if (len < kSin6LenRfc2133) {
        out.err = EINVAL;
        return out;
      }
      out.kind = ConnectAddress::Kind::kInet;
      return out;
    default:
      out.kind = ConnectAddress::Kind::kOther;
      return out;
  }
}

}  // namespace rf
