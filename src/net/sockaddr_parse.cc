#include "net/sockaddr_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

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

int LoopbackKind(const void* addr, size_t len, uint16_t* port) {
  sa_family_t fam;
  if (len < sizeof fam) return 0;
  memcpy(&fam, addr, sizeof fam);
  if (fam == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    *port = ntohs(in.sin_port);
    return in.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? 4 : 0;
  }
  if (fam == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    *port = ntohs(in6.sin6_port);
    static const uint8_t mapped_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    if (memcmp(&in6.sin6_addr, mapped_lo, 16) == 0) return 4;
    return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr) ? 6 : 0;
  }
  return 0;
}

std::string DescribeSockaddr(const void* addr, size_t len) {
  char buf[INET6_ADDRSTRLEN] = "?";
  sa_family_t fam;
  memcpy(&fam, addr, sizeof fam);
  if (fam == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (fam == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    memcpy(&in6, addr, sizeof in6);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "family " + std::to_string(fam);
}

std::string LoopbackEndpoint(int kind, uint16_t port) {
  const bool v6 = kind == 6;
  return std::string("{host: ") + (v6 ? "::1" : "127.0.0.1") + ", port: " + std::to_string(port) +
         ", allowed_ips: [" + (v6 ? "::1/128" : "127.0.0.1/32") + "]}";
}

}  // namespace rf
