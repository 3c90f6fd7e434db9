#include "l7/tunnel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace rf::l7 {

namespace {

std::string ErrorBody(const std::string& error, const std::string& detail) {
  nlohmann::json j = {{"error", error}, {"detail", detail}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

Tunnel::Tunnel(TunnelSetup setup)
    : setup_(std::move(setup)),
      inspector_(setup_.inspector),
      initial_(std::move(setup_.initial)),
      preamble_(std::move(setup_.preamble)),
      read_buf_(new char[kReadChunk]) {}

bool Tunnel::Detect(Readiness& ready) {
  unsigned char first = 0;
  if (!initial_.empty()) {
    first = static_cast<unsigned char>(initial_[0]);
  } else {
    ssize_t n = recv(setup_.client_fd, &first, 1, MSG_PEEK);
    if (n == 0) {
      client_eof_ = true;
      return true;  // nothing was ever sent: Pump ends the tunnel
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ready.client_read = false;
        return false;
      }
      error_ = "reading the tunnel: " + std::string(strerror(errno));
      client_eof_ = true;
      return true;
    }
  }
  if (first == 0x16 && !setup_.tls_skip) {
    if (!initial_.empty()) {
      // The ClientHello came with the CONNECT head, before the proxy's
      // answer: clients wait for the answer, and these bytes cannot be
      // handed to the TLS engine, which reads the socket itself.
      error_ = "TLS data sent before the CONNECT answer";
      client_eof_ = true;
      return true;
    }
    mode_ = Mode::kTls;
    InspectorConfig cfg = setup_.inspector;
    cfg.tls = true;
    inspector_ = Inspector(std::move(cfg));
    auto server = tls::Session::Server(setup_.tls_server, setup_.authority, setup_.client_fd,
                                       setup_.inspector.host);
    auto client =
        tls::Session::Client(setup_.tls_client, setup_.upstream_fd, setup_.inspector.host);
    if (!server.ok() || !client.ok()) {
      error_ = !server.ok() ? server.status().reason() : client.status().reason();
      client_eof_ = true;
      return true;
    }
    client_tls_ = std::move(*server);
    upstream_tls_ = std::move(*client);
  } else {
    mode_ = Mode::kPlain;
    client_hs_done_ = upstream_hs_done_ = true;
  }
  return true;
}

bool Tunnel::Handshakes(Readiness& ready, bool* progressed) {
  if (mode_ != Mode::kTls) return true;
  if (!client_hs_done_) {
    switch (client_tls_->Handshake()) {
      case tls::Io::kOk:
        client_hs_done_ = true, *progressed = true;
        break;
      case tls::Io::kWantRead:
        ready.client_read = false;
        break;
      case tls::Io::kWantWrite:
        ready.client_write = false;
        break;
      case tls::Io::kClosed:
      case tls::Io::kError:
        error_ = "TLS with the command: " + client_tls_->error();
        return false;
    }
  }
  if (!upstream_hs_done_ && !upstream_failed_) {
    switch (upstream_tls_->Handshake()) {
      case tls::Io::kOk:
        upstream_hs_done_ = true, *progressed = true;
        break;
      case tls::Io::kWantRead:
        ready.upstream_read = false;
        break;
      case tls::Io::kWantWrite:
        ready.upstream_write = false;
        break;
      case tls::Io::kClosed:
      case tls::Io::kError:
        upstream_failed_ = true, *progressed = true;
        upstream_error_ = upstream_tls_->error();
        break;
    }
  }
  return true;
}

size_t Tunnel::ReadSide(Side side, Readiness& ready, char* buf, size_t len, bool* eof,
                        bool* failed) {
  bool client = side == Side::kClient;
  bool& can_read = client ? ready.client_read : ready.upstream_read;
  bool& can_write = client ? ready.client_write : ready.upstream_write;
  tls::Session* s =
      mode_ == Mode::kTls ? (client ? client_tls_.get() : upstream_tls_.get()) : nullptr;
  if (s) {
    size_t n = 0;
    switch (s->Read(buf, len, &n)) {
      case tls::Io::kOk:
        return n;
      case tls::Io::kWantRead:
        can_read = false;
        return 0;
      case tls::Io::kWantWrite:
        can_write = false;
        return 0;
      case tls::Io::kClosed:
        *eof = true;
        return 0;
      case tls::Io::kError:
        // An unclean end (no close_notify) from a peer that just closed is
        // an end; anything else is a failure worth reporting.
        *eof = true;
        *failed = !s->error().empty() && s->error().find("connection closed") == std::string::npos;
        if (*failed) error_ = s->error();
        return 0;
    }
    return 0;
  }
  ssize_t n = recv(client ? setup_.client_fd : setup_.upstream_fd, buf, len, 0);
  if (n > 0) return static_cast<size_t>(n);
  if (n == 0) {
    *eof = true;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    can_read = false;
  } else {
    *eof = *failed = true;
    error_ = std::string("read: ") + strerror(errno);
  }
  return 0;
}

bool Tunnel::WriteSide(Side side, Readiness& ready, std::string& out, size_t& off,
                       bool* progressed) {
  bool client = side == Side::kClient;
  bool& can_write = client ? ready.client_write : ready.upstream_write;
  bool& can_read = client ? ready.client_read : ready.upstream_read;
  tls::Session* s =
      mode_ == Mode::kTls ? (client ? client_tls_.get() : upstream_tls_.get()) : nullptr;
  while (off < out.size()) {
    size_t n = 0;
    if (s) {
      tls::Io r = s->Write(out.data() + off, out.size() - off, &n);
      if (r == tls::Io::kWantWrite) {
        can_write = false;
        break;
      }
      if (r == tls::Io::kWantRead) {
        can_read = false;
        break;
      }
      if (r != tls::Io::kOk) {
        error_ = s->error();
        return false;
      }
    } else {
      if (!can_write) break;
      ssize_t w = send(client ? setup_.client_fd : setup_.upstream_fd, out.data() + off,
                       out.size() - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          can_write = false;
          break;
        }
        error_ = std::string("write: ") + strerror(errno);
        return false;
      }
      n = static_cast<size_t>(w);
    }
    off += n;
    *progressed = true;
  }
  if (off == out.size()) {
    out.clear();
    off = 0;
  } else if (off > kMaxBuffered) {
    out.erase(0, off);
    off = 0;
  }
  return true;
}

void Tunnel::Absorb(InspectorOutput& o, std::vector<RequestEvent>* events) {
  // Usually the buffer toward a side is empty (all written): take the
  // inspector's output as it is instead of copying it.
  if (to_upstream_.empty())
    to_upstream_.swap(o.to_upstream);
  else
    to_upstream_ += o.to_upstream;
  if (to_client_.empty())
    to_client_.swap(o.to_client);
  else
    to_client_ += o.to_client;
  for (auto& e : o.events) events->push_back(std::move(e));
  if (o.close) closing_ = true;
  o = InspectorOutput();
}

Tunnel::Step Tunnel::Pump(Readiness& ready, std::vector<RequestEvent>* events) {
  if (preamble_off_ < preamble_.size()) {
    // The CONNECT answer goes out before the command may start TLS.
    Mode saved = mode_;
    mode_ = Mode::kPlain;
    bool progressed = false;
    bool ok = WriteSide(Side::kClient, ready, preamble_, preamble_off_, &progressed);
    mode_ = saved;
    if (!ok) return Step::kDone;
    if (!preamble_.empty()) return Step::kContinue;
  }
  if (mode_ == Mode::kUnknown) {
    if (!Detect(ready)) return Step::kContinue;
    if (client_eof_ && mode_ == Mode::kUnknown) return Step::kDone;
    if (!initial_.empty()) {
      InspectorOutput o;
      inspector_.FromClient(initial_, &o);
      initial_.clear();
      Absorb(o, events);
    }
  }
  char* buf = read_buf_.get();
  for (int iter = 0; iter < 256; ++iter) {
    bool progressed = false;
    if (!Handshakes(ready, &progressed)) return Step::kDone;
    if (upstream_failed_ && client_hs_done_ && !closing_) {
      // The command's TLS is up, the destination's is not: say why on it.
      RequestEvent ev;
      ev.status = 502;
      ev.reason = upstream_error_;
      events->push_back(ev);
      to_client_ += LocalResponse(502, ErrorBody("upstream_tls", upstream_error_), true);
      closing_ = true, progressed = true;
    }
    bool upstream_up = upstream_hs_done_ && !upstream_failed_;

    // Command -> inspector -> destination.
    // Read the command only while what it caused can still go somewhere:
    // room toward the destination, room toward the command (refusals are
    // answered there), and a bounded number of requests awaiting answers.
    if (client_hs_done_ && !client_eof_ && !closing_ && ready.client_read &&
        to_upstream_.size() - to_upstream_off_ < kMaxBuffered &&
        to_client_.size() - to_client_off_ < kMaxBuffered && inspector_.pending() < kMaxPending) {
      bool eof = false, failed = false;
      size_t n = ReadSide(Side::kClient, ready, buf, kReadChunk, &eof, &failed);
      if (failed) return Step::kDone;
      if (n > 0) {
        InspectorOutput o;
        inspector_.FromClient(std::string_view(buf, n), &o);
        Absorb(o, events);
        progressed = true;
      }
      if (eof) client_eof_ = true, progressed = true;
    }
    if (upstream_up &&
        !WriteSide(Side::kUpstream, ready, to_upstream_, to_upstream_off_, &progressed))
      return Step::kDone;
    if (client_eof_ && upstream_up && to_upstream_.empty() && !upstream_shut_) {
      upstream_shut_ = true;
      if (mode_ == Mode::kPlain) shutdown(setup_.upstream_fd, SHUT_WR);
    }

    // Destination -> inspector -> command.
    if (upstream_up && !upstream_eof_ && ready.upstream_read &&
        to_client_.size() - to_client_off_ < kMaxBuffered) {
      bool eof = false, failed = false;
      size_t n = ReadSide(Side::kUpstream, ready, buf, kReadChunk, &eof, &failed);
      if (failed) return Step::kDone;
      if (n > 0) {
        InspectorOutput o;
        inspector_.FromUpstream(std::string_view(buf, n), &o);
        Absorb(o, events);
        progressed = true;
      }
      if (eof) upstream_eof_ = true, progressed = true;
    }
    if (client_hs_done_ &&
        !WriteSide(Side::kClient, ready, to_client_, to_client_off_, &progressed))
      return Step::kDone;

    bool flushed = to_client_.empty();
    if (flushed && (closing_ || upstream_eof_)) return Step::kDone;
    if (client_eof_ && upstream_eof_) return Step::kDone;
    if (!progressed) break;
  }
  return Step::kContinue;
}

}  // namespace rf::l7
