// The request target of an inspected HTTP request, normalised once so that
// rules are checked against exactly what the upstream will act on.
//
// - Only origin-form (`/path?query`) is accepted; `#`, spaces, control
//   characters and bytes above 0x7e in the raw target are refused.
// - Each path segment is percent-decoded once; "." and ".." (also when
//   encoded) are resolved; a ".." above the root is refused; empty segments
//   (`//`) collapse. A decoded control character, NUL or backslash is
//   refused (servers differ on what `\` means).
// - Path parameters (`;...` up to the next `/`) are dropped from each
//   segment first, as servers that act on the path without them do; an
//   encoded `;` is refused.
// - An encoded `/` (`%2F`) is refused unless the endpoint sets
//   `allow_encoded_slash`; then it stays `%2F` in `path`, so a rule can
//   match it literally (`/@scope%2F*`); a `.` or `..` between encoded
//   slashes is refused. A literal `%` in `path` is always
//   written `%25`: `path` is unambiguous.
// - The request sent upstream carries `forward`: the normalised path,
//   re-encoded, and the query exactly as received (validated). The upstream
//   never sees a spelling the rules did not.
// - Query parameters are split on `&`, and names and values decoded
//   (`%XX`, `+` as space) for the query matchers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rf::l7 {

struct QueryParam {
  std::string name, value;
};

struct Target {
  std::string path;  // normalised, for matching
  std::vector<QueryParam> query;
  std::string raw_query;  // after '?', as received; empty when absent
  bool has_query = false;
  std::string forward;  // origin-form to send upstream
};

// Errors are client errors (HTTP 400); the reason names what is wrong.
Result<Target> NormalizeTarget(std::string_view target, bool allow_encoded_slash);

}  // namespace rf::l7
