// Shared by the libFuzzer targets: a failed property aborts (libFuzzer
// saves the input), and the check that a rebuilt HTTP head is one clean
// head.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace rf::fuzz {

inline void Check(bool ok) {
  if (!ok) abort();
}

// The lines of `head` without their CRLF, checked: it ends with exactly one
// blank line, and no line holds a CR, LF or NUL.
inline std::vector<std::string_view> CleanHeadLines(const std::string& head) {
  Check(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  Check(head.find("\r\n\r\n") == head.size() - 4);
  std::vector<std::string_view> lines;
  std::string_view rest(head.data(), head.size() - 2);  // drop the final empty line
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    Check(eol != std::string_view::npos);
    std::string_view line = rest.substr(0, eol);
    Check(line.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    lines.push_back(line);
    rest.remove_prefix(eol + 2);
  }
  return lines;
}

}  // namespace rf::fuzz
