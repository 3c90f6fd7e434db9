// The policy loader's YAML reading: file:line:col errors collected for the
// whole file, typed scalars (strings, booleans, integers, ports, absolute
// paths), mappings checked for unknown and duplicate keys, and the bounds
// on what a document stands for once its aliases are expanded
// (docs/policy.md, "Limits"). The section loaders (policy/sections.h) are
// written in terms of it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace rf::load {

// Bounds on what a policy stands for once its YAML aliases are expanded.
// An alias shares the anchored node, but the loader (and the proxy's
// matcher after it) reads it again each time it is used, so a small file
// can name millions of endpoints. These are far above what a policy
// written by hand needs and keep loading fast and small (docs/policy.md,
// "Limits", has the figures).
inline constexpr size_t kMaxNodes = 200000;           // YAML nodes, keys and values
inline constexpr size_t kMaxScalarBytes = 16u << 20;  // text of all scalars together
inline constexpr int kMaxDepth = 64;                  // nesting of mappings and lists
inline constexpr size_t kMaxEndpoints = 10000;        // all network_policies together
inline constexpr size_t kMaxBinaries = 10000;         // all network_policies together
inline constexpr size_t kMaxPaths = 10000;            // filesystem_policy read_only + read_write

// 200000 -> "200,000", for the bounds' messages.
std::string Thousands(size_t n);

class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}

  // "file:line:col" of `m`.
  std::string Where(const YAML::Mark& m) const {
    std::ostringstream os;
    os << source_ << ":" << (m.is_null() ? 0 : m.line + 1) << ":"
       << (m.is_null() ? 0 : m.column + 1);
    return os.str();
  }
  void Error(const YAML::Mark& m, const std::string& msg) {
    errors_.push_back(Where(m) + ": " + msg);
  }
  void Warning(const YAML::Mark& m, const std::string& msg) {
    warnings_.push_back(Where(m) + ": warning: " + msg);
  }
  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }

  // Counts one more entry of a bounded kind (endpoints, binaries, paths);
  // false past `limit`, with one error for the first entry past it.
  bool Within(size_t& count, size_t limit, const YAML::Mark& m, const std::string& what) {
    if (++count <= limit) return true;
    if (count == limit + 1)
      Error(m, "more than " + Thousands(limit) + " " + what +
                   " (aliases count each time they are used; docs/policy.md, \"Limits\")");
    return false;
  }
  size_t endpoints = 0, binaries = 0, paths = 0;
  bool has_errors() const { return !errors_.empty(); }
  std::string Joined() const {
    std::string out;
    for (size_t i = 0; i < errors_.size(); ++i) out += (i ? "\n" : "") + errors_[i];
    return out;
  }

  // Visits each key of a mapping, rejecting duplicates and keys not in
  // `allowed` (when non-empty). Returns false if `node` is not a mapping.
  bool ForEachKey(const YAML::Node& node, const std::string& where,
                  const std::set<std::string>& allowed,
                  const std::function<void(const std::string&, const YAML::Node& key,
                                           const YAML::Node& value)>& fn) {
    if (!node.IsMap()) {
      Error(node.Mark(), where + " must be a mapping");
      return false;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // it-> yields a temporary pair: copy the (cheap, shared) node handles.
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        Error(k.Mark(), "keys in " + where + " must be plain strings");
        continue;
      }
      std::string key = k.Scalar();
      if (!seen.insert(key).second) {
        Error(k.Mark(), "duplicate key '" + key + "' in " + where);
        continue;
      }
      if (!allowed.empty() && !allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        Error(k.Mark(), "unknown key '" + key + "' in " + where + " (allowed: " + list + ")");
        continue;
      }
      fn(key, k, v);
    }
    return true;
  }

  std::optional<std::string> String(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      Error(n.Mark(), what + " must be a non-empty string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<bool> Bool(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar() && n.Tag() != "!") {
      if (n.Scalar() == "true") return true;
      if (n.Scalar() == "false") return false;
    }
    Error(n.Mark(), what + " must be true or false");
    return std::nullopt;
  }

  std::optional<long> Integer(const YAML::Node& n, const std::string& what, long lo, long hi) {
    if (n.IsScalar() && n.Tag() != "!") {
      const std::string& s = n.Scalar();
      bool digits =
          !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
      if (digits) {
        long v = std::stol(s);
        if (v >= lo && v <= hi) return v;
        Error(n.Mark(), what + " " + s + " is out of range (" + std::to_string(lo) + ".." +
                            std::to_string(hi) + ")");
        return std::nullopt;
      }
    }
    Error(n.Mark(),
          what + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return std::nullopt;
  }

  std::optional<uint16_t> Port(const YAML::Node& n, const std::string& what) {
    auto v = Integer(n, what, 1, 65535);
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
  }

  template <typename F>
  void Sequence(const YAML::Node& n, const std::string& what, F&& each) {
    if (!n.IsSequence()) {
      Error(n.Mark(), what + " must be a list");
      return;
    }
    for (const auto& item : n) each(item);
  }

  // Absolute, no `..` component, no NUL. Trailing slashes are dropped.
  std::optional<std::string> Path(const YAML::Node& n, const std::string& what) {
    auto s = String(n, what);
    if (!s) return std::nullopt;
    std::string p = *s;
    if (p[0] != '/') {
      Error(n.Mark(), what + " '" + p + "' must be an absolute path");
      return std::nullopt;
    }
    if (p.find('\0') != std::string::npos) {
      Error(n.Mark(), what + " contains a NUL byte");
      return std::nullopt;
    }
    std::string out;
    std::istringstream parts(p);
    std::string comp;
    while (std::getline(parts, comp, '/')) {
      if (comp.empty() || comp == ".") continue;
      if (comp == "..") {
        Error(n.Mark(), what + " '" + p + "' must not contain '..'");
        return std::nullopt;
      }
      out += "/" + comp;
    }
    return out.empty() ? "/" : out;
  }

  std::vector<uint16_t> PortList(const YAML::Node& n, const std::string& what) {
    std::vector<uint16_t> out;
    Sequence(n, what, [&](const YAML::Node& item) {
      if (auto p = Port(item, what + " entry")) out.push_back(*p);
    });
    return out;
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

// Walks the document as the loader would read it, aliases expanded, and
// stops at the first bound crossed: the walk costs at most kMaxNodes steps
// however much the aliases multiply, and ends on a self-referencing anchor
// (`&a [*a]`, which yaml-cpp builds as a cycle) at kMaxDepth. Empty when
// `root` is within the bounds; else why not, with *mark where.
std::string CheckExpansion(const YAML::Node& root, YAML::Mark* mark);

}  // namespace rf::load
