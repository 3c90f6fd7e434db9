#include "proxy/tunnel.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace rf::proxy {

namespace {

constexpr size_t kBufSize = 64 * 1024;

// Moves bytes one way. Returns false on a fatal error (close the connection).
bool PumpDir(Tunnel& t, Dir& d, int src, bool& src_rd, int dst, bool& dst_wr, PipePool& pool,
             bool& progressed) {
  for (int iter = 0; iter < 1024; ++iter) {
    bool moved = false;
    if (d.pending_off < d.pending.size() && dst_wr) {
      ssize_t n = send(dst, d.pending.data() + d.pending_off, d.pending.size() - d.pending_off,
                       MSG_NOSIGNAL);
      if (n > 0) {
        d.pending_off += static_cast<size_t>(n), moved = true, d.started = true;
        if (d.pending_off == d.pending.size()) {
          d.pending.clear();
          d.pending.shrink_to_fit();
          d.pending_off = 0;
        }
      } else if (n < 0 && errno == EAGAIN) {
        dst_wr = false;
      } else {
        return false;
      }
    }
    if (d.pending_off < d.pending.size()) break;
    if (d.splice) {
      if (d.in_pipe > 0 && dst_wr) {
        ssize_t n = splice(d.pipe_r.get(), nullptr, dst, nullptr, d.in_pipe,
                           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
          d.in_pipe -= static_cast<size_t>(n), moved = true, d.started = true;
        } else if (n < 0 && errno == EAGAIN) {
          dst_wr = false;
        } else {
          return false;
        }
      }
      if (!d.eof && src_rd && d.in_pipe < d.pipe_cap) {
        if (!d.pipe_r.valid() && !pool.Acquire(d).ok()) return false;
        size_t want = d.pipe_cap - d.in_pipe;
        if (d.budget >= 0) want = std::min<size_t>(want, static_cast<size_t>(d.budget));
        ssize_t n =
            splice(src, nullptr, d.pipe_w.get(), nullptr, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
          d.in_pipe += static_cast<size_t>(n), moved = true;
          if (d.budget > 0) d.budget -= n;
          if (d.budget == 0) d.eof = true;
        } else if (n == 0) {
          d.eof = true, moved = true;
        } else if (errno == EAGAIN) {
          // With bytes in the pipe, EAGAIN may mean "pipe full", not "no data".
          if (d.in_pipe == 0) src_rd = false;
        } else if (errno == EINVAL && d.in_pipe == 0) {
          d.splice = false;  // not spliceable here: buffer loop from now on
          moved = true;
        } else {
          return false;
        }
      }
    } else {
      if (!d.buf) d.buf.reset(new char[kBufSize]);
      if (d.buf_off < d.buf_len && dst_wr) {
        ssize_t n = send(dst, d.buf.get() + d.buf_off, d.buf_len - d.buf_off, MSG_NOSIGNAL);
        if (n > 0) {
          d.buf_off += static_cast<size_t>(n), moved = true, d.started = true;
        } else if (n < 0 && errno == EAGAIN) {
          dst_wr = false;
        } else {
          return false;
        }
      }
      if (d.buf_off == d.buf_len && !d.eof && src_rd) {
        size_t want = kBufSize;
        if (d.budget >= 0) want = std::min<size_t>(want, static_cast<size_t>(d.budget));
        ssize_t n = recv(src, d.buf.get(), want, 0);
        d.buf_off = d.buf_len = 0;
        if (n > 0 && d.chunks) {
          auto step = d.chunks->Feed(std::string_view(d.buf.get(), static_cast<size_t>(n)));
          if (step.state == ChunkDecoder::State::kError) {
            t.body_error = "malformed chunked body: " + d.chunks->error();
            return false;
          }
          n = static_cast<ssize_t>(step.used);  // bytes past the body are dropped
          if (step.state == ChunkDecoder::State::kDone) d.budget = 0, d.eof = true;
        }
        if (n > 0) {
          d.buf_len = static_cast<size_t>(n), moved = true;
          if (d.budget > 0) d.budget -= n;
          if (d.budget == 0) d.eof = true;
        } else if (n == 0) {
          d.eof = true, moved = true;
        } else if (errno == EAGAIN) {
          src_rd = false;
        } else {
          return false;
        }
      }
    }
    progressed = progressed || moved;
    if (!moved) break;
  }
  if (d.eof && d.Drained() && !d.shut) {
    d.shut = true;
    if (t.connect || d.budget != 0) shutdown(dst, SHUT_WR);
  }
  return true;
}

}  // namespace

Status PipePool::Acquire(Dir& d) {
  if (!pipes_.empty()) {
    Pipe& p = pipes_.back();
    d.pipe_r = std::move(p.r);
    d.pipe_w = std::move(p.w);
    d.pipe_cap = p.cap;
    pipes_.pop_back();
    return Status::Ok();
  }
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return Status::Errno("pipe2");
  d.pipe_r.reset(p[0]);
  d.pipe_w.reset(p[1]);
  if (pipe_size_ > 0) fcntl(p[1], F_SETPIPE_SZ, pipe_size_);
  int sz = fcntl(p[1], F_GETPIPE_SZ);
  if (sz > 0) d.pipe_cap = static_cast<size_t>(sz);
  return Status::Ok();
}

void PipePool::Release(Dir& d, int64_t now_ms) {
  if (!d.pipe_r.valid() || pipes_.size() >= kMax || d.in_pipe != 0) return;
  int queued = -1;
  if (ioctl(d.pipe_r.get(), FIONREAD, &queued) != 0 || queued != 0) return;
  pipes_.push_back({std::move(d.pipe_r), std::move(d.pipe_w), d.pipe_cap, now_ms});
}

void PipePool::Sweep(int64_t now_ms) {
  size_t stale = 0;
  while (stale < pipes_.size() && now_ms - pipes_[stale].released_ms >= kIdleMs) ++stale;
  pipes_.erase(pipes_.begin(), pipes_.begin() + static_cast<ptrdiff_t>(stale));
}

PumpResult Pump(Tunnel& t, int client, int upstream, Readiness& ready, PipePool& pool,
                bool* progressed) {
  bool moved = false;
  const bool ok = PumpDir(t, t.up, client, ready.c_rd, upstream, ready.u_wr, pool, moved) &&
                  PumpDir(t, t.down, upstream, ready.u_rd, client, ready.c_wr, pool, moved);
  *progressed = moved;
  if (!ok) return PumpResult::kFailed;
  const bool done = t.connect ? (t.up.shut && t.down.shut) : t.down.shut;
  return done ? PumpResult::kDone : PumpResult::kOpen;
}

}  // namespace rf::proxy
