// `ringfence policy suggest`: from the denials of a JSON Lines audit log,
// the smallest network_policies change that would have allowed them, for a
// person to review (docs/policy-suggest.md). Exact hosts, ports and the
// binaries seen; L7 allow rules (method and exact path) where the refusal
// was an inspected request. Never loopback, link-local, metadata, private
// or reserved addresses by IP, single-label names or wildcards: those are
// listed as not proposed, with why.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace rf {

// One proposed network_policies entry: one host group (hosts under one
// registrable name, e.g. api.github.com and uploads.github.com) reached by
// one set of binaries.
struct SuggestedPolicy {
  std::string key;                             // suggested_<group>
  std::map<std::string, std::set<int>> hosts;  // host -> ports
  std::set<std::string> binaries;              // exact paths
  // host -> address pinned by the current policy's network.hosts, when
  // that address needs allowed_ips (not a public one).
  std::map<std::string, std::string> pinned;
  uint64_t count = 0;  // refusals it answers
};

// One L7 allow rule for an existing inspected endpoint.
struct SuggestedRule {
  std::string policy;  // the network_policies key that inspected it
  std::string host;
  int port = 0;
  std::string method, path;
  uint64_t count = 0;
};

struct NotProposed {
  std::string what;  // host:port, METHOD host:port/path, a class of events
  std::string why;
  uint64_t count = 0;
};

struct Suggestion {
  std::vector<SuggestedPolicy> policies;
  std::vector<SuggestedRule> rules;
  std::vector<NotProposed> not_proposed;
  uint64_t lines = 0, denials = 0, unreadable = 0;  // lines that are not an event
};

// What the suggestion needs to know of the current policy.
struct SuggestContext {
  std::map<std::string, std::string> pinned_hosts;  // network.hosts
  std::set<std::string> taken_keys;                 // network_policies keys in use
};

// The refusals of `log` (ringfence's JSON events; OCSF records are read
// through their `unmapped.ringfence` part), grouped and counted.
Suggestion SuggestFromLog(std::istream& log, const SuggestContext& ctx);

// The suggestion as YAML with a comment per entry saying what it opens.
std::string RenderSuggestion(const Suggestion& s, const std::string& source);

// `current` (policy YAML) with the suggestion merged in: new entries
// added, rules appended to their endpoints. Comments of `current` are not
// kept (the text is re-emitted). Not validated here.
Result<std::string> MergeSuggestion(const std::string& current, const Suggestion& s);

}  // namespace rf
