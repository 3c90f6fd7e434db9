// Credentials whose real values never enter the sandbox (docs/credentials.md).
//
// The supervisor reads each value before the command starts (env:VAR from
// its own environment, then wiped there; file:PATH with its own rights) into
// memory that is not dumped and reads as zeros in any process forked after
// (MADV_WIPEONFORK: the sandbox's init and the command before its exec never
// hold it). The command gets NAME=<placeholder> instead:
//
//   ringfence:cred:NAME:NONCE     ringfence's own; the nonce is random per
//                                 run, so a placeholder of another run is
//                                 useless here
//   openshell:resolve:env:NAME    OpenShell's canonical form
//   provider-OPENSHELL-RESOLVE-ENV-NAME   OpenShell's whole-token alias
//
// The inspecting proxy calls Rewrite on the parts of a request it may
// rewrite: every placeholder is replaced by its value when the request's
// host, port and path match one of that credential's bindings; any other
// placeholder (unbound here, of an unknown name, of another run) makes the
// whole request a mismatch, and nothing of it is forwarded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"

namespace rf::cred {

// One placeholder-shaped token in a text.
struct Found {
  size_t pos = 0, len = 0;
  std::string name;
  std::string nonce;  // ringfence form only
};

// Every placeholder-shaped token of `text`, in order. A prefix followed by
// no name is not a token.
std::vector<Found> FindPlaceholders(std::string_view text);
// Whether `text` holds a placeholder prefix at all (a quick test first).
bool MayHoldPlaceholder(std::string_view text);
// The longest prefix a placeholder starts with, less one: how many bytes a
// scanner of a stream keeps back so a prefix split across reads is seen.
size_t PlaceholderHoldBack();

struct Binding {
  std::string host;  // pattern, as endpoint hosts
  uint16_t port = 0;
  std::string path;  // glob; empty: every path
};

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads every credential's value. `bindings` come from credentials'
  // endpoints and from `credential_binding` endpoints of `policies`.
  // `environ_in`: the supervisor's environment; each env: variable read is
  // wiped in it. `nonce`: empty for a random one (tests pass their own).
  static Result<std::shared_ptr<Store>> Load(const std::vector<Credential>& credentials,
                                             const std::vector<NetworkPolicy>& policies,
                                             char** environ_in, std::string nonce = "");

  // NAME=<placeholder> for the command's environment.
  std::vector<std::string> Environment() const;
  // The variables the values came from (env:VAR), dropped from the
  // command's environment.
  std::vector<std::string> SourceVariables() const;
  bool empty() const { return secrets_.empty(); }

  enum class Outcome { kUnchanged, kRewritten, kMismatch };
  // Replaces the placeholders of `in` into `*out` (untouched unless
  // kRewritten).
  Outcome Rewrite(std::string_view host, uint16_t port, std::string_view path, std::string_view in,
                  std::string* out) const;

 private:
  struct Secret {
    std::string name, placeholder, source_var;
    size_t offset = 0, length = 0;  // in the arena
    std::vector<Binding> bindings;
  };
  Store() = default;
  const Secret* Resolve(const Found& f) const;

  std::vector<Secret> secrets_;
  std::string nonce_;
  char* arena_ = nullptr;
  size_t arena_size_ = 0;
};

}  // namespace rf::cred
