#include "l7/jsonrpc.h"

#include "l7/glob.h"
#include "l7/json.h"

namespace rf::l7 {

namespace {

constexpr std::string_view kKnownMcpMethods[] = {
    "initialize",
    "ping",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/tasks/status",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
};

bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool AnyGlob(const std::vector<std::string>& globs, std::string_view value) {
  for (const auto& g : globs)
    if (GlobMatch(g, value)) return true;
  return false;
}

struct Message {
  bool ok = false;
  int code = kRpcInvalidRequest;
  std::string error;
  bool response = false;
  RpcCall call;
  std::string id;  // JSON text, requests only
};

Message Invalid(std::string why, int code = kRpcInvalidRequest) {
  Message m;
  m.code = code;
  m.error = std::move(why);
  return m;
}

bool IsId(const JsonValue& v, bool allow_null) {
  return v.is_string() || v.is_number() || (allow_null && v.is_null());
}

Message ClassifyMessage(const JsonValue& v, Protocol protocol) {
  const bool mcp = protocol == Protocol::kMcp;
  if (!v.is_object()) return Invalid("a message is not a JSON object");
  const JsonValue* version = v.Find("jsonrpc");
  if (!version || !version->is_string()) return Invalid("missing or non-string 'jsonrpc' member");
  if (version->text() != "2.0")
    return Invalid("unsupported JSON-RPC version " + JsonQuote(version->text()));
  const JsonValue* method = v.Find("method");
  const JsonValue* id = v.Find("id");
  const bool has_result = v.Find("result") != nullptr, has_error = v.Find("error") != nullptr;
  if (method && (has_result || has_error))
    return Invalid("a message has both a method and a result or error");
  if (has_result || has_error) {
    if (has_result && has_error) return Invalid("a response has both result and error");
    if (!id) return Invalid("a response has no id");
    if (!IsId(*id, true)) return Invalid("a response id must be a string, number or null");
    if (has_error && !v.Find("error")->is_object())
      return Invalid("a response error is not an object");
    Message m;
    m.ok = true;
    m.response = true;
    return m;
  }
  if (!method || !method->is_string()) return Invalid("missing or non-string 'method' member");
  Message m;
  m.call.method = method->text();
  if (m.call.method.empty()) return Invalid("an empty method");
  if (id) {
    // MCP requests need a string or number id (never null); JSON-RPC allows
    // null, discouraged.
    if (!IsId(*id, !mcp)) return Invalid("a request id must be a string or number");
    m.id = ToJson(*id);
  } else {
    m.call.notification = true;
  }
  const JsonValue* params = v.Find("params");
  if (params && !params->is_object() && !(params->is_array() && !mcp))
    return Invalid(mcp ? "params must be an object" : "params must be an object or an array");
  if (mcp && m.call.method == "tools/call") {
    if (m.call.notification) return Invalid("tools/call needs an id", kRpcInvalidParams);
    const JsonValue* name = params ? params->Find("name") : nullptr;
    if (!name || !name->is_string())
      return Invalid("tools/call needs params.name, a string", kRpcInvalidParams);
    m.call.tool_call = true;
    m.call.tool = name->text();
  }
  m.ok = true;
  return m;
}

bool MethodMatches(const EndpointRules& e, const Rule& r, std::string_view method) {
  if (e.protocol == Protocol::kJsonRpc) return r.method == "*" || r.method == method;
  if (r.method.empty()) return KnownMcpMethod(method);
  if (HasGlobChars(r.method)) return GlobMatch(r.method, method);
  return r.method == method;
}

bool RuleMatches(const EndpointRules& e, const Rule& r, const RpcCall& c) {
  const bool tool_rule = !r.tool.empty() || !r.params_name.empty();
  if (tool_rule && !c.tool_call) return false;
  if (!MethodMatches(e, r, c.method)) return false;
  if (!r.tool.empty() && !AnyGlob(r.tool, c.tool)) return false;
  if (!r.params_name.empty() && !AnyGlob(r.params_name, c.tool)) return false;
  return true;
}

std::string Describe(const Rule& r) {
  std::string s = r.method.empty() ? "method profile" : r.method;
  for (const auto& t : r.tool) s += (&t == &r.tool.front() ? " tool " : "|") + t;
  for (const auto& t : r.params_name)
    s += (&t == &r.params_name.front() ? " params.name " : "|") + t;
  return s;
}

std::string Hint(const EndpointRules& e, const RpcCall& c) {
  if (c.tool_call) return "rules: [{allow: {method: tools/call, tool: " + JsonQuote(c.tool) + "}}]";
  (void)e;
  return "rules: [{allow: {method: " + JsonQuote(c.method) + "}}]";
}

// Whether rule `r`'s method matcher covers tools/call without narrowing the
// tool: beside tool-specific allows it would bypass (allow) or erase (deny)
// the tool filter.
bool BroadToolsCall(const EndpointRules& e, const Rule& r) {
  if (!r.tool.empty() || !r.params_name.empty()) return false;
  RpcCall call;
  call.method = "tools/call";
  return MethodMatches(e, r, call.method);
}

Status CheckRpcRule(const EndpointRules& e, const Rule& r, const std::string& at) {
  const bool mcp = e.protocol == Protocol::kMcp;
  const std::string proto = mcp ? "mcp" : "json-rpc";
  if (!r.path.empty() || !r.query.empty())
    return Status::Invalid(at + ": path and query are REST rule fields, not valid on protocol: " +
                           proto + " (select the endpoint's path with the endpoint's `path`)");
  if (!mcp) {
    if (!r.tool.empty() || !r.params_name.empty())
      return Status::Invalid(at +
                             ": json-rpc rules match only `method` (tool and params matchers are "
                             "not supported for generic JSON-RPC)");
    if (r.method.empty()) return Status::Invalid(at + ".method is required on protocol: json-rpc");
    if (r.method != "*" && HasGlobChars(r.method))
      return Status::Invalid(at + ".method '" + r.method +
                             "': json-rpc methods are exact names, or `*` for every method");
    return Status::Ok();
  }
  const bool tool_rule = !r.tool.empty() || !r.params_name.empty();
  if (r.method == "*")
    return Status::Invalid(at +
                           ".method: `*` is not valid on protocol: mcp (omit method with "
                           "mcp.allow_all_known_mcp_methods: true for every MCP method)");
  if (r.method.empty() && !e.allow_all_known_methods)
    return Status::Invalid(at + ".method is required unless mcp.allow_all_known_mcp_methods: true");
  if (HasGlobChars(r.method)) {
    if (r.method.rfind("tools/", 0) != 0)
      return Status::Invalid(at + ".method '" + r.method +
                             "': globs are accepted only for the tools/ method family");
    if (Status s = ValidateGlob(r.method); !s.ok()) return s.With(at + ".method");
  }
  if (tool_rule && !r.method.empty() && r.method != "tools/call")
    return Status::Invalid(at + ": tool and params.name need method: tools/call");
  for (const auto* globs : {&r.tool, &r.params_name}) {
    for (const auto& g : *globs) {
      if (g.empty()) return Status::Invalid(at + ": an empty tool name matcher");
      if (Status s = ValidateGlob(g); !s.ok()) return s.With(at + ".tool");
      if (HasGlobChars(g) && !e.strict_tool_names)
        return Status::Invalid(at + ": the wildcard tool matcher '" + g +
                               "' needs mcp.strict_tool_names to stay enabled");
    }
  }
  return Status::Ok();
}

}  // namespace

bool ValidToolName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool KnownMcpMethod(std::string_view method) {
  for (std::string_view m : kKnownMcpMethods)
    if (m == method) return true;
  return false;
}

RpcBody ClassifyRpcBody(std::string_view body, Protocol protocol) {
  RpcBody out;
  Result<JsonValue> doc = ParseJson(body);
  if (!doc.ok()) {
    out.code = kRpcParseError;
    out.error = doc.status().reason();
    return out;
  }
  auto take = [&](const JsonValue& v, const std::string& prefix) {
    Message m = ClassifyMessage(v, protocol);
    if (!m.ok) {
      out.code = m.code;
      out.error = prefix + m.error;
      return false;
    }
    if (m.response) {
      ++out.responses;
    } else {
      if (!m.call.notification) out.ids.push_back(std::move(m.id));
      out.calls.push_back(std::move(m.call));
    }
    return true;
  };
  if (doc->is_array()) {
    out.batch = true;
    if (doc->items().empty()) {
      out.code = kRpcInvalidRequest;
      out.error = "an empty batch";
      return out;
    }
    for (size_t i = 0; i < doc->items().size(); ++i)
      if (!take(doc->items()[i], "batch item " + std::to_string(i) + ": ")) return out;
  } else if (!take(*doc, "")) {
    return out;
  }
  out.ok = true;
  return out;
}

Status ValidateRpc(const EndpointRules& e) {
  const bool mcp = e.protocol == Protocol::kMcp;
  const std::string proto = mcp ? "mcp" : "json-rpc";
  if (e.access != Access::kNone)
    return Status::Invalid(e.where + ": `access` presets are not valid on protocol: " + proto +
                           (mcp ? " (use rules, or mcp.allow_all_known_mcp_methods: true)"
                                : " (use rules with allow.method)"));
  if (e.allow.empty() && !(mcp && e.allow_all_known_methods))
    return Status::Invalid(e.where + (mcp ? ": protocol: mcp needs rules unless "
                                            "mcp.allow_all_known_mcp_methods: true"
                                          : ": protocol: json-rpc needs rules with allow.method"));
  for (size_t i = 0; i < e.allow.size(); ++i)
    if (Status s = CheckRpcRule(e, e.allow[i], e.where + ".rules[" + std::to_string(i) + "].allow");
        !s.ok())
      return s;
  for (size_t i = 0; i < e.deny.size(); ++i)
    if (Status s = CheckRpcRule(e, e.deny[i], e.where + ".deny_rules[" + std::to_string(i) + "]");
        !s.ok())
      return s;
  if (mcp) {
    bool tool_specific = false;
    for (const auto& r : e.allow)
      tool_specific = tool_specific || !r.tool.empty() || !r.params_name.empty();
    if (tool_specific) {
      const std::vector<Rule>* lists[] = {&e.allow, &e.deny};
      for (int l = 0; l < 2; ++l) {
        for (size_t i = 0; i < lists[l]->size(); ++i) {
          if (!BroadToolsCall(e, (*lists[l])[i])) continue;
          const std::string at = e.where + (l == 0 ? ".rules[" : ".deny_rules[") +
                                 std::to_string(i) + (l == 0 ? "].allow" : "]");
          return Status::Invalid(at +
                                 ": a rule whose method covers tools/call without a tool cannot be "
                                 "combined with tool-specific allow rules (it would bypass or "
                                 "erase the tool filter); add `tool` to scope it, or remove the "
                                 "tool-specific rules");
        }
      }
    }
  }
  if (e.max_body_bytes == 0) return Status::Invalid(e.where + ": max_body_bytes must be positive");
  return Status::Ok();
}

RpcVerdict EvaluateCall(const EndpointRules& e, const RpcCall& c) {
  RpcVerdict out;
  Verdict& v = out.verdict;
  if (e.protocol == Protocol::kMcp && c.tool_call && e.strict_tool_names &&
      !ValidToolName(c.tool)) {
    out.hard = true;
    v.rule = "mcp.strict_tool_names";
    v.reason = "the tool name " + JsonQuote(c.tool) +
               " does not match ^[A-Za-z0-9_.-]{1,128}$ (mcp.strict_tool_names)";
    return out;
  }
  for (size_t i = 0; i < e.deny.size(); ++i) {
    if (RuleMatches(e, e.deny[i], c)) {
      v.rule = "deny_rules[" + std::to_string(i) + "]";
      v.reason = "refused by " + v.rule + " (" + Describe(e.deny[i]) + ")";
      break;
    }
  }
  if (v.reason.empty()) {
    if (e.allow.empty() && e.allow_all_known_methods && KnownMcpMethod(c.method)) {
      v.allowed = true;
      v.rule = "mcp.allow_all_known_mcp_methods";
      return out;
    }
    for (size_t i = 0; i < e.allow.size(); ++i) {
      if (RuleMatches(e, e.allow[i], c)) {
        v.allowed = true;
        v.rule = "rules[" + std::to_string(i) + "]";
        return out;
      }
    }
    v.reason = "no rule allows " + c.method + (c.tool_call ? " of the tool " + c.tool : "");
    v.hint = Hint(e, c);
  }
  if (e.audit_only) v.allowed = v.would_deny = true;
  return out;
}

std::string RpcErrorBody(const RpcBody& body, int code, const std::string& message,
                         const std::string& data_json) {
  auto one = [&](const std::string& id) {
    std::string s = "{\"jsonrpc\":\"2.0\",\"id\":" + id +
                    ",\"error\":{\"code\":" + std::to_string(code) +
                    ",\"message\":" + JsonQuote(message);
    if (!data_json.empty()) s += ",\"data\":" + data_json;
    return s + "}}";
  };
  if (!body.ok || body.ids.empty()) return one("null") + "\n";
  if (!body.batch) return one(body.ids.front()) + "\n";
  std::string out = "[";
  for (size_t i = 0; i < body.ids.size(); ++i) out += (i ? "," : "") + one(body.ids[i]);
  return out + "]\n";
}

}  // namespace rf::l7
