#include "control/live_policy.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <set>

#include "policy/loader.h"

namespace rf::control {

namespace {

// The sections a running sandbox can change.
const std::set<std::string>& DynamicSections() {
  static const std::set<std::string> kDynamic = {"network_policies"};
  return kDynamic;
}

// A YAML tree as JSON with every scalar a string: two texts that say the
// same thing (block or flow style, quoting, comments, key order) compare
// equal; anything said differently (a default spelt out) does not.
nlohmann::json Canonical(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = Canonical(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& v : n) j.push_back(Canonical(v));
      return j;
    }
    case YAML::NodeType::Scalar:
      return n.Scalar();
    default:
      return nullptr;
  }
}

Result<nlohmann::json> Parse(const std::string& text, const std::string& source) {
  try {
    YAML::Node n = YAML::Load(text);
    if (!n.IsMap() && !n.IsNull()) return Status::Invalid(source + ": not a YAML mapping");
    return Canonical(n);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(source + ": " + e.what());
  }
}

// The first differing path below `where`, "" when equal.
std::string FirstDifference(const nlohmann::json& a, const nlohmann::json& b,
                            const std::string& where) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      const std::string at = where.empty() ? k : where + "." + k;
      if (!a.contains(k) || !b.contains(k)) return at;
      if (std::string d = FirstDifference(a[k], b[k], at); !d.empty()) return d;
    }
    return "";
  }
  return a == b ? "" : where;
}

std::string StaticRefusal(const std::string& source, const std::string& where) {
  const std::string section = where.substr(0, where.find('.'));
  return source + ": " + where + " differs from the running sandbox's: " + section +
         " is static (set before the command started: Landlock rules, seccomp, namespaces and "
         "the environment cannot follow a change); only network_policies can change on a "
         "running sandbox, restart it to change " +
         section;
}

}  // namespace

Result<std::string> StaticDifference(const std::string& a, const std::string& b) {
  auto ja = Parse(a, "the running policy");
  if (!ja.ok()) return ja.status();
  auto jb = Parse(b, "the new policy");
  if (!jb.ok()) return jb.status();
  nlohmann::json sa = ja->is_object() ? *ja : nlohmann::json::object();
  nlohmann::json sb = jb->is_object() ? *jb : nlohmann::json::object();
  for (const auto& k : DynamicSections()) {
    sa.erase(k);
    sb.erase(k);
  }
  return FirstDifference(sa, sb, "");
}

Result<PlannedPolicy> PlanSet(const std::string& running, const std::string& text,
                              const std::string& source) {
  auto loaded = LoadPolicyString(text, source);
  if (!loaded.ok()) return loaded.status();
  auto diff = StaticDifference(running, text);
  if (!diff.ok()) return diff.status();
  if (!diff->empty()) return Status::Invalid(StaticRefusal(source, *diff));
  return PlannedPolicy{text, std::move(*loaded)};
}

Result<PlannedPolicy> PlanUpdate(const std::string& running, const std::string& text,
                                 const std::string& source) {
  YAML::Node fragment, merged;
  try {
    fragment = YAML::Load(text);
    merged = YAML::Load(running);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(source + ": " + e.what());
  }
  if (!fragment.IsMap()) return Status::Invalid(source + ": not a YAML mapping");
  if (!fragment["network_policies"])
    return Status::Invalid(source +
                           ": no network_policies: an update adds or replaces entries of "
                           "network_policies by name");
  // Checked as a policy of its own, so errors name this file's lines; the
  // version it may leave out is added after its last line.
  std::string own = text;
  if (!fragment["version"])
    own += (own.empty() || own.back() == '\n' ? "" : "\n") + std::string("version: 1\n");
  auto loaded = LoadPolicyString(own, source);
  if (!loaded.ok()) return loaded.status();
  // Any other section it names must be the running one (an update changes
  // network_policies only).
  auto ours = Parse(running, "the running policy");
  if (!ours.ok()) return ours.status();
  std::string merged_text;
  try {
    for (const auto& kv : fragment) {
      const std::string key = kv.first.as<std::string>();
      if (DynamicSections().count(key) || key == "version") continue;
      const nlohmann::json theirs = Canonical(kv.second);
      const nlohmann::json mine =
          ours->is_object() && ours->contains(key) ? (*ours)[key] : nlohmann::json();
      if (std::string d = FirstDifference(mine, theirs, key); !d.empty())
        return Status::Invalid(StaticRefusal(source, d));
    }
    if (!merged.IsMap()) merged = YAML::Node(YAML::NodeType::Map);
    if (!merged["network_policies"] || !merged["network_policies"].IsMap())
      merged["network_policies"] = YAML::Node(YAML::NodeType::Map);
    for (const auto& kv : fragment["network_policies"])
      merged["network_policies"][kv.first.as<std::string>()] = kv.second;
    YAML::Emitter out;
    out << merged;
    merged_text = std::string(out.c_str()) + "\n";
  } catch (const YAML::Exception& e) {
    return Status::Invalid(source + ": " + e.what());
  }
  auto whole = LoadPolicyString(merged_text, "the running policy updated with " + source);
  if (!whole.ok()) return whole.status();
  return PlannedPolicy{std::move(merged_text), std::move(*whole)};
}

std::string Sha256Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

}  // namespace rf::control
