// libFuzzer target: the binary-path glob matcher and the host matcher.
//
// Input: lines. Line 1 is a glob pattern, line 2 a path; then host patterns
// for a Matcher, the last line being the host to look up.
// Properties checked beyond "no crash, no leak, no sanitizer report":
//  - GlobMatch agrees with an independent matcher (dynamic programming over
//    the same grammar: `*` and `?` stay within one path component, `**`
//    crosses `/`, `/**/` also matches a single `/`), and, for patterns
//    without `**`, `[` or `\`, with glibc fnmatch(FNM_PATHNAME);
//  - Matcher::MatchHostPort agrees with a direct reading of the documented
//    rules (exact, `*.` one label, `**.` one or more labels, `*` inside the
//    first label, case-insensitive, trailing dot ignored) for every pattern
//    the loader accepts (rf::ValidHostPattern).
#include <fnmatch.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/glob.h"
#include "policy/loader.h"
#include "policy/policy.h"
#include "proxy/matcher.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

enum class Tok { kChar, kAny1, kStar, kStarStar };
struct Token {
  Tok kind;
  char c = 0;
  bool slash_optional = false;  // `**` in "/**/": "**/" may match nothing
};

std::vector<Token> Tokenize(const std::string& p) {
  std::vector<Token> out;
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*') {
      Token t{Tok::kStarStar};
      t.slash_optional = i >= 1 && p[i - 1] == '/' && i + 2 < p.size() && p[i + 2] == '/';
      out.push_back(t);
      i += 2;
    } else if (p[i] == '*') {
      out.push_back({Tok::kStar});
      ++i;
    } else if (p[i] == '?') {
      out.push_back({Tok::kAny1});
      ++i;
    } else {
      out.push_back({Tok::kChar, p[i]});
      ++i;
    }
  }
  return out;
}

// m[i][j]: tokens[i..] match s[j..].
bool ReferenceGlob(const std::string& pattern, const std::string& s) {
  if (pattern.find_first_of("*?") == std::string::npos) return pattern == s;
  std::vector<Token> t = Tokenize(pattern);
  size_t n = t.size(), m = s.size();
  std::vector<std::vector<char>> ok(n + 1, std::vector<char>(m + 1, 0));
  ok[n][m] = 1;
  for (size_t i = n; i-- > 0;) {
    bool consume = false;  // `**` at i matches s[j..k) for some k, then tokens i+1.. match s[k..]
    for (size_t j = m + 1; j-- > 0;) {
      bool r = false;
      switch (t[i].kind) {
        case Tok::kChar:
          r = j < m && s[j] == t[i].c && ok[i + 1][j + 1];
          break;
        case Tok::kAny1:
          r = j < m && s[j] != '/' && ok[i + 1][j + 1];
          break;
        case Tok::kStar:
          r = ok[i + 1][j] || (j < m && s[j] != '/' && ok[i][j + 1]);
          break;
        case Tok::kStarStar:
          consume = ok[i + 1][j] || (j < m && consume);
          r = consume;
          // "/**/x" also matches "/x": skip the "**/" altogether (only in
          // place of matching, not after `**` has consumed something).
          if (t[i].slash_optional && i + 2 <= n) r = r || ok[i + 2][j];
          break;
      }
      ok[i][j] = r;
    }
  }
  return ok[0][0];
}

// The matcher before the fuzzer found it exponential (backtracking), kept as
// a second oracle for inputs small enough for it.
bool Backtracking(const char* base, const char* p, const char* s) {
  while (*p) {
    if (p[0] == '*' && p[1] == '*') {
      p += 2;
      if (*p == '/' && p - base >= 3 && p[-3] == '/' && Backtracking(base, p + 1, s)) return true;
      for (const char* t = s;; ++t) {
        if (Backtracking(base, p, t)) return true;
        if (!*t) return false;
      }
    }
    if (*p == '*') {
      ++p;
      for (const char* t = s;; ++t) {
        if (Backtracking(base, p, t)) return true;
        if (!*t || *t == '/') return false;
      }
    }
    if (!*s) return false;
    if (*p == '?') {
      if (*s == '/') return false;
    } else if (*p != *s) {
      return false;
    }
    ++p, ++s;
  }
  return *s == '\0';
}

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string StripDot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The documented host rules, read directly (names without ':' only).
bool ReferenceHost(const std::string& pattern, const std::string& host) {
  std::string p = StripDot(Lower(pattern)), h = host;
  if (p.rfind("**.", 0) == 0) {
    std::string suffix = p.substr(2);  // ".example.com"
    if (!EndsWith(h, suffix)) return false;
    std::string head = h.substr(0, h.size() - suffix.size());
    return !head.empty() && head.front() != '.';
  }
  if (p.rfind("*.", 0) == 0) {
    std::string suffix = p.substr(1);
    if (!EndsWith(h, suffix)) return false;
    std::string head = h.substr(0, h.size() - suffix.size());
    return !head.empty() && head.find('.') == std::string::npos;
  }
  // OpenShell's `*` inside the first label (`*-ai.example.com`): the label
  // is a glob, the rest is exact.
  const size_t dot = p.find('.');
  if (p.find('*') < dot && dot != std::string::npos) {
    const size_t hd = h.find('.');
    return hd != std::string::npos && h.compare(hd, std::string::npos, p, dot) == 0 &&
           ReferenceGlob(p.substr(0, dot), h.substr(0, hd));
  }
  return p == h;
}

std::vector<std::string> Lines(const uint8_t* data, size_t size) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      out.emplace_back();
    } else {
      out.back().push_back(static_cast<char>(data[i]));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2048) return 0;
  std::vector<std::string> lines = Lines(data, size);
  if (lines.size() >= 2) {
    const std::string& pattern = lines[0];
    const std::string& path = lines[1];
    bool got = rf::GlobMatch(pattern, path);
    bool embedded_nul = (pattern + path).find('\0') != std::string::npos;
    if (!embedded_nul) {
      Check(got == ReferenceGlob(pattern, path));
      size_t stars = 0;
      for (char c : pattern) stars += c == '*' || c == '?';
      if (stars <= 6 && pattern.size() <= 48 && path.size() <= 48 &&
          pattern.find_first_of("*?") != std::string::npos)
        Check(got == Backtracking(pattern.c_str(), pattern.c_str(), path.c_str()));
      if (pattern.find("**") == std::string::npos &&
          pattern.find_first_of("[\\") == std::string::npos)
        Check(got == (fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0));
    }
  }
  if (lines.size() >= 3) {
    std::vector<rf::NetworkPolicy> policies(1);
    policies[0].key = "fuzz";
    for (size_t i = 0; i + 1 < lines.size() && i < 32; ++i) {
      if (lines[i].empty() || lines[i].find(':') != std::string::npos ||
          !rf::ValidHostPattern(lines[i]))
        continue;
      rf::Endpoint e;
      e.host = lines[i];
      e.ports = {443};
      policies[0].endpoints.push_back(e);
    }
    rf::proxy::Matcher m(policies);
    std::string host = rf::proxy::NormalizeHost(lines.back());
    if (host.find(':') != std::string::npos) return 0;
    rf::proxy::Stage st = m.MatchHostPort(host, 443);
    std::vector<char> hit(policies[0].endpoints.size(), 0);
    for (int i : st.endpoints) hit[static_cast<size_t>(i)] = 1;
    for (size_t i = 0; i < policies[0].endpoints.size(); ++i)
      Check(static_cast<bool>(hit[i]) == ReferenceHost(policies[0].endpoints[i].host, host));
    Check(m.MatchHostPort(host, 444).endpoints.empty());
  }
  return 0;
}
