// libFuzzer target: the connect guard's reading of a connect() address.
//
// Input: 4 bytes of the length argument (connect's addrlen, as the
// register holds it), then the bytes at the address. The address is copied
// into a buffer of exactly the accepted length, so ASan reports any read
// past it. Properties checked beyond "no crash, no sanitizer report":
//  - a length the kernel refuses (negative, over sockaddr_storage) is
//    refused before anything is read, and one below a family is EINVAL;
//  - an AF_UNIX address longer than sockaddr_un is refused (EINVAL);
//  - an abstract name is exactly the bytes after the leading NUL, up to the
//    length; a path ends at its first NUL or at the length;
//  - AF_INET/AF_INET6 are accepted only with a whole address.
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "net/sockaddr_parse.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t raw;
  memcpy(&raw, data, sizeof raw);
  data += 4;
  size -= 4;
  size_t len = 0;
  const int err = rf::SockaddrLengthError(raw, &len);
  const int as_int = static_cast<int>(raw);
  const bool kernel_ok = as_int >= 0 && as_int <= static_cast<int>(sizeof(sockaddr_storage));
  Check((err == 0) == kernel_ok);
  if (err) {
    Check(len == 0);
    return 0;
  }
  if (len > size) return 0;  // the command's memory ends before: EFAULT
  std::unique_ptr<uint8_t[]> mem(new uint8_t[len ? len : 1]);
  memcpy(mem.get(), data, len);
  const rf::ConnectAddress a = rf::ClassifyConnectAddress(mem.get(), len);
  if (len < sizeof(sa_family_t)) {
    Check(a.kind == rf::ConnectAddress::Kind::kInvalid && a.err == EINVAL);
    return 0;
  }
  sa_family_t fam;
  memcpy(&fam, mem.get(), sizeof fam);
  Check(a.family == fam);
  const size_t off = offsetof(sockaddr_un, sun_path);
  using Kind = rf::ConnectAddress::Kind;
  switch (a.kind) {
    case Kind::kInvalid:
      Check(a.err == EINVAL);
      break;
    case Kind::kUnixAbstract:
      Check(fam == AF_UNIX && len > off && len <= sizeof(sockaddr_un));
      Check(mem[off] == 0 && a.name.size() == len - off - 1);
      Check(memcmp(a.name.data(), mem.get() + off + 1, a.name.size()) == 0);
      break;
    case Kind::kUnixPath:
      Check(fam == AF_UNIX && len > off && len <= sizeof(sockaddr_un));
      Check(!a.name.empty() && a.name.size() <= len - off);
      Check(a.name.find('\0') == std::string::npos);
      Check(a.name.size() == len - off || mem[off + a.name.size()] == 0);
      break;
    case Kind::kInet:
      Check((fam == AF_INET && len >= sizeof(sockaddr_in)) || (fam == AF_INET6 && len >= 24));
      break;
    case Kind::kOther:
      Check(fam != AF_UNIX && fam != AF_INET && fam != AF_INET6);
      break;
  }
  if (fam == AF_UNIX && len > sizeof(sockaddr_un)) Check(a.kind == Kind::kInvalid);
  return 0;
}
