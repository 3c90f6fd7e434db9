#include "policy/yaml_checker.h"

#include <string>
#include <utility>
#include <vector>

namespace rf::load {

std::string Thousands(size_t n) {
  // Built forwards (GCC 12 warns, wrongly, about insert() here).
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

namespace {

class Expansion {
  inline static const std::string kNonScalarKey = "?";

 public:
  // Empty when `root` is within the bounds; else why not, and where.
  std::string Check(const YAML::Node& root) {
    Walk(root, 0);
    return error_;
  }
  const YAML::Mark& mark() const { return mark_; }

 private:
  bool Fail(const YAML::Node& n, const std::string& what) {
    std::string at;
    for (const auto& [key, index] : path_)
      at += key ? (at.empty() ? "" : ".") + key->substr(0, 64) : "[" + std::to_string(index) + "]";
    // A self-referencing anchor repeats its path: the two ends say enough.
    if (at.size() > 160) at = at.substr(0, 80) + "..." + at.substr(at.size() - 60);
    error_ = "the policy is too large once its aliases are expanded: " + what +
             (at.empty() ? "" : " (reached at " + at + ")") +
             "; aliases (*name) count each time they are used (docs/policy.md, \"Limits\")";
    mark_ = n.Mark();
    return false;
  }

  bool Walk(const YAML::Node& n, int depth) {
    if (++nodes_ > kMaxNodes) return Fail(n, "more than " + Thousands(kMaxNodes) + " YAML nodes");
    if (depth > kMaxDepth)
      return Fail(n, "mappings and lists nested more than " + std::to_string(kMaxDepth) + " deep");
    if (n.IsScalar()) {
      bytes_ += n.Scalar().size();
      if (bytes_ > kMaxScalarBytes)
        return Fail(n, "more than " + std::to_string(kMaxScalarBytes >> 20) + " MiB of text");
    } else if (n.IsSequence()) {
      size_t i = 0;
      for (const auto& item : n) {
        path_.emplace_back(nullptr, i++);
        if (!Walk(item, depth + 1)) return false;
        path_.pop_back();
      }
    } else if (n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!Walk(k, depth + 1)) return false;
        path_.emplace_back(k.IsScalar() ? &k.Scalar() : &kNonScalarKey, 0);
        if (!Walk(v, depth + 1)) return false;
        path_.pop_back();
      }
    }
    return true;
  }

  size_t nodes_ = 0;
  size_t bytes_ = 0;
  // Where the walk is: a key (the string lives in the node, which the
  // caller's frame holds) or, for a list item, its index.
  std::vector<std::pair<const std::string*, size_t>> path_;
  std::string error_;
  YAML::Mark mark_;
};

}  // namespace

std::string CheckExpansion(const YAML::Node& root, YAML::Mark* mark) {
  Expansion x;
  std::string why = x.Check(root);
  *mark = x.mark();
  return why;
}

}  // namespace rf::load
