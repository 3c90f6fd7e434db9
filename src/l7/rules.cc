#include "l7/rules.h"

#include <cctype>

#include "common/ascii.h"
#include "l7/glob.h"
#include "l7/jsonrpc.h"

namespace rf::l7 {

namespace {

bool MethodMatches(std::string_view rule, std::string_view method) {
  return rule == "*" || AsciiIEquals(rule, method);
}

bool PresetAllows(Protocol protocol, Access access, std::string_view method) {
  switch (access) {
    case Access::kNone:
      return false;
    case Access::kFull:
      return true;
    case Access::kReadOnly:
      if (protocol == Protocol::kWebSocket) return AsciiIEquals(method, "GET");
      return AsciiIEquals(method, "GET") || AsciiIEquals(method, "HEAD") ||
             AsciiIEquals(method, "OPTIONS");
    case Access::kReadWrite:
      if (protocol == Protocol::kWebSocket)
        return AsciiIEquals(method, "GET") || AsciiIEquals(method, kWebSocketText);
      return AsciiIEquals(method, "GET") || AsciiIEquals(method, "HEAD") ||
             AsciiIEquals(method, "OPTIONS") || AsciiIEquals(method, "POST") ||
             AsciiIEquals(method, "PUT") || AsciiIEquals(method, "PATCH");
  }
  return false;
}

bool AnyGlob(const std::vector<std::string>& globs, std::string_view value) {
  for (const auto& g : globs)
    if (GlobMatch(g, value)) return true;
  return false;
}

// `strict`: allow semantics (present, every value matches); otherwise deny
// semantics (some value matches).
bool QueryMatches(const std::vector<QueryMatcher>& matchers, const Target& t, bool strict) {
  for (const auto& m : matchers) {
    bool present = false, all = true, any = false;
    for (const auto& p : t.query) {
      if (p.name != m.name) continue;
      present = true;
      bool ok = AnyGlob(m.globs, p.value);
      all = all && ok;
      any = any || ok;
    }
    if (!present) return false;
    if (strict ? !all : !any) return false;
  }
  return true;
}

bool RuleMatches(const Rule& r, std::string_view method, const Target& t, bool strict) {
  return MethodMatches(r.method, method) && GlobMatch(r.path, t.path) &&
         QueryMatches(r.query, t, strict);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("!#$%&'+-.^_`|~").find(c) != std::string_view::npos))
      return false;
  return true;
}

// Where entry i of a split list stands in the policy's list.
std::string At(const std::vector<size_t>& at, size_t i) {
  return std::to_string(i < at.size() ? at[i] : i);
}

Status CheckGraphqlRule(const EndpointRules& e, const GraphqlRule& r, const std::string& at) {
  if (e.protocol == Protocol::kRest)
    return Status::Error(at +
                         ": operation_type, operation_name and fields need protocol: graphql "
                         "(or websocket)");
  const std::string& t = r.operation_type;
  if (t.empty()) return Status::Error(at + ".operation_type is required for a GraphQL rule");
  if (t != "*" && !AsciiIEquals(t, "query") && !AsciiIEquals(t, "mutation") &&
      !AsciiIEquals(t, "subscription"))
    return Status::Error(at + ".operation_type must be query, mutation, subscription or *, not '" +
                         t + "'");
  if (!r.operation_name.empty())
    if (Status s = ValidateGlob(r.operation_name); !s.ok()) return s.With(at + ".operation_name");
  for (const auto& f : r.fields) {
    if (f.empty()) return Status::Error(at + ".fields: an empty field glob");
    if (Status s = ValidateGlob(f); !s.ok()) return s.With(at + ".fields");
  }
  return Status::Ok();
}

