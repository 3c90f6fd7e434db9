#include <arpa/inet.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "common/json_text.h"
#include "policy/loader.h"
#include "proxy/capture.h"
#include "sandbox/environment.h"
#include "sandbox/home.h"
#include "sandbox/plan.h"
#include "sandbox/user_lookup.h"

namespace rf {

namespace {

// One "FILE:LINE:COL: [warning: ]message" line as JSON. The file name is
// known (and may hold ':'), so it is stripped as a prefix, not split on.
nlohmann::json MessageJson(const std::string& line, const std::string& file) {
  nlohmann::json j = {{"file", file}, {"line", nullptr}, {"column", nullptr}, {"text", line}};
  std::string rest = line;
  if (rest.rfind(file + ":", 0) == 0) {
    rest = rest.substr(file.size() + 1);
    size_t a = rest.find(':');
    size_t b = a == std::string::npos ? a : rest.find(':', a + 1);
    if (b != std::string::npos) {
      const std::string l = rest.substr(0, a), c = rest.substr(a + 1, b - a - 1);
      auto digits = [](const std::string& s) {
        return !s.empty() && s.size() < 10 &&
               s.find_first_not_of("0123456789") == std::string::npos;
      };
      if (digits(l) && digits(c)) {
        j["line"] = std::stol(l);
        j["column"] = std::stol(c);
        rest = rest.substr(b + 1);
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      }
    }
  }
  if (rest.rfind("warning: ", 0) == 0) rest.erase(0, 9);
  j["message"] = rest;
  return j;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace

int PolicyValidateMain(const std::string& file, bool json) {
  nlohmann::json out = {{"file", file},
                        {"valid", false},
                        {"errors", nlohmann::json::array()},
                        {"warnings", nlohmann::json::array()}};
  auto finish = [&](int rc) {
    if (json) std::cout << JsonText(out, 2) << "\n";
    return rc;
  };
  auto text = ReadPolicyText(file);
  if (!text.ok()) {
    // Not an invalid policy: there is none to judge.
    out["errors"].push_back(MessageJson(text.status().reason(), file));
    if (!json) fprintf(stderr, "ringfence: %s\n", text.status().reason().c_str());
    return finish(1);
  }
  auto p = LoadPolicyString(*text, file);
  if (!p.ok()) {
    for (const auto& l : Lines(p.status().reason())) out["errors"].push_back(MessageJson(l, file));
    if (!json) fprintf(stderr, "%s\n", p.status().reason().c_str());
    return finish(1);
  }
  std::vector<std::string> warnings = p->warnings;
  // Policies move between hosts: an account this host lacks is worth a
  // warning here, and only `run` as root (which needs the ids) refuses it.
  const std::pair<const char*, Result<unsigned>> accounts[] = {
      {"process.run_as_user", LookupUser(p->process.run_as_user)},
      {"process.run_as_group", LookupGroup(p->process.run_as_group)}};
  for (const auto& [field, id] : accounts) {
    if (id.ok()) continue;
    auto at = p->marks.at.find(field);
    warnings.push_back((at == p->marks.at.end() ? file : at->second) + ": warning: " +
                       id.status().reason() + "; `ringfence run` as root exits 125 on this host");
  }
  for (const auto& w : warnings) {
    out["warnings"].push_back(MessageJson(w, file));
    if (!json) fprintf(stderr, "%s\n", w.c_str());
  }
  out["valid"] = true;
  if (!json) printf("%s: valid\n", file.c_str());
  return finish(0);
}

namespace {

// Transparent TCP and capture as a run of this plan sets them up
// (docs/transparent-tcp.md): the names given synthetic addresses and how a
// direct connect to each is carried.
nlohmann::json CaptureSetup(const Plan& plan) {
  nlohmann::json c;
  if (!plan.net.proxy || !plan.net.guard) {
    c["enabled"] = false;
    c["why"] = "no egress proxy or no connect guard in this mode";
    return c;
  }
  c["enabled"] = true;
  c["synthetic_range"] = "198.18.0.0/15";
  c["redirect"] =
      plan.net.mode == NetMode::kNamespace
          ? "the guard connects the command's own socket to the proxy in the sandbox's namespace"
          : "the guard connects a socket of its own to the proxy and installs it over the "
            "command's";
  dns::SyntheticNames names;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& n : proxy::AllocatePolicyNames(plan.effective.policy, names)) {
    char shown[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &n.address, shown, sizeof shown);
    list.push_back(
        {{"name", n.name}, {"address", shown}, {"ports", n.ports}, {"carried", n.carried}});
  }
  c["names"] = list;
  return c;
}

}  // namespace

int PolicyShowMain(const std::string& file, bool effective, bool json, const std::string& mode) {
  // Checked whether or not --effective uses it: a typo must not pass.
  if (!mode.empty() && !ParseNetMode(mode)) {
    fprintf(stderr, "ringfence: --mode must be auto, namespace, platform, none or host, not '%s'\n",
            mode.c_str());
    return 2;
  }
  Result<Policy> p = DefaultPolicy();
  if (!file.empty()) {
    auto text = ReadPolicyText(file);
    if (!text.ok()) {
      fprintf(stderr, "ringfence: %s\n", text.status().reason().c_str());
      return 1;
    }
    p = LoadPolicyString(*text, file);
  }
  if (!p.ok()) {
    fprintf(stderr, "%s\n", p.status().reason().c_str());
    return 1;
  }
  nlohmann::json out;
  if (effective) {
    char cwd[PATH_MAX];
    std::string wd = getcwd(cwd, sizeof cwd) ? cwd : "/";
    PlanOptions popts{wd, mode, nullptr};
    popts.default_processes = file.empty();
    auto host = ProbeHostFor(*p, popts);
    auto plan = host.ok() ? BuildPlan(*p, popts, *host) : Result<Plan>(host.status());
    if (!plan.ok()) {
      fprintf(stderr, "ringfence: %s\n", plan.status().reason().c_str());
      return 1;
    }
    for (const auto& w : plan->effective.warnings)
      fprintf(stderr, "ringfence: warning: %s\n", w.c_str());
    // The layers' descriptions are rendered here only (a run never needs them).
    plan->effective.layers = RenderStatus(*plan);
    // What a run started from this shell would pass: names, never values.
    // The home and a private /tmp directory are made by `run` only; the
    // variables naming them are set there.
    std::vector<std::string> additions = plan->env_additions;
    for (auto& kv : HomeEnvironment("/")) additions.push_back(std::move(kv));
    const nlohmann::json& tmp = plan->effective.layers["tmp"];
    if (tmp.is_object() && tmp.value("kind", "") == "directory")
      for (const char* name : {"TMPDIR=", "TMP=", "TEMP="}) additions.emplace_back(name);
    plan->effective.layers["environment"] =
        EnvironmentStatus(FilterEnvironment(environ, plan->effective.policy.process.environment),
                          plan->effective.policy.process.environment, additions);
    // Beside the DNS set-up, in the enforcement part (a description, not a
    // policy key: the output must load again as a policy).
    plan->effective.layers["network"]["capture"] = CaptureSetup(*plan);
    out = EffectiveToJson(plan->effective);
  } else {
    out = PolicyToJson(*p);
    out["source"] = p->source;
  }
  if (json) {
    std::cout << JsonText(out, 2) << "\n";
  } else {
    std::cout << JsonToYaml(out);
  }
  return 0;
}

}  // namespace rf
