#include "l7/websocket.h"

#include <algorithm>

#include "credentials/store.h"

namespace rf::l7 {

ClientFrameScanner::Step ClientFrameScanner::Fail(Step s, std::string why) {
  failed_ = true;
  why_ = std::move(why);
  s.error = true;
  return s;
}

ClientFrameScanner::Step ClientFrameScanner::Feed(std::string_view in) {
  Step s;
  if (failed_) return Fail(s, why_);
  size_t i = 0;
  while (i < in.size()) {
    if (payload_left_ > 0) {
      auto n = static_cast<size_t>(std::min<uint64_t>(payload_left_, in.size() - i));
      if (hold_back_ > 0 && frame_text_) {
        // Unmask and search what may be relayed; hold back a tail that
        // could be the start of a placeholder the next bytes complete.
        if (n < payload_left_) n -= std::min(n, hold_back_);
        if (n == 0) break;
        std::string text = window_;
        for (size_t k = 0; k < n; ++k)
          text.push_back(static_cast<char>(in[i + k] ^ mask_[(mask_at_ + k) % 4]));
        if (cred::MayHoldPlaceholder(text)) {
          failed_ = true;
          why_ = "a credential placeholder in a text message";
          s.refused = s.placeholder = true;
          return s;  // `used` stops in front of these bytes
        }
        mask_at_ += n;
        window_ = text.substr(text.size() - std::min(text.size(), hold_back_));
      }
      i += n;
      payload_left_ -= n;
      s.used = i;
      continue;
    }
    // A header is parsed only when all of it is here; otherwise the caller
    // keeps the tail and feeds it again with what follows.
    FrameHeader fh;
    if (!ReadFrameHeader(in.substr(i), &fh)) break;
    size_t need = fh.size;
    bool fin = fh.fin;
    uint8_t opcode = fh.opcode;
    uint64_t len = fh.length;
    if (fh.rsv) return Fail(s, "reserved bits set (no extension was negotiated)");
    if (!fh.masked) return Fail(s, "unmasked client frame");
    if (len >> 63) return Fail(s, "frame length with the top bit set");
    bool control = opcode & 0x8;
    if (control) {
      if (opcode > 0xA) return Fail(s, "unknown control opcode");
      if (!fin || len > 125) return Fail(s, "fragmented or long control frame");
      if (opcode == 0x8) s.closed = true;
    } else if (opcode == 0x0) {
      if (!in_message_) return Fail(s, "continuation frame outside a message");
      if (fin) in_message_ = false;
    } else if (opcode == 0x1 || opcode == 0x2) {
      if (in_message_) return Fail(s, "new message inside a fragmented message");
      text_message_ = opcode == 0x1;
      if (opcode == 0x1) {
        if (!text_allowed_) {
          failed_ = true;
          why_ = "text message refused";
          s.refused = true;
          return s;  // `used` stops in front of this header
        }
        ++s.text_messages;
      } else {
        ++s.binary_messages;
      }
      in_message_ = !fin;
    } else {
      return Fail(s, "unknown data opcode");
    }
    // A text frame's payload: a text message's first frame or one of its
    // continuations (control frames between them carry none).
    frame_text_ = !control && (opcode == 0x1 || (opcode == 0x0 && text_message_));
    if (frame_text_ && opcode == 0x1) window_.clear();
    if (!control && fin) text_message_ = false;
    for (int k = 0; k < 4; ++k) mask_[k] = static_cast<unsigned char>(in[i + need - 4 + k]);
    mask_at_ = 0;
    if (control && hold_back_ > 0 && len > 0) {
      // A control frame's payload (a ping, pong or close reason, at most
      // 125 bytes) is searched whole, apart from any text message's window:
      // a placeholder there would reach the server too.
      if (in.size() - i < need + len) break;  // the rest of it comes later
      std::string payload;
      for (size_t k = 0; k < len; ++k)
        payload.push_back(static_cast<char>(in[i + need + k] ^ mask_[k % 4]));
      if (cred::MayHoldPlaceholder(payload)) {
        failed_ = true;
        why_ = "a credential placeholder in a control frame";
        s.refused = s.placeholder = true;
        return s;  // `used` stops in front of this frame
      }
    }
    i += need;
    payload_left_ = len;
    s.used = i;
  }
  return s;
}

bool ReadFrameHeader(std::string_view h, FrameHeader* out) {
  if (h.size() < 2) return false;
  auto b0 = static_cast<unsigned char>(h[0]), b1 = static_cast<unsigned char>(h[1]);
  size_t need = 2;
  uint8_t len7 = b1 & 0x7f;
  if (len7 == 126) need += 2;
  if (len7 == 127) need += 8;
  if (b1 & 0x80) need += 4;
  if (h.size() < need) return false;
  out->size = need;
  out->fin = b0 & 0x80;
  out->rsv = b0 & 0x70;
  out->opcode = b0 & 0x0f;
  out->masked = b1 & 0x80;
  out->length = len7;
  if (len7 >= 126) {
    out->length = 0;
    for (size_t k = 2; k < (len7 == 126 ? 4u : 10u); ++k)
      out->length = (out->length << 8) | static_cast<unsigned char>(h[k]);
  }
  return true;
}

std::string CloseFrame(uint16_t code, std::string_view reason) {
  reason = reason.substr(0, 123);
  std::string f;
  f.push_back(static_cast<char>(0x88));
  f.push_back(static_cast<char>(2 + reason.size()));
  f.push_back(static_cast<char>(code >> 8));
  f.push_back(static_cast<char>(code & 0xff));
  f += reason;
  return f;
}

}  // namespace rf::l7
