// One proxy worker thread: an epoll loop that accepts connections from the
// shared listening socket (EPOLLEXCLUSIVE: one worker wakes per
// connection), reads each request head, gets the decision (decision.h),
// resolves (resolver.h), dials the upstream (directly or through
// network.upstream_proxy) and pumps the tunnel (tunnel.h), with a deadline
// for every phase. Everything here belongs to the worker's thread except
// Wake(), which Proxy::Stop calls from another.
#pragma once

#include <sys/epoll.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "proxy/connection.h"
#include "proxy/identity.h"
#include "proxy/resolver.h"
#include "proxy/shared.h"
#include "proxy/tunnel.h"

namespace rf::proxy {

class Worker {
 public:
  Worker(Proxy::Shared* s, int listener);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  Status Init();
  // Serves until the proxy stops.
  void Run();
  // Interrupts epoll_wait (any thread).
  void Wake();

 private:
  // The loop.
  void Dispatch(const epoll_event& ev);
  void PauseAccepting();
  void ResumeAccepting(int64_t now);
  void Accept();
  void Close(Conn* c);
  void Sweep(int64_t now);

  // The proxy's own answers.
  void Respond(Conn* c, int status, const std::string& type, const std::string& body,
               const std::string& why);
  void Fail(Conn* c, int status, const std::string& why);
  // A 403 for c->verdict, with its audit event and a place in the summary.
  void Deny(Conn* c);

  // The connection's state machine.
  void Drive(Conn* c, bool client_event);
  void Linger(Conn* c);
  // Reads what the client sent into c->inbuf, up to `total` bytes there;
  // true at end of stream (or an error).
  bool ReadClient(Conn* c, size_t total);
  void ReadHead(Conn* c);
  // A connection the guard redirected (docs/transparent-tcp.md): taken from
  // the ledger at accept; true when `c` is one.
  bool TakeCapture(Conn* c);
  // A captured HTTP(S) connection: its first bytes name the destination.
  void ReadCapturedName(Conn* c);
  void Identify(Conn* c);
  IdentityResolver& Identities();
  void Decide(Conn* c);
  void OnResolved(uint64_t id, std::vector<IpAddr> addrs, const char* error);
  void OnAddresses(Conn* c, std::vector<IpAddr> addrs);
  void Connect(Conn* c);
  void Handshake(Conn* c);
  void NextAddress(Conn* c, const std::string& why);
  void CheckConnect(Conn* c);
  void StartTunnel(Conn* c);
  void StartInspected(Conn* c, std::string rest);
  void Pump(Conn* c);
  void PumpInspected(Conn* c);
  void RefreshRules(Conn* c);
  void EmitRequest(Conn* c, const l7::RequestEvent& ev);

  static constexpr int kAcceptPauseMs = 100;

  Proxy::Shared* s_;
  int listener_;
  UniqueFd epoll_, wake_, reserve_;
  // Out of descriptors with no reserve left: the listener is out of the
  // epoll set until then (monotonic ms), 0 when watched.
  int64_t accept_paused_until_ = 0;
  std::unique_ptr<Resolver> resolver_;  // after epoll_ (it refers to it)
  PipePool pipes_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  int lingering_ = 0;
  std::unique_ptr<IdentityResolver> identity_;
  pid_t identity_root_ = -1;
};

}  // namespace rf::proxy
