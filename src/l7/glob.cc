#include "l7/glob.h"

#include <string>

namespace rf::l7 {

namespace {

// Parses the class starting at pattern[i] == '['. On success sets *end to
// the index after `]` and, when `c` is given, *matched to whether c is in
// the class. A `]` right after `[` or `[!` is a member, as in POSIX globs.
bool ParseClass(std::string_view p, size_t i, size_t* end, const char* c, bool* matched,
                std::string* why) {
  size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) negate = true, ++j;
  bool in = false, first = true;
  while (true) {
    if (j >= p.size()) {
      if (why) *why = "unclosed '[' at offset " + std::to_string(i);
      return false;
    }
    if (p[j] == ']' && !first) break;
    first = false;
    unsigned char lo = static_cast<unsigned char>(p[j]);
    if (p[j] == '\\') {
      if (j + 1 >= p.size()) {
        if (why) *why = "trailing '\\' in a class";
        return false;
      }
      lo = static_cast<unsigned char>(p[++j]);
    }
    unsigned char hi = lo;
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      j += 2;
      if (p[j] == '\\') {
        if (j + 1 >= p.size()) {
          if (why) *why = "trailing '\\' in a class";
          return false;
        }
        ++j;
      }
      hi = static_cast<unsigned char>(p[j]);
      if (hi < lo) {
        if (why) *why = "range out of order in a class at offset " + std::to_string(i);
        return false;
      }
    }
    if (c) {
      auto uc = static_cast<unsigned char>(*c);
      in = in || (uc >= lo && uc <= hi);
    }
    ++j;
  }
  *end = j + 1;
  if (matched) *matched = in != negate;
  return true;
}

}  // namespace

Status ValidateGlob(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (i + 1 >= p.size()) return Status::Error("trailing '\\' in glob");
      ++i;
    } else if (p[i] == '[') {
      size_t end = 0;
      std::string why;
      if (!ParseClass(p, i, &end, nullptr, nullptr, &why)) return Status::Error(why);
      i = end - 1;
    }
  }
  return Status::Ok();
}

// The classic single-backtrack-point algorithm: since every star matches
// any run, only the latest star needs to be retried, which bounds the work
// by pattern length times text length.
bool GlobMatch(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (ti < t.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_p = pi, star_t = ti;
        continue;
      }
      if (pc == '?') {
        ++pi, ++ti;
        continue;
      }
      if (pc == '[') {
        size_t end = 0;
        bool matched = false;
        if (!ParseClass(p, pi, &end, &t[ti], &matched, nullptr)) return false;
        if (matched) {
          pi = end, ++ti;
          continue;
        }
      } else {
        size_t lit = pi;
        if (pc == '\\') {
          if (pi + 1 >= p.size()) return false;
          lit = pi + 1;
        }
        if (p[lit] == t[ti]) {
          pi = lit + 1, ++ti;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p, ti = ++star_t;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace rf::l7
