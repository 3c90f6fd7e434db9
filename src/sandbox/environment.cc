#include "sandbox/environment.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "common/ascii.h"
#include "l7/glob.h"

namespace rf {

namespace {

// Names that hold credentials by convention. Broad on purpose: a name
// wrongly held back costs one `include` line; a token wrongly passed is
// gone. AWS_* as a whole: AWS_ACCESS_KEY_ID is half a key pair, and
// AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE point at keys. The explicit names
// the patterns already cover stay listed so that narrowing a pattern never
// lets them through.
constexpr std::string_view kSecretShaped[] = {
    "AWS_*",          "*_TOKEN",
    "*_TOKEN_*",      "TOKEN",
    "*SECRET*",       "*_KEY",
    "*_KEY_ID",       "*_KEYS",
    "*API_KEY*",      "*APIKEY*",
    "*PRIVATE_KEY*",  "*PASSWORD*",
    "*PASSWD*",       "*PASSPHRASE*",
    "*_PASS",         "*CREDENTIAL*",
    "*_AUTH",         "*_PAT",
    "*_COOKIE",       "*_CONNECTION_STRING",
    "*_DSN",          "DATABASE_URL",
    "GITHUB_TOKEN",   "GH_TOKEN",
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
    "NPM_TOKEN",      "HF_TOKEN",
    "GOOGLE_API_KEY", "AZURE_CLIENT_SECRET",
};

// What a program needs to behave as it would in a terminal: the search
// path, who and where it is, language and terminal. HOME and TMPDIR are set
// by ringfence anyway (the sandbox's own).
constexpr std::string_view kCore[] = {
    "PATH",      "HOME",     "USER", "LOGNAME", "SHELL", "LANG",    "LANGUAGE", "LC_*",     "TERM",
    "COLORTERM", "TERMINFO", "TZ",   "TMPDIR",  "PWD",   "COLUMNS", "LINES",    "NO_COLOR",
};

// The first pattern of `patterns` that `lower_name` matches, if any.
template <typename List>
std::optional<std::string> FirstMatch(const List& patterns, const std::string& lower_name) {
  for (const auto& p : patterns) {
    if (l7::GlobMatch(AsciiLowered(p), lower_name)) return std::string(p);
  }
  return std::nullopt;
}

EnvironmentChoice Decide(std::string_view name, const EnvironmentPolicy& policy) {
  EnvironmentChoice c{std::string(name), false, ""};
  const std::string lower = AsciiLowered(name);
  if (name.starts_with("RINGFENCE_")) {
    c.why = "ringfence's own variable";
  } else if (auto ex = FirstMatch(policy.exclude, lower)) {
    c.why = "excluded (process.environment.exclude: " + *ex + ")";
  } else if (auto in = FirstMatch(policy.include, lower)) {
    c.passed = true;
    c.why = "included (process.environment.include: " + *in + ")";
  } else if (auto secret = FirstMatch(kSecretShaped, lower)) {
    c.why = "secret-shaped (matches " + *secret +
            "; list it in process.environment.include to pass it)";
  } else if (policy.inherit == EnvInherit::kAll) {
    c.passed = true;
    c.why = "inherit: all";
  } else if (policy.inherit == EnvInherit::kCore && FirstMatch(kCore, lower)) {
    c.passed = true;
    c.why = "inherit: core";
  } else {
    c.why = std::string("not inherited (inherit: ") + ToString(policy.inherit) + ")";
  }
  return c;
}

std::string_view NameOf(std::string_view kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

std::span<const std::string_view> SecretShapedPatterns() { return kSecretShaped; }
std::span<const std::string_view> CoreNames() { return kCore; }

std::vector<char*> FilteredEnvironment::Pointers() {
  std::vector<char*> out;
  out.reserve(kept.size() + 1);
  for (std::string& kv : kept) out.push_back(kv.data());
  out.push_back(nullptr);
  return out;
}

FilteredEnvironment FilterEnvironment(char** environ_in, const EnvironmentPolicy& policy) {
  FilteredEnvironment out;
  for (char** e = environ_in; e && *e; ++e) {
    const std::string_view kv = *e;
    if (kv.find('=') == std::string_view::npos) continue;
    EnvironmentChoice c = Decide(NameOf(kv), policy);
    if (c.passed) out.kept.emplace_back(kv);
    out.choices.push_back(std::move(c));
  }
  return out;
}

nlohmann::json EnvironmentStatus(const FilteredEnvironment& filtered,
                                 const EnvironmentPolicy& policy,
                                 const std::vector<std::string>& additions) {
  std::set<std::string> ours;
  for (const auto& kv : additions) ours.emplace(NameOf(kv));
  ours.emplace("RINGFENCE_SANDBOX");
  nlohmann::json passed = nlohmann::json::array();
  nlohmann::json dropped = nlohmann::json::object();
  for (const EnvironmentChoice& c : filtered.choices) {
    if (c.passed && ours.count(c.name))
      dropped[c.name] = "set by ringfence (its value replaces the caller's)";
    else if (c.passed)
      passed.push_back(c.name);
    else
      dropped[c.name] = c.why;
  }
  std::sort(passed.begin(), passed.end());
  nlohmann::json j = {{"inherit", ToString(policy.inherit)},
                      {"include", policy.include},
                      {"exclude", policy.exclude},
                      {"secret_shaped", SecretShapedPatterns()},
                      {"passed", passed},
                      {"dropped", dropped},
                      {"set_by_ringfence", ours}};
  if (policy.inherit == EnvInherit::kCore) j["core"] = CoreNames();
  return j;
}

std::string EnvironmentSummary(const FilteredEnvironment& filtered,
                               const EnvironmentPolicy& policy) {
  constexpr size_t kNamesShown = 8;
  std::vector<std::string_view> secret;
  size_t not_inherited = 0;
  for (const EnvironmentChoice& c : filtered.choices) {
    if (c.passed) continue;
    if (c.why.starts_with("secret-shaped"))
      secret.push_back(c.name);
    else if (c.why.starts_with("not inherited"))
      ++not_inherited;
  }
  std::string out;
  if (!secret.empty()) {
    out = "environment: secret-shaped ";
    for (size_t i = 0; i < secret.size() && i < kNamesShown; ++i)
      out.append(i ? ", " : "").append(secret[i]);
    if (secret.size() > kNamesShown)
      out += " and " + std::to_string(secret.size() - kNamesShown) + " more";
    out += " withheld (process.environment.include passes one)";
  }
  if (not_inherited) {
    out += out.empty() ? "environment: " : "; ";
    out += std::string("inherit: ") + ToString(policy.inherit) + ", " +
           std::to_string(not_inherited) + " other name(s) not passed";
  }
  return out;
}

}  // namespace rf
