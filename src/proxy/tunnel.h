// The byte pump of an established connection: client <-> upstream, each
// direction src -> (pipe | buffer) -> dst. splice() through a pipe moves
// bytes without copying them to user space; where a socket cannot be
// spliced, or every byte must be seen (a chunked request body, validated as
// it passes), a buffer loop does the same. Non-blocking: the pump moves what
// it can and returns; the worker calls it again on the next readiness event.
//
// An inspected (L7) phase sits in front of this: once a connection's
// requests no longer need looking at, the same pump carries the rest.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "proxy/http.h"

namespace rf::proxy {

// One direction of a tunnel: src -> (pipe | buffer) -> dst.
struct Dir {
  std::string pending;  // bytes to write to dst before anything else
  size_t pending_off = 0;
  UniqueFd pipe_r, pipe_w;
  size_t in_pipe = 0;
  size_t pipe_cap = 65536;
  std::unique_ptr<char[]> buf;  // buffer mode
  size_t buf_off = 0, buf_len = 0;
  int64_t budget = -1;   // bytes still to read from src; -1 unlimited
  bool splice = true;    // false: buffer loop
  bool eof = false;      // src said EOF (or budget exhausted)
  bool shut = false;     // dst write side shut down / finished
  bool started = false;  // some bytes reached dst
  // Forward requests with a chunked body: every byte read from src is
  // validated; relaying stops at the body's end (buffer loop, no splice).
  std::unique_ptr<ChunkDecoder> chunks;
  bool Drained() const {
    return pending_off == pending.size() && in_pipe == 0 && buf_len == buf_off;
  }
};

// What each socket of a connection is known to be ready for (edge-triggered
// epoll: set by events, cleared when a call would block).
struct Readiness {
  bool c_rd = false, c_wr = false;  // client socket
  bool u_rd = false, u_wr = false;  // upstream socket
};

// Both directions of one connection.
struct Tunnel {
  Dir up;    // client -> upstream
  Dir down;  // upstream -> client
  // A CONNECT tunnel ends when both directions have; a forwarded request
  // ends with the upstream's answer.
  bool connect = true;
  std::string body_error;  // the client's chunked body was malformed
};

// Splice pipes reused across connections (pipe2 + F_SETPIPE_SZ and the
// kernel's pipe teardown were a noticeable part of a short connection), and a pipe
// is pooled only when the kernel confirms it is empty, so no byte of one
// connection can reach another. A pooled pipe unused for kIdleMs is closed,
// so an idle proxy holds no more descriptors than a fresh one. One pool per
// worker thread: not thread-safe.
class PipePool {
 public:
  static constexpr size_t kMax = 64;
  static constexpr int64_t kIdleMs = 500;

  explicit PipePool(int pipe_size) : pipe_size_(pipe_size) {}
  // Gives `d` a pipe (pooled or new; pipe_size via F_SETPIPE_SZ, best effort).
  Status Acquire(Dir& d);
  // Takes `d`'s pipe back when it is empty and there is room, else leaves it
  // to close with `d`.
  void Release(Dir& d, int64_t now_ms);
  // Closes pipes pooled for kIdleMs or longer.
  void Sweep(int64_t now_ms);
  bool empty() const { return pipes_.empty(); }
  // When the oldest pooled pipe was released (the pool must not be empty).
  int64_t oldest_release_ms() const { return pipes_.front().released_ms; }

 private:
  struct Pipe {
    UniqueFd r, w;
    size_t cap = 0;
    int64_t released_ms = 0;
  };
  int pipe_size_;
  std::vector<Pipe> pipes_;  // used as a stack: the oldest at the front
};

enum class PumpResult { kOpen, kDone, kFailed };

// Moves what can be moved both ways between `client` and `upstream`
// without blocking. kDone: the tunnel is over (close it); kFailed: a socket
// error or a malformed chunked body (t.body_error says which); *progressed:
// some byte moved (the idle timer restarts).
PumpResult Pump(Tunnel& t, int client, int upstream, Readiness& ready, PipePool& pool,
                bool* progressed);

}  // namespace rf::proxy
