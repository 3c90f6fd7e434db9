// What an epoll event of a proxy worker is about, carried in the event's
// 64-bit data word (epoll_event.data.u64): no lookup table, no pointer that
// could outlive a connection. A connection's events carry its id, which the
// worker looks up; an id no longer present (the connection closed while the
// event was queued) is ignored.
//
// Layout of the word:
//   bits 0-1   side: 0 the client socket of a connection, 1 its upstream
//              socket, 3 one of the worker's own descriptors (2 is unused)
//   side 0, 1: bits 2-63 the connection id (ids start at 1 and only grow:
//              62 bits do not wrap)
//   side 3:    bits 2-7 which descriptor: 1 the listening socket, 2 the wake
//              eventfd, 3 a resolver (c-ares) socket; bits 8-63 that
//              socket's descriptor number (resolver sockets only)
// Anything else decodes as kUnknown and is ignored.
#pragma once

#include <cstdint>

namespace rf::proxy {

class EpollTag {
 public:
  enum class Kind : uint8_t { kClient, kUpstream, kListener, kWake, kResolver, kUnknown };

  static constexpr EpollTag Client(uint64_t conn) { return EpollTag(conn << 2 | kSideClient); }
  static constexpr EpollTag Upstream(uint64_t conn) { return EpollTag(conn << 2 | kSideUpstream); }
  static constexpr EpollTag Listener() { return Special(kListenerCode, 0); }
  static constexpr EpollTag Wake() { return Special(kWakeCode, 0); }
  static constexpr EpollTag Resolver(int fd) {
    return Special(kResolverCode, static_cast<uint64_t>(static_cast<unsigned>(fd)));
  }
  static constexpr EpollTag FromData(uint64_t data) { return EpollTag(data); }

  constexpr uint64_t data() const { return data_; }
  constexpr Kind kind() const {
    switch (data_ & kSideMask) {
      case kSideClient:
        return Kind::kClient;
      case kSideUpstream:
        return Kind::kUpstream;
      case kSideSpecial:
        switch ((data_ >> 2) & kCodeMask) {
          case kListenerCode:
            return Kind::kListener;
          case kWakeCode:
            return Kind::kWake;
          case kResolverCode:
            return Kind::kResolver;
        }
        return Kind::kUnknown;
    }
    return Kind::kUnknown;
  }
  // The connection id (kClient, kUpstream).
  constexpr uint64_t conn() const { return data_ >> 2; }
  // The resolver socket (kResolver).
  constexpr int fd() const { return static_cast<int>(data_ >> 8); }

 private:
  static constexpr uint64_t kSideMask = 3, kSideClient = 0, kSideUpstream = 1, kSideSpecial = 3;
  static constexpr uint64_t kCodeMask = 0x3f, kListenerCode = 1, kWakeCode = 2, kResolverCode = 3;

  static constexpr EpollTag Special(uint64_t code, uint64_t fd) {
    return EpollTag(fd << 8 | code << 2 | kSideSpecial);
  }
  explicit constexpr EpollTag(uint64_t data) : data_(data) {}

  uint64_t data_;
};

}  // namespace rf::proxy
