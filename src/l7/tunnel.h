// One inspected tunnel: the bytes between the command's connection and the
// destination's, through TLS termination (when the command speaks TLS) and
// the Inspector. The proxy's worker owns the sockets and the event loop; it
// tells the tunnel which sides became readable or writable and the tunnel
// moves what it can, never blocking.
//
// TLS is detected from the first byte the command sends (a handshake
// record, 0x16): then the command gets a leaf of the run's authority and the
// destination is reached over verified TLS; otherwise both sides are plain
// HTTP. With `tls: skip` nothing is terminated: a command that speaks TLS
// then fails to parse as HTTP and is refused (inspection cannot be skipped
// by choosing TLS).
//
// Memory is bounded: a side is read only while the buffer toward the other
// side holds less than kMaxBuffered bytes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "l7/inspector.h"
#include "tls/session.h"

namespace rf::l7 {

struct TunnelSetup {
  int client_fd = -1;    // the command's connection (not owned)
  int upstream_fd = -1;  // connected to the destination (not owned)
  InspectorConfig inspector;
  bool tls_skip = false;
  SSL_CTX* tls_server = nullptr;  // toward the command
  SSL_CTX* tls_client = nullptr;  // toward the destination
  tls::Authority* authority = nullptr;
  std::string initial;   // client bytes already read after the CONNECT head
  std::string preamble;  // sent to the command first, in the clear (the CONNECT answer)
};

struct Readiness {
  bool client_read = false, client_write = false;
  bool upstream_read = false, upstream_write = false;
};

class Tunnel {
 public:
  static constexpr size_t kMaxBuffered = 256 * 1024;
  // Pipelined requests awaiting their answers before the command is read
  // again.
  static constexpr size_t kMaxPending = 64;
  static constexpr size_t kReadChunk = 64 * 1024;

  explicit Tunnel(TunnelSetup setup);

  enum class Step { kContinue, kDone };
  // Moves bytes until nothing more can move now. Events of the requests
  // decided meanwhile are appended to `events`. kDone: close both sockets;
  // `error()` says why when it was not an orderly end.
  Step Pump(Readiness& ready, std::vector<RequestEvent>* events);
  const std::string& error() const { return error_; }
  // The inspector's endpoints for requests not decided yet (Inspector::SetEndpoints).
  void SetEndpoints(std::vector<InspectedEndpoint> endpoints) {
    inspector_.SetEndpoints(std::move(endpoints));
  }
  bool tls() const { return mode_ == Mode::kTls; }

 private:
  enum class Mode { kUnknown, kPlain, kTls };
  enum class Side { kClient, kUpstream };
  bool Detect(Readiness& ready);
  bool Handshakes(Readiness& ready, bool* progressed);
  // Reads into `buf`; returns bytes read, 0 when nothing now; sets *eof.
  size_t ReadSide(Side side, Readiness& ready, char* buf, size_t len, bool* eof, bool* failed);
  // Writes from `out`; returns false on a failure.
  bool WriteSide(Side side, Readiness& ready, std::string& out, size_t& off, bool* progressed);
  void Absorb(InspectorOutput& o, std::vector<RequestEvent>* events);

  TunnelSetup setup_;
  Inspector inspector_;
  Mode mode_ = Mode::kUnknown;
  std::unique_ptr<tls::Session> client_tls_, upstream_tls_;
  bool client_hs_done_ = false, upstream_hs_done_ = false;
  bool upstream_failed_ = false;
  std::string upstream_error_;
  std::string to_client_, to_upstream_;
  size_t to_client_off_ = 0, to_upstream_off_ = 0;
  std::string initial_;
  std::string preamble_;
  size_t preamble_off_ = 0;
  bool client_eof_ = false, upstream_eof_ = false, upstream_shut_ = false;
  bool closing_ = false;  // flush to the client, then done
  std::string error_;
  std::unique_ptr<char[]> read_buf_;  // kReadChunk bytes, reused by every Pump
};

}  // namespace rf::l7
