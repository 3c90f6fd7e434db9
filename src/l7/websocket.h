// Client-to-server WebSocket frames on an inspected connection (RFC 6455),
// scanned as they pass, payloads never buffered. The scanner enforces what
// a server must (frames masked, no reserved bits since no extension was
// negotiated, control frames short and unfragmented, continuations only
// inside a message, valid opcodes) and stops in front of the header of a
// text message the rules refuse, so not one byte of it is relayed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rf::l7 {

class ClientFrameScanner {
 public:
  explicit ClientFrameScanner(bool text_allowed) : text_allowed_(text_allowed) {}

  // Bytes after `used` (an incomplete frame header) are the caller's to keep
  // and feed again with the bytes that follow them.
  struct Step {
    size_t used = 0;           // bytes that may be relayed
    size_t text_messages = 0;  // text messages that started in them
    size_t binary_messages = 0;
    bool refused = false;  // stopped before a refused text message
    bool error = false;    // a protocol violation; `why` says which
    bool closed = false;   // a close frame passed
    // stopped before a text payload holding a credential placeholder
    // (refused is set too)
    bool placeholder = false;
  };
  Step Feed(std::string_view in);
  const std::string& why() const { return why_; }
  // Text payloads are unmasked and searched for credential placeholder
  // prefixes (docs/credentials.md): the bytes of one are never relayed.
  // The last few bytes of an incomplete text frame are held back (left
  // after `used`) until it is known they do not start one.
  void ScanForPlaceholders(size_t hold_back) { hold_back_ = hold_back; }

 private:
  Step Fail(Step s, std::string why);

  bool text_allowed_;
  uint64_t payload_left_ = 0;
  bool in_message_ = false;  // a fragmented data message is open
  bool failed_ = false;
  std::string why_;
  size_t hold_back_ = 0;        // 0: payloads are not looked at
  bool text_message_ = false;   // the data message in progress is text
  bool frame_text_ = false;     // the frame in progress carries text
  unsigned char mask_[4] = {};  // of the frame in progress
  uint64_t mask_at_ = 0;        // payload bytes of the frame seen
  std::string window_;          // the last unmasked text bytes seen
};

// The header of one frame at the start of `in`, when all of it is there.
struct FrameHeader {
  size_t size = 0;  // header bytes, mask key included
  uint64_t length = 0;
  uint8_t opcode = 0, rsv = 0;
  bool fin = false, masked = false;
};
bool ReadFrameHeader(std::string_view in, FrameHeader* h);

// A close frame the proxy sends to the client (server frames are not
// masked): 1008 "policy violation" with a short reason.
std::string CloseFrame(uint16_t code, std::string_view reason);

}  // namespace rf::l7
