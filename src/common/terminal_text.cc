#include "common/terminal_text.h"

#include <cstdint>
#include <cstdio>

namespace rf {

namespace {

void Escape(unsigned char c, std::string& out) {
  char buf[5];
  snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

// Length of a valid UTF-8 sequence at s[i] (shortest form, no surrogates),
// with its code point; 0 when invalid.
size_t Utf8At(const std::string& s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n;
  uint32_t v;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, v = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, v = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    v = v << 6 | (b(k) & 0x3f);
  }
  if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) || (n == 4 && v < 0x10000) ||
      v > 0x10ffff)
    return 0;
  *cp = v;
  return n;
}

}  // namespace

std::string TerminalText(const std::string& s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f)
        Escape(c, out);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t n = Utf8At(s, i, &cp);
    if (n == 0 || (cp >= 0x80 && cp <= 0x9f)) {
      for (size_t k = 0; k < (n ? n : 1); ++k) Escape(static_cast<unsigned char>(s[i + k]), out);
      i += n ? n : 1;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

}  // namespace rf
