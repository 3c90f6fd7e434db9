// The connect() address the connect guard read from the command, judged by
// the kernel's own length rules before any byte of it is used: the guard
// answers bad lengths as the kernel would (EINVAL) and never reads past
// what the command passed, nor past a sockaddr_un.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace rf {

// The length argument alone (an address's length as the system call takes
// it, an int): 0, or EINVAL when the kernel refuses it before reading
// anything (negative, or larger than a sockaddr_storage). Sets *len to the
// number of bytes to read.
int SockaddrLengthError(uint64_t addrlen_arg, size_t* len);

struct ConnectAddress {
  enum class Kind {
    kInvalid,       // `err` is the kernel's answer
    kInet,          // AF_INET / AF_INET6 with a full address (zero-padded)
    kUnixPath,      // `name`: the path, as the kernel reads it (to the first NUL)
    kUnixAbstract,  // `name`: the abstract name, without the leading NUL
    kOther,         // another family (AF_UNSPEC, netlink...): for the caller
  };
  Kind kind = Kind::kInvalid;
  int err = 0;
  sa_family_t family = AF_UNSPEC;
  std::string name;
};

// Classifies the `len` bytes read for connect() (len as accepted by
// SockaddrLengthError; below a family it is EINVAL, as connect() answers).
ConnectAddress ClassifyConnectAddress(const void* addr, size_t len);

// Classifies an inet destination: 4 = 127.0.0.1 (or ::ffff:127.0.0.1),
// 6 = ::1, 0 = anything else. Sets *port.
int LoopbackKind(const void* addr, size_t len, uint16_t* port);

// An inet address as audit lines show it ("127.0.0.1:80", "[::1]:80"),
// else "family N".
std::string DescribeSockaddr(const void* addr, size_t len);

// The endpoint that lets the proxy carry a connect to the host's loopback
// (kind 4: 127.0.0.1, 6: ::1, as LoopbackKind says): the whole recipe,
// allowed_ips included (the SSRF rule refuses loopback without it).
std::string LoopbackEndpoint(int kind, uint16_t port);

}  // namespace rf