Status CheckRule(const EndpointRules& e, const Rule& r, const std::string& at) {
  if (e.protocol == Protocol::kGraphql)
    return Status::Error(at +
                         ".operation_type is required for a GraphQL rule (method, path and "
                         "query are not GraphQL rule fields)");
  if (e.GraphqlPolicy() && AsciiIEquals(r.method, kWebSocketText))
    return Status::Error(at +
                         ": a websocket endpoint with GraphQL rules judges client messages by "
                         "operation_type/operation_name/fields, not WEBSOCKET_TEXT");
  if (r.method.empty()) return Status::Error(at + ".method is required");
  if (r.method != "*" && !IsToken(r.method))
    return Status::Error(at + ".method: '" + r.method + "' is not an HTTP method");
  if (e.protocol == Protocol::kWebSocket && r.method != "*" && !AsciiIEquals(r.method, "GET") &&
      !AsciiIEquals(r.method, kWebSocketText))
    return Status::Error(at + ".method must be GET, WEBSOCKET_TEXT or * on a websocket endpoint");
  if (r.path.empty()) return Status::Error(at + ".path is required");
  if (r.path.front() != '/' && r.path.front() != '*')
    return Status::Error(at + ".path must start with '/' (or a glob)");
  if (Status s = ValidateGlob(r.path); !s.ok()) return s.With(at + ".path");
  for (const auto& q : r.query) {
    if (q.globs.empty()) return Status::Error(at + ".query." + q.name + ": empty matcher");
    for (const auto& g : q.globs)
      if (Status s = ValidateGlob(g); !s.ok()) return s.With(at + ".query." + q.name);
  }
  return Status::Ok();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::string AccessName(Access a) {
  switch (a) {
    case Access::kNone:
      return "none";
    case Access::kReadOnly:
      return "read-only";
    case Access::kReadWrite:
      return "read-write";
    case Access::kFull:
      return "full";
  }
  return "none";
}

bool EndpointRules::GraphqlPolicy() const {
  if (protocol == Protocol::kGraphql) return true;
  if (protocol != Protocol::kWebSocket) return false;
  return persisted_allow_registered || !persisted.empty() || !graphql_allow.empty() ||
         !graphql_deny.empty();
}

Status Validate(const EndpointRules& e) {
  if (IsRpc(e.protocol)) return ValidateRpc(e);
  if (e.access != Access::kNone && !e.allow.empty())
    return Status::Error(e.where + ": `access` and `rules` are mutually exclusive");
  if (e.access != Access::kNone && !e.graphql_allow.empty())
    return Status::Error(e.where + ": `access` and `rules` are mutually exclusive");
  if (e.access == Access::kNone && e.allow.empty() && e.graphql_allow.empty())
    return Status::Error(e.where +
                         ": an inspected endpoint needs `access` or `rules` (use access: full "
                         "to allow every request)");
  for (size_t i = 0; i < e.allow.size(); ++i)
    if (Status s = CheckRule(e, e.allow[i], e.where + ".rules[" + At(e.allow_at, i) + "].allow");
        !s.ok())
      return s;
  for (size_t i = 0; i < e.deny.size(); ++i)
    if (Status s = CheckRule(e, e.deny[i], e.where + ".deny_rules[" + At(e.deny_at, i) + "]");
        !s.ok())
      return s;
  if (e.persisted_allow_registered && e.persisted.empty())
    return Status::Error(e.where +
                         ": persisted_queries: allow_registered needs graphql_persisted_queries");
  if (!e.persisted.empty() && !e.persisted_allow_registered)
    return Status::Error(e.where +
                         ": graphql_persisted_queries needs persisted_queries: allow_registered");
  for (const auto& p : e.persisted)
    if (Status s =
            CheckGraphqlRule(e, p.operation, e.where + ".graphql_persisted_queries." + p.key);
        !s.ok())
      return s;
  for (const auto& r : e.graphql_allow)
    if (Status s =
            CheckGraphqlRule(e, r, e.where + ".rules[" + std::to_string(r.index) + "].allow");
        !s.ok())
      return s;
  for (const auto& r : e.graphql_deny)
    if (Status s = CheckGraphqlRule(e, r, e.where + ".deny_rules[" + std::to_string(r.index) + "]");
        !s.ok())
      return s;
  return Status::Ok();
}

Verdict Evaluate(const EndpointRules& e, std::string_view method, const Target& t) {
  Verdict v;
  for (size_t i = 0; i < e.deny.size(); ++i) {
    if (RuleMatches(e.deny[i], method, t, false)) {
      v.rule = "deny_rules[" + At(e.deny_at, i) + "]";
      v.reason = "refused by " + v.rule + " (" + e.deny[i].method + " " + e.deny[i].path + ")";
      break;
    }
  }
  if (v.reason.empty()) {
    if (e.access != Access::kNone) {
      if (PresetAllows(e.protocol, e.access, method)) {
        v.allowed = true;
        v.rule = "access: " + AccessName(e.access);
        return v;
      }
      v.rule = "access: " + AccessName(e.access);
      v.reason = std::string(method) + " is not in access: " + AccessName(e.access);
    } else {
      for (size_t i = 0; i < e.allow.size(); ++i) {
        if (RuleMatches(e.allow[i], method, t, true)) {
          v.allowed = true;
          v.rule = "rules[" + At(e.allow_at, i) + "]";
          return v;
        }
      }
      v.reason = "no rule allows " + std::string(method) + " " + t.path;
    }
    v.hint = "rules: [{allow: {method: " + std::string(method) + ", path: " + Quote(t.path) + "}}]";
  }
  if (e.audit_only) {
    v.allowed = true;
    v.would_deny = true;
  }
  return v;
}

}  // namespace rf::l7
