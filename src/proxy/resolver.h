// Name resolution for the proxy's workers: static first (an IP literal, or
// network.hosts), else an asynchronous c-ares lookup (/etc/hosts and
// resolv.conf, or the configured servers) driven by the worker's epoll loop.
// One Resolver per worker thread: not thread-safe.
//
// DNS pinning is the worker's part: a connection is looked up once, and only
// the addresses that lookup gave (each checked by the decision) are dialed.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/cidr.h"

namespace rf::proxy {

// The address of `host` (normalised) without asking DNS: `host` is an IP
// literal, or network.hosts (`hosts`: normalised name -> address) names it.
std::optional<IpAddr> StaticAddress(const std::map<std::string, std::string>& hosts,
                                    const std::string& host);

class Resolver {
 public:
  // A lookup's result for connection `id`: the addresses (none on failure)
  // and, on failure, c-ares's reason.
  using Done = std::function<void(uint64_t id, std::vector<IpAddr> addrs, const char* error)>;

  // `epoll`: the worker's epoll set, where the resolver's sockets are
  // watched under EpollTag::Resolver. `servers`: c-ares "ip:port,..."
  // (empty: resolv.conf).
  Resolver(int epoll, std::string servers, int timeout_ms, Done done)
      : epoll_(epoll),
        servers_(std::move(servers)),
        timeout_ms_(timeout_ms),
        done_(std::move(done)) {}
  // Pending lookups end without calling `done`.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Sets c-ares up (on first use: most sandboxed commands never make a
  // request, so start-up stays cheap). Fails on bad configured servers.
  Status Ensure();
  // Starts a lookup (Ensure() must have succeeded).
  void Lookup(const std::string& host, uint64_t id);
  // A readiness event on one of the resolver's sockets.
  void OnEvent(int fd, uint32_t events);
  // The epoll timeout that keeps c-ares's own timers: `timeout_ms` (-1:
  // none) shortened when a lookup is in flight.
  int Timeout(int timeout_ms) const;
  // Runs c-ares's timers (lookups that timed out end with an error).
  void ProcessTimeouts();

 private:
  static void SockState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnResolved(void* arg, int status, int timeouts, ares_addrinfo* res);

  int epoll_;
  std::string servers_;
  int timeout_ms_;
  Done done_;
  ares_channel channel_ = nullptr;
  int queries_ = 0;  // lookups in flight
};

}  // namespace rf::proxy
