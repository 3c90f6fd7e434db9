// Socket options newer than the C library's headers.
#pragma once

#include <sys/socket.h>

namespace rf {

#ifdef SO_PASSPIDFD
inline constexpr int kSoPassPidfd = SO_PASSPIDFD;
#else
inline constexpr int kSoPassPidfd = 76;  // added in Linux 6.5; older headers lack it
#endif

}  // namespace rf
