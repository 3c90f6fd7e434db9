#include "policy/glob.h"

#include <utility>
#include <vector>

namespace rf {

namespace {

// A glob is matched by dynamic programming over the path, one row per pattern
// token from the end: O(pattern x path) time and O(path) memory whatever the
// pattern. (Backtracking was exponential in the number of wildcards, and the
// path, /proc/<pid>/exe, is chosen by the sandboxed program; found by
// tests/fuzz/fuzz_glob_matcher.)
struct GlobToken {
  char kind;  // 'c' literal, '?', '*' (within a component), 'S' (`**`, crosses '/')
  char c;
  bool skip;  // `**` in "/**/": "**/" may also match nothing
};

bool GlobDp(const std::string& p, const std::string& s) {
  std::vector<GlobToken> t;
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*') {
      t.push_back({'S', 0, i >= 1 && p[i - 1] == '/' && i + 2 < p.size() && p[i + 2] == '/'});
      i += 2;
    } else {
      t.push_back({p[i] == '*' || p[i] == '?' ? p[i] : 'c', p[i], false});
      ++i;
    }
  }
  const size_t m = s.size();
  // after: tokens i+1.. against s[j..]; after2: tokens i+2..; row: tokens i..
  std::vector<char> after(m + 1, 0), after2(m + 1, 0), row(m + 1, 0);
  after[m] = 1;
  for (size_t i = t.size(); i-- > 0;) {
    bool consume = false;  // `**` takes s[j..k) for some k, the rest matches s[k..]
    for (size_t j = m + 1; j-- > 0;) {
      bool r;
      switch (t[i].kind) {
        case 'c':
          r = j < m && s[j] == t[i].c && after[j + 1];
          break;
        case '?':
          r = j < m && s[j] != '/' && after[j + 1];
          break;
        case '*':
          r = after[j] || (j < m && s[j] != '/' && row[j + 1]);
          break;
        default:
          consume = after[j] || (j < m && consume);
          r = consume || (t[i].skip && after2[j]);
          break;
      }
      row[j] = r;
    }
    std::swap(after2, after);
    std::swap(after, row);
  }
  return after[0];
}

}  // namespace

bool GlobMatch(const std::string& pattern, const std::string& path) {
  if (pattern.find_first_of("*?") == std::string::npos) return pattern == path;
  // The literal prefix is compared as is (one byte is kept for the "/**/"
  // look-behind); the usual "/usr/lib/x/**" then costs almost nothing.
  size_t keep = pattern.find_first_of("*?");
  keep = keep > 0 ? keep - 1 : 0;
  if (path.compare(0, keep, pattern, 0, keep) != 0) return false;
  return GlobDp(pattern.substr(keep), path.substr(keep));
}

}  // namespace rf
