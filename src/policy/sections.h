// The policy's sections, each read from its YAML node into Policy with
// every error reported through the Checker (policy/yaml_checker.h) at its
// file:line:col. LoadPolicyString (policy/loader.cc) calls them per key.
#pragma once

#include <yaml-cpp/yaml.h>

#include "policy/policy.h"
#include "policy/yaml_checker.h"

namespace rf::load {

void LoadFilesystem(Checker& c, const YAML::Node& n, Policy& p);
void LoadLandlock(Checker& c, const YAML::Node& n, Policy& p);
void LoadProcess(Checker& c, const YAML::Node& n, Policy& p);
void LoadNetwork(Checker& c, const YAML::Node& n, Policy& p);
void LoadNetworkPolicies(Checker& c, const YAML::Node& n, Policy& p);
// Credentials (src/policy/credentials.cc, docs/credentials.md): the
// top-level `credentials` section, an endpoint's `credential_binding`, the
// endpoint's own credential checks, and the checks across sections once
// everything is loaded.
void LoadCredentials(Checker& c, const YAML::Node& n, Policy& p);
void LoadCredentialBinding(Checker& c, const YAML::Node& n, const std::string& where, Endpoint& e);
void CheckEndpointCredentials(Checker& c, const YAML::Node& n, const std::string& where,
                              const Endpoint& e);
void CheckCredentials(Checker& c, const YAML::Node& root, Policy& p);

}  // namespace rf::load
