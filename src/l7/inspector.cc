#include "l7/inspector.h"

#include <string.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/ascii.h"
#include "l7/glob.h"
#include "l7/jsonrpc.h"

namespace rf::l7 {

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string RefusalBody(const RequestEvent& ev) {
  if (ev.graphql_shape) {
    // GraphQL's own error shape, so a GraphQL client shows the reason.
    nlohmann::json ext = {{"code", "POLICY_DENIED"}, {"endpoint", ev.endpoint}, {"rule", ev.rule}};
    if (!ev.hint.empty()) ext["allow_with"] = ev.hint;
    nlohmann::json j = {{"errors", {{{"message", ev.reason}, {"extensions", ext}}}}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  const std::string error = ev.error.empty() ? "policy_denied" : ev.error;
  nlohmann::json j = {{"error", error},  {"detail", ev.reason},     {"method", ev.method},
                      {"path", ev.path}, {"endpoint", ev.endpoint}, {"rule", ev.rule}};
  if (!ev.hint.empty()) j["allow_with"] = ev.hint;
  // Replacement of invalid UTF-8: a path is bytes, JSON is text.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

constexpr std::string_view kMismatch = "credential_endpoint_mismatch";

// Whether a body of this head's Content-Type may be rewritten: JSON, form
// and text, the types OpenShell rewrites.
bool RewritableType(std::string_view head) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    std::string_view line = head.substr(at, head.find("\r\n", at) - at);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !AsciiIEquals(line.substr(0, colon), "content-type"))
      continue;
    std::string type = AsciiLowered(AsciiTrim(line.substr(colon + 1)));
    type = std::string(AsciiTrim(type.substr(0, type.find(';'))));
    const bool json_suffix = type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0;
    return type == "application/json" || type == "application/x-www-form-urlencoded" ||
           type.rfind("text/", 0) == 0 || (type.rfind("application/", 0) == 0 && json_suffix);
  }
  return false;
}

// The head without its framing and Expect fields, with the rewritten
// body's Content-Length.
std::string WithLength(std::string_view head, size_t length) {
  std::string out;
  size_t first = head.find("\r\n");
  out.append(head.substr(0, first + 2));
  size_t at = first + 2;
  while (at < head.size()) {
    size_t end = head.find("\r\n", at);
    std::string_view line = head.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    std::string_view name = line.substr(0, line.find(':'));
    if (AsciiIEquals(name, "content-length") || AsciiIEquals(name, "transfer-encoding") ||
        AsciiIEquals(name, "expect"))
      continue;
    out.append(line);
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(length) + "\r\n\r\n";
  return out;
}

// The data of a chunked body BodyCounter already validated (so sizes are
// hex, lines end in CRLF); extensions and trailers are dropped.
std::string Dechunk(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) break;
    uint64_t size = 0;
    for (char ch : in.substr(0, eol)) {
      if (ch == ';') break;
      size = size * 16 + static_cast<uint64_t>(isdigit(static_cast<unsigned char>(ch))
                                                   ? ch - '0'
                                                   : (tolower(ch) - 'a' + 10));
    }
    in.remove_prefix(eol + 2);
    if (size == 0 || size > in.size()) break;
    out.append(in.substr(0, size));
    in.remove_prefix(std::min<size_t>(in.size(), size + 2));
  }
  return out;
}

// error.data of the JSON-RPC error object answering a refused body: the
// same facts as RefusalBody, and the call refused.
std::string RpcErrorData(const RequestEvent& ev) {
  nlohmann::json j = {{"error", "policy_denied"},
                      {"detail", ev.reason},
                      {"endpoint", ev.endpoint},
                      {"rule", ev.rule}};
  if (!ev.rpc_method.empty()) j["method"] = ev.rpc_method;
  if (!ev.tool.empty()) j["tool"] = ev.tool;
  if (!ev.hint.empty()) j["allow_with"] = ev.hint;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

bool Inspector::HostMatches(const std::string& field) const {
  std::string_view f = field, host, port;
  if (!f.empty() && f.front() == '[') {
    size_t close = f.find(']');
    if (close == std::string_view::npos) return false;
    host = f.substr(1, close - 1);
    std::string_view rest = f.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = f.rfind(':');
    host = f.substr(0, colon);
    if (colon != std::string_view::npos) port = f.substr(colon + 1);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string_view want = config_.host;
  if (!want.empty() && want.back() == '.') want.remove_suffix(1);
  if (!AsciiIEquals(host, want)) return false;
  uint16_t default_port = config_.tls ? 443 : 80;
  if (port.empty()) return config_.port == default_port;
  return port == std::to_string(config_.port);
}

size_t Inspector::GraphqlBodyLimit(const std::string& path) const {
  size_t limit = 0;
  for (const auto& e : config_.endpoints)
    if (e.rules.protocol == Protocol::kGraphql && (e.path.empty() || GlobMatch(e.path, path)))
      limit = std::max(limit, e.rules.graphql_max_body);
  return limit;
}

Verdict Inspector::HttpVerdict(const InspectedEndpoint& e, const InspectedRequest& q,
                               std::string_view method) const {
  Verdict v;
  if (q.target.path.find("%2F") != std::string::npos && !e.rules.allow_encoded_slash) {
    v.rule = "allow_encoded_slash";
    v.reason = "encoded '/' (%2F) in the path; the endpoint can set allow_encoded_slash: true";
    if (e.rules.audit_only) v.allowed = v.would_deny = true;
    return v;
  }
  return Evaluate(e.rules, method, q.target);
}

RequestEvent Inspector::Decide(const InspectedRequest& q, std::string_view method,
                               bool* audit_only_deny, const InspectedEndpoint** decided,
                               std::string_view body) {
  std::optional<graphql::Request> gql;  // classified once, judged per endpoint
  RequestEvent ev = Judge(
      q, method,
      [&](const InspectedEndpoint& e, bool* hard) {
        if (e.rules.protocol != Protocol::kGraphql) return HttpVerdict(e, q, method);
        // A GraphQL endpoint whose path matches is authoritative: what it
        // refuses, no broader endpoint of the host lets through.
        if (!gql) gql = graphql::ClassifyHttp(method, q.target, q.forward_head, body);
        Verdict v;
        if (body.size() > e.rules.graphql_max_body) {
          v.rule = "graphql_max_body_bytes";
          v.reason = "GraphQL request body larger than graphql_max_body_bytes (" +
                     std::to_string(e.rules.graphql_max_body) + ")";
        } else {
          v = graphql::Evaluate(e.rules, *gql);
        }
        if (!v.allowed) *hard = true;
        return v;
      },
      audit_only_deny, decided);
  if (gql) ev.graphql = gql->operations, ev.graphql_error = gql->error, ev.graphql_shape = true;
  return ev;
}

RequestEvent Inspector::Judge(const InspectedRequest& q, std::string_view method,
                              const EndpointJudge& judge, bool* audit_only_deny,
                              const InspectedEndpoint** decided) {
  RequestEvent ev;
  ev.method = std::string(method);
  ev.path = q.target.path;
  *audit_only_deny = false;
  const InspectedEndpoint* first = nullptr;
  Verdict first_verdict, allow_verdict, audit_verdict;
  const InspectedEndpoint *allow_by = nullptr, *audit_by = nullptr;
  for (const auto& e : config_.endpoints) {
    if (!e.path.empty() && !GlobMatch(e.path, q.target.path)) continue;
    bool hard = false;
    Verdict v = judge(e, &hard);
    if (!first) first = &e, first_verdict = v;
    if ((StartsWith(v.rule, "deny_rules") && !v.allowed) || hard) {
      ev.endpoint = e.label, ev.policy = e.policy, ev.rule = v.rule, ev.reason = v.reason;
      if (hard) ev.hint = v.hint;
      return ev;  // an enforced deny (or a malformed call) of any selected endpoint wins
    }
    if (v.allowed && !v.would_deny && !allow_by) allow_by = &e, allow_verdict = v;
    if (v.allowed && v.would_deny && !audit_by) audit_by = &e, audit_verdict = v;
  }
  if (decided) *decided = allow_by ? allow_by : audit_by;
  if (allow_by) {
    ev.allowed = true, ev.endpoint = allow_by->label, ev.policy = allow_by->policy;
    ev.rule = allow_verdict.rule;
    return ev;
  }
  if (audit_by) {
    ev.allowed = ev.would_deny = true;
    ev.endpoint = audit_by->label, ev.policy = audit_by->policy, ev.rule = audit_verdict.rule;
    ev.reason = audit_verdict.reason, ev.hint = audit_verdict.hint;
    *audit_only_deny = true;
    return ev;
  }
  if (!first) {
    ev.reason = "no endpoint of " + config_.host + ":" + std::to_string(config_.port) +
                " covers the path " + q.target.path;
    ev.hint = "path: \"" + q.target.path + "\" on an endpoint (or no path selector)";
    return ev;
  }
  ev.endpoint = first->label, ev.policy = first->policy, ev.rule = first_verdict.rule;
  ev.reason = first_verdict.reason, ev.hint = first_verdict.hint;
  return ev;
}

void Inspector::Refuse(InspectorOutput* out, RequestEvent ev, bool close_after, int status,
                       const std::string& body) {
  ev.status = status;
  Pending p;
  p.local = true;
  p.close_after = close_after;
  p.response = LocalResponse(status, body.empty() ? RefusalBody(ev) : body, close_after);
  pending_.push_back(std::move(p));
  out->events.push_back(std::move(ev));
  if (close_after) client_stopped_ = true;
}

void Inspector::FlushLocal(InspectorOutput* out) {
  while (!pending_.empty() && pending_.front().local) {
    out->to_client += pending_.front().response;
    if (pending_.front().close_after) out->close = true;
    pending_.pop_front();
  }
}

void Inspector::FromClient(std::string_view bytes, InspectorOutput* out) {
  if (client_stopped_) return;  // after a refusal that closes: nothing more is read
  client_buf_.append(bytes);
  ClientBytes(out);
  FlushLocal(out);
}

// Consumes from a view of the buffer and drops what was used once at the
// end: erasing per request would move the rest again for each of them.
void Inspector::ClientBytes(InspectorOutput* out) {
  std::string_view in = client_buf_;
  ClientBytesFrom(in, out);
  if (client_stopped_)
    client_buf_.clear();
  else
    client_buf_.erase(0, client_buf_.size() - in.size());
}

void Inspector::ClientBytesFrom(std::string_view& in, InspectorOutput* out) {
  while (!in.empty() && !client_stopped_) {
    if (websocket_ && websocket_graphql_) {
      GraphqlFrames(in, out);
      return;
    }
    if (websocket_) {
      auto s = frames_->Feed(in);
      out->to_upstream.append(in.substr(0, s.used));
      in.remove_prefix(s.used);
      if (websocket_audit_) {
        for (size_t i = 0; i < s.text_messages; ++i) {
          RequestEvent ev;
          ev.method = std::string(kWebSocketText), ev.path = websocket_path_;
          ev.allowed = ev.would_deny = true, ev.endpoint = websocket_endpoint_;
          ev.policy = websocket_policy_;
          ev.reason = "WebSocket text messages are not allowed on this endpoint";
          out->events.push_back(std::move(ev));
        }
      }
      if (s.placeholder) {
        // websocket_credential_rewrite is not supported yet: a placeholder
        // in a text message is refused wherever it goes.
        RequestEvent ev;
        ev.method = std::string(kWebSocketText), ev.path = websocket_path_;
        ev.endpoint = websocket_endpoint_;
        ev.policy = websocket_policy_;
        ev.rule = std::string(kMismatch);
        ev.reason = std::string(kMismatch) +
                    ": a credential placeholder in a WebSocket text message (rewriting them is "
                    "not supported yet)";
        out->events.push_back(std::move(ev));
        out->to_client += CloseFrame(1008, "credential");
        out->close = true;
        client_stopped_ = true;
        in = {};
        return;
      }
      if (s.refused || s.error) {
        RequestEvent ev;
        ev.method = std::string(kWebSocketText), ev.path = websocket_path_;
        ev.endpoint = websocket_endpoint_;
        ev.policy = websocket_policy_;
        ev.reason = s.refused ? "WebSocket text messages are not allowed on this endpoint"
                              : "WebSocket protocol error: " + frames_->why();
        ev.hint = s.refused ? "rules: [{allow: {method: WEBSOCKET_TEXT, path: \"" +
                                  websocket_path_ + "\"}}]"
                            : "";
        out->events.push_back(std::move(ev));
        out->to_client += CloseFrame(s.refused ? 1008 : 1002, s.refused ? "policy" : "protocol");
        out->close = true;
        client_stopped_ = true;
        in = {};
      }
      return;  // the rest is an incomplete frame header
    }
    if (request_body_) {
      auto s = request_body_->Feed(in);
      const std::string_view data = in.substr(0, s.used);
      if (body_mode_ == BodyMode::kRelay) out->to_upstream.append(data);
      in.remove_prefix(s.used);
      if (s.error) {
        // The upstream has part of a body it cannot finish: both go.
        out->close = true;
        client_stopped_ = true;
        in = {};
        return;
      }
      if ((body_mode_ == BodyMode::kScan && !ScanBody(data, s.done, out)) ||
          (body_mode_ == BodyMode::kCollect && !CollectBody(data, s.done, out))) {
        in = {};
        return;
      }
      if (!s.done) return;
      request_body_.reset();
      body_mode_ = BodyMode::kRelay;
      if (stop_after_body_) {
        // The request closes the connection: nothing after its body is a
        // request the upstream will read.
        client_stopped_ = true;
        in = {};
        return;
      }
      continue;
    }
    // Nothing is parsed while a WebSocket upgrade waits for its answer:
    // what follows belongs to the protocol the answer decides.
    if (!pending_.empty() && pending_.back().websocket) {
      if (in.size() > config_.max_head) {
        out->close = true;
        client_stopped_ = true;
      }
      return;
    }
    RequestParse r = ParseInspectedRequest(in, config_.max_head, any_encoded_slash_);
    if (r.state == proxy::ParseState::kIncomplete) return;
    if (r.state == proxy::ParseState::kError) {
      RequestEvent ev;
      ev.reason = r.message;
      Refuse(out, std::move(ev), true, r.status);
      in = {};
      return;
    }
    InspectedRequest& q = r.request;
    if (!HostMatches(q.host)) {
      RequestEvent ev;
      ev.method = q.method, ev.path = q.target.path;
      ev.reason = "Host '" + q.host + "' is not the tunnel's destination " + config_.host + ":" +
                  std::to_string(config_.port);
      Refuse(out, std::move(ev), true);
      return;
    }
    if (config_.credentials && cred::MayHoldPlaceholder(q.target.path)) {
      // Never in a path: it would be logged, and no binding puts it there.
      RequestEvent ev;
      ev.method = q.method, ev.path = "(a path holding a credential placeholder)";
      ev.rule = std::string(kMismatch), ev.error = std::string(kMismatch);
      ev.reason = std::string(kMismatch) + ": a credential placeholder in the request path";
      Refuse(out, std::move(ev), true);
      return;
    }
    if (RpcSelected(q)) {
      if (!RpcRequest(in, q, out)) return;
      continue;
    }
    in.remove_prefix(q.head_length);
    // A GraphQL endpoint judges the body: it is held whole (up to the
    // limit) before the request is decided.
    std::string_view body;
    if (size_t limit = GraphqlBodyLimit(q.target.path); limit != 0 && q.body_length != 0) {
      RequestEvent big;
      big.method = q.method, big.path = q.target.path, big.graphql_shape = true;
      if (q.body_length < 0) {
        big.reason = "a chunked body on a GraphQL endpoint (send Content-Length)";
        Refuse(out, std::move(big), true, 411);
        return;
      }
      if (static_cast<uint64_t>(q.body_length) > limit) {
        big.rule = "graphql_max_body_bytes";
        big.reason = "GraphQL request body of " + std::to_string(q.body_length) +
                     " bytes is larger than graphql_max_body_bytes (" + std::to_string(limit) + ")";
        Refuse(out, std::move(big), true, 413);
        return;
      }
      if (in.size() < static_cast<size_t>(q.body_length)) {
        // Asked to wait for 100 Continue: say it, once, when no answer to
        // an earlier request is owed first.
        if (q.expect_continue && !continue_sent_ && pending_.empty()) {
          out->to_client += "HTTP/1.1 100 Continue\r\n\r\n";
          continue_sent_ = true;
        }
        // Not all here yet: the head is parsed again with the rest.
        in = std::string_view(in.data() - q.head_length, in.size() + q.head_length);
        return;
      }
      body = in.substr(0, static_cast<size_t>(q.body_length));
      continue_sent_ = false;
    }
    bool audit_deny = false;
    const InspectedEndpoint* decided = nullptr;
    RequestEvent ev = Decide(q, q.method, &audit_deny, &decided, body);
    if (!ev.allowed) {
      if (!body.empty()) {
        // The body is here whole: it is dropped, and the connection goes on.
        in.remove_prefix(body.size());
        Refuse(out, std::move(ev), q.close);
        if (q.close) in = {};
        continue;
      }
      Refuse(out, std::move(ev), q.body_length != 0 || q.close);
      continue;
    }
    if (config_.credentials && !CredentialHead(q, ev, out)) continue;
    Pending p;
    p.method = q.method;
    if (q.websocket_upgrade) {
      p.websocket = true;
      // Text messages are judged once for the connection: the rules see
      // the upgrade's path and the method WEBSOCKET_TEXT, never content.
      bool text_audit = false;
      RequestEvent text = Decide(q, kWebSocketText, &text_audit);
      p.websocket_text_allowed = text.allowed;
      p.websocket_text_audit = text_audit;
      websocket_path_ = q.target.path;
      websocket_endpoint_ = text.endpoint.empty() ? ev.endpoint : text.endpoint;
      websocket_policy_ = text.policy.empty() ? ev.policy : text.policy;
      // GraphQL rules judge the messages when the endpoint that allowed the
      // upgrade has them, else when any selected endpoint does: an L4
      // endpoint beside it does not turn operation rules into "any text".
      for (int pass = 0; pass < 2 && !p.websocket_graphql; ++pass) {
        for (size_t i = 0; i < config_.endpoints.size(); ++i) {
          const auto& e = config_.endpoints[i];
          bool candidate = pass == 0 ? e.label == ev.endpoint
                                     : e.path.empty() || GlobMatch(e.path, q.target.path);
          if (candidate && e.rules.GraphqlPolicy()) {
            // A copy: a live policy change replaces config_.endpoints, and the
            // connection keeps the rules it was admitted under.
            p.websocket_graphql = std::make_shared<const InspectedEndpoint>(e);
            websocket_endpoint_ = e.label, websocket_policy_ = e.policy;
            break;
          }
        }
      }
    }
    pending_.push_back(std::move(p));
    body_mode_ = BodyMode::kRelay;
    if (q.body_length != 0 && config_.credentials) {
      body_event_ = ev;
      body_path_ = q.target.path;
      body_tail_.clear();
      if (decided && decided->body_rewrite && RewritableType(q.forward_head)) {
        // The head waits for the rewritten body's length; the client that
        // waits for a 100 gets it here, as the upstream never sees the head.
        body_mode_ = BodyMode::kCollect;
        body_head_ = q.forward_head;
        body_data_.clear();
        body_chunked_ = q.body_length < 0;
        if (q.expect_continue && pending_.size() == 1)
          out->to_client += "HTTP/1.1 100 Continue\r\n\r\n";
      } else {
        // The head waits for the body's first bytes (unless the client
        // waits for a 100 first): a placeholder there is refused with
        // nothing of the request upstream.
        body_mode_ = BodyMode::kScan;
        body_head_ = q.expect_continue ? "" : q.forward_head;
        if (q.expect_continue) out->to_upstream += q.forward_head;
      }
    }
    if (body_mode_ == BodyMode::kRelay) out->to_upstream += q.forward_head;
    out->events.push_back(std::move(ev));
    if (q.body_length != 0) request_body_.emplace(q.body_length);
    if (q.close) {
      // Whatever follows a request that closes the connection is not a
      // request the upstream will read: it is dropped, not relayed.
      if (request_body_) {
        stop_after_body_ = true;
      } else {
        client_stopped_ = true;
        in = {};
      }
    }
  }
}

bool Inspector::CredentialHead(InspectedRequest& q, RequestEvent& ev, InspectorOutput* out) {
  // Only field values and the query may carry a placeholder: the method and
  // field names hold none a binding could be meant for.
  bool mismatch = cred::MayHoldPlaceholder(q.method);
  std::string_view head = q.forward_head;
  for (size_t at = head.find("\r\n"); !mismatch && at != std::string_view::npos;) {
    at += 2;
    size_t end = head.find("\r\n", at);
    std::string_view line = head.substr(at, end - at);
    mismatch = cred::MayHoldPlaceholder(line.substr(0, line.find(':')));
    at = end;
    if (line.empty()) break;
  }
  if (!mismatch) {
    std::string rewritten;
    switch (config_.credentials->Rewrite(config_.host, config_.port, q.target.path, q.forward_head,
                                         &rewritten)) {
      case cred::Store::Outcome::kUnchanged:
        return true;
      case cred::Store::Outcome::kRewritten:
        explicit_bzero(q.forward_head.data(), q.forward_head.size());
        q.forward_head.swap(rewritten);
        return true;
      case cred::Store::Outcome::kMismatch:
        break;
    }
  }
  RequestEvent refused = ev;
  refused.allowed = refused.would_deny = false;
  refused.rule = refused.error = std::string(kMismatch);
  refused.reason = std::string(kMismatch) + ": a credential placeholder in the request is not " +
                   "bound to " + config_.host + ":" + std::to_string(config_.port) + " " +
                   q.target.path;
  refused.hint =
      "bind the credential to this endpoint (credentials.NAME.endpoints, or credential_binding "
      "on the endpoint)";
  Refuse(out, std::move(refused), q.body_length != 0 || q.close);
  return false;
}

void Inspector::CredentialRefusal(InspectorOutput* out, RequestEvent ev, int status, bool mid_body,
                                  const std::string& why) {
  ev.allowed = ev.would_deny = false;
  ev.status = status;
  ev.reason = why;
  ev.hint.clear();
  const std::string response = LocalResponse(status, RefusalBody(ev), true);
  if (mid_body) {
    // Part of the body is upstream already: the exchange cannot finish.
    // The client hears why when nothing of another answer is on its way.
    if (pending_.size() == 1 && !response_body_ && upstream_buf_.empty())
      out->to_client += response;
    out->close = true;
  } else {
    // The head was held back: the upstream never saw this request.
    Pending& p = pending_.back();
    p = Pending{};
    p.local = true;
    p.close_after = true;
    p.response = response;
  }
  out->events.push_back(std::move(ev));
  request_body_.reset();
  body_mode_ = BodyMode::kRelay;
  body_tail_.clear();
  explicit_bzero(body_data_.data(), body_data_.size());
  body_data_.clear();
  body_head_.clear();
  client_stopped_ = true;
}

bool Inspector::ScanBody(std::string_view data, bool done, InspectorOutput* out) {
  std::string joined = body_tail_;
  joined.append(data);
  if (cred::MayHoldPlaceholder(joined)) {
    RequestEvent ev = body_event_;
    ev.rule = ev.error = "request_body_credential_rewrite";
    CredentialRefusal(out, std::move(ev), 403, body_head_.empty(),
                      "a credential placeholder in a request body: refused before it reaches "
                      "the upstream (the endpoint can set request_body_credential_rewrite: true)");
    return false;
  }
  const size_t keep = done ? 0 : std::min(joined.size(), cred::PlaceholderHoldBack());
  out->to_upstream += body_head_;
  body_head_.clear();
  out->to_upstream.append(joined, 0, joined.size() - keep);
  body_tail_ = joined.substr(joined.size() - keep);
  return true;
}

bool Inspector::CollectBody(std::string_view data, bool done, InspectorOutput* out) {
  body_data_.append(data);
  if (body_data_.size() > kMaxRewriteBody) {
    RequestEvent ev = body_event_;
    ev.rule = ev.error = "request_body_credential_rewrite";
    CredentialRefusal(out, std::move(ev), 413, false,
                      "a request body over 256 KiB on an endpoint with "
                      "request_body_credential_rewrite: refused, nothing forwarded");
    return false;
  }
  if (!done) return true;
  std::string body = body_chunked_ ? Dechunk(body_data_) : body_data_;
  std::string rewritten;
  auto outcome =
      config_.credentials->Rewrite(config_.host, config_.port, body_path_, body, &rewritten);
  if (outcome == cred::Store::Outcome::kMismatch) {
    RequestEvent ev = body_event_;
    ev.rule = ev.error = std::string(kMismatch);
    CredentialRefusal(out, std::move(ev), 403, false,
                      std::string(kMismatch) + ": a credential placeholder in the request body " +
                          "is not bound to " + config_.host + ":" + std::to_string(config_.port) +
                          " " + body_path_);
    return false;
  }
  if (outcome == cred::Store::Outcome::kRewritten) body.swap(rewritten);
  out->to_upstream += WithLength(body_head_, body.size());
  out->to_upstream += body;
  explicit_bzero(body.data(), body.size());
  explicit_bzero(rewritten.data(), rewritten.size());
  body_data_.clear();
  body_head_.clear();
  return true;
}

bool Inspector::RpcSelected(const InspectedRequest& q) const {
  for (const auto& e : config_.endpoints)
    if (IsRpc(e.rules.protocol) && (e.path.empty() || GlobMatch(e.path, q.target.path)))
      return true;
  return false;
}

// A request some MCP or JSON-RPC endpoint judges. POST bodies are held
// until complete (up to the smallest max_body_bytes of those endpoints),
// then every call in them is judged by every selected endpoint as Decide
// judges a request: REST endpoints beside them judge the HTTP request.
bool Inspector::RpcRequest(std::string_view& in, InspectedRequest& q, InspectorOutput* out) {
  size_t limit = SIZE_MAX;
  bool mcp = false, json_rpc = false;
  for (const auto& e : config_.endpoints) {
    if (!IsRpc(e.rules.protocol) || !(e.path.empty() || GlobMatch(e.path, q.target.path))) continue;
    limit = std::min(limit, e.rules.max_body_bytes);
    (e.rules.protocol == Protocol::kMcp ? mcp : json_rpc) = true;
  }
  RequestEvent bad;
  bad.method = q.method, bad.path = q.target.path;
  const bool post = AsciiIEquals(q.method, "POST");
  // GraphQL rules are judged on their own path only (Decide): a path that
  // an RPC endpoint and a GraphQL endpoint both select is refused, as is
  // one that both an MCP and a JSON-RPC endpoint select (below).
  for (const auto& e : config_.endpoints) {
    if (e.rules.protocol != Protocol::kGraphql ||
        !(e.path.empty() || GlobMatch(e.path, q.target.path)))
      continue;
    bad.reason = "an mcp or json-rpc endpoint and a graphql endpoint both select this path";
    bad.rule = "protocol";
    Refuse(out, bad, true, 403);
    in = {};
    return false;
  }
  if (!post && config_.credentials && q.body_length != 0) {
    // Bodies of RPC paths are judged only in POSTs; with credentials in
    // play no other body goes unscanned.
    bad.reason = q.method + " with a body on an mcp or json-rpc path (credentials are in use)";
    bad.rule = "protocol";
    Refuse(out, bad, true, 403);
    in = {};
    return false;
  }
  if (!post) {
    // MCP's Streamable HTTP: a GET opens the server's event stream, a
    // DELETE ends the session; neither carries a call. Anything else, and
    // any GET or DELETE on a JSON-RPC endpoint, is refused.
    const bool stream = AsciiIEquals(q.method, "GET") && q.accepts_event_stream;
    const bool end = AsciiIEquals(q.method, "DELETE");
    auto judge = [&](const InspectedEndpoint& e, bool*) {
      if (!IsRpc(e.rules.protocol)) return HttpVerdict(e, q, q.method);
      Verdict v;
      if (e.rules.protocol == Protocol::kMcp && (stream || end) && q.body_length == 0) {
        v.allowed = true;
        v.rule = stream ? "mcp event stream" : "mcp session end";
      } else {
        v.rule = "protocol";
        v.reason = q.method + " is not a JSON-RPC call: " +
                   (e.rules.protocol == Protocol::kMcp
                        ? "an MCP endpoint takes POST, GET with Accept: text/event-stream, and "
                          "DELETE without a body"
                        : "a JSON-RPC endpoint takes POST");
      }
      return v;
    };
    bool audit_deny = false;
    RequestEvent ev = Judge(q, q.method, judge, &audit_deny);
    in.remove_prefix(q.head_length);
    if (!ev.allowed) {
      Refuse(out, std::move(ev), q.body_length != 0 || q.close, 403);
      if (q.body_length != 0 || q.close) in = {};
      return !client_stopped_;
    }
    if (config_.credentials && !CredentialHead(q, ev, out)) return !client_stopped_;
    Pending p;
    p.method = q.method;
    pending_.push_back(std::move(p));
    out->to_upstream += q.forward_head;
    out->events.push_back(std::move(ev));
    if (q.body_length != 0) request_body_.emplace(q.body_length);
    if (q.close && !request_body_) client_stopped_ = true, in = {};
    if (q.close && request_body_) stop_after_body_ = true;
    return !client_stopped_;
  }
  // The whole body is judged before any of it is relayed.
  auto refuse_body = [&](int status, std::string why, int code, const RpcBody& body) {
    bad.reason = std::move(why);
    bad.rule = "protocol";
    const bool close = status != 403 && status != 400 ? true : q.close;
    Refuse(out, bad, close, status,
           RpcErrorBody(body, code, "ringfence: " + bad.reason, RpcErrorData(bad)));
    return close;
  };
  if (mcp && json_rpc) {
    refuse_body(403, "mcp and json-rpc endpoints both select this path", kRpcPolicyDenied, {});
    in = {};
    client_stopped_ = true;
    return false;
  }
  if (q.body_length < 0) {
    refuse_body(411, "a JSON-RPC body must be sent with Content-Length (chunked is not inspected)",
                kRpcInvalidRequest, {});
    in = {};
    return false;
  }
  if (static_cast<uint64_t>(q.body_length) > limit) {
    refuse_body(413,
                "the body of " + std::to_string(q.body_length) + " bytes exceeds max_body_bytes " +
                    std::to_string(limit),
                kRpcInvalidRequest, {});
    in = {};
    return false;
  }
  const size_t whole = q.head_length + static_cast<size_t>(q.body_length);
  if (in.size() < whole) {
    // Asked to wait for 100 Continue: say it, once, when no answer to an
    // earlier request is owed first.
    if (q.expect_continue && !continue_sent_ && pending_.empty()) {
      out->to_client += "HTTP/1.1 100 Continue\r\n\r\n";
      continue_sent_ = true;
    }
    return false;
  }
  continue_sent_ = false;
  const std::string_view body_bytes = in.substr(q.head_length, static_cast<size_t>(q.body_length));
  const RpcBody body = ClassifyRpcBody(body_bytes, mcp ? Protocol::kMcp : Protocol::kJsonRpc);
  const std::string forward = std::string(body_bytes);
  in.remove_prefix(whole);
  auto finish = [&](bool closing) {
    if (closing) client_stopped_ = true, in = {};
    return !client_stopped_;
  };
  if (!body.ok)
    return finish(refuse_body(400, "not a valid JSON-RPC message: " + body.error, body.code, body));
  if (json_rpc && body.responses > 0)
    return finish(refuse_body(403, "JSON-RPC response objects are not accepted from the client",
                              kRpcPolicyDenied, body));
  std::vector<RequestEvent> events;
  for (const RpcCall& call : body.calls) {
    auto judge = [&](const InspectedEndpoint& e, bool* hard) {
      if (!IsRpc(e.rules.protocol)) return HttpVerdict(e, q, q.method);
      RpcVerdict rv = EvaluateCall(e.rules, call);
      *hard = rv.hard;
      return rv.verdict;
    };
    bool audit_deny = false;
    RequestEvent ev = Judge(q, q.method, judge, &audit_deny);
    ev.rpc_method = call.method, ev.tool = call.tool;
    if (!ev.allowed) {
      if (body.batch) ev.reason += " (the whole batch is refused)";
      ev.status = 403;
      Refuse(out, ev, q.close, 403,
             RpcErrorBody(body, kRpcPolicyDenied, "ringfence: policy_denied: " + ev.reason,
                          RpcErrorData(ev)));
      return finish(q.close);
    }
    events.push_back(std::move(ev));
  }
  if (events.empty()) {
    // Only responses to the server's own requests (MCP): nothing to judge.
    RequestEvent ev;
    ev.method = q.method, ev.path = q.target.path, ev.allowed = true;
    ev.rule = "responses";
    events.push_back(std::move(ev));
  }
  if (config_.credentials) {
    // Placeholders go in headers here: the bodies of these endpoints are
    // judged, never rewritten.
    if (cred::MayHoldPlaceholder(forward)) {
      RequestEvent ev = events.front();
      ev.allowed = ev.would_deny = false;
      ev.rule = ev.error = "request_body_credential_rewrite";
      ev.reason =
          "a credential placeholder in a JSON-RPC body: refused before it reaches the upstream "
          "(bodies of mcp and json-rpc endpoints are not rewritten)";
      ev.hint.clear();
      Refuse(out, std::move(ev), q.close, 403);
      return finish(q.close);
    }
    if (!CredentialHead(q, events.front(), out)) return finish(true);
  }
  Pending p;
  p.method = q.method;
  pending_.push_back(std::move(p));
  out->to_upstream += q.forward_head;
  out->to_upstream += forward;
  for (auto& ev : events) out->events.push_back(std::move(ev));
  return finish(q.close);
}

void Inspector::GraphqlFrames(std::string_view& in, InspectorOutput* out) {
  const InspectedEndpoint& ep = *websocket_graphql_;
  auto stop = [&](uint16_t code, std::string reason, RequestEvent ev) {
    ev.method = std::string(kWebSocketText), ev.path = websocket_path_;
    ev.endpoint = ep.label, ev.policy = ep.policy;
    ev.reason = std::move(reason);
    out->events.push_back(std::move(ev));
    out->to_client += CloseFrame(code, code == 1008 ? "policy" : "unsupported");
    out->close = true;
    client_stopped_ = true;
    in = {};
  };
  while (!in.empty() && !client_stopped_) {
    // A frame is judged only when all of it is here.
    FrameHeader fh;
    if (!ReadFrameHeader(in, &fh)) return;
    size_t need = fh.size;
    uint64_t len = fh.length;
    bool masked = fh.masked;
    if (len > ep.rules.graphql_max_body) {
      stop(1009,
           "a GraphQL WebSocket message larger than graphql_max_body_bytes (" +
               std::to_string(ep.rules.graphql_max_body) + ")",
           {});
      return;
    }
    if (in.size() < need + len) return;
    std::string_view frame = in.substr(0, need + static_cast<size_t>(len));
    uint8_t opcode = fh.opcode;
    bool fin = fh.fin;
    RequestEvent ev;
    ev.graphql_shape = true;
    if (opcode == 0x0 || (opcode == 0x1 && !fin)) {
      stop(1008, "a fragmented GraphQL WebSocket message (not inspected)", std::move(ev));
      return;
    }
    if (opcode == 0x2) {
      stop(1003, "a binary message on a GraphQL WebSocket connection", std::move(ev));
      return;
    }
    if (opcode == 0x1 && masked) {
      std::string text(frame.substr(need));
      const char* key = frame.data() + need - 4;
      for (size_t k = 0; k < text.size(); ++k) text[k] = static_cast<char>(text[k] ^ key[k % 4]);
      if (config_.credentials && cred::MayHoldPlaceholder(text)) {
        // As on any WebSocket: a placeholder in a text message never goes.
        ev.rule = std::string(kMismatch);
        stop(1008,
             std::string(kMismatch) +
                 ": a credential placeholder in a WebSocket text message (rewriting them is not "
                 "supported yet)",
             std::move(ev));
        return;
      }
      bool control = false;
      std::string type;
      graphql::Request req = graphql::ClassifyWebSocketMessage(text, &control, &type);
      if (!control) {
        Verdict v = graphql::Evaluate(ep.rules, req);
        ev.graphql = req.operations, ev.graphql_error = req.error;
        ev.rule = v.rule, ev.hint = v.hint;
        if (!v.allowed) {
          stop(1008, "GraphQL WebSocket " + type + ": " + v.reason, std::move(ev));
          return;
        }
        ev.method = std::string(kWebSocketText), ev.path = websocket_path_;
        ev.endpoint = ep.label, ev.policy = ep.policy;
        ev.allowed = true, ev.would_deny = v.would_deny, ev.reason = v.reason;
        out->events.push_back(std::move(ev));
      }
    }
    // The scanner still checks what a server must (masking, reserved bits,
    // control frames).
    auto s = frames_->Feed(frame);
    out->to_upstream.append(frame.substr(0, s.used));
    in.remove_prefix(s.used);
    if (s.error || s.used != frame.size()) {
      RequestEvent bad;
      stop(1002, "WebSocket protocol error: " + frames_->why(), std::move(bad));
      return;
    }
  }
}

void Inspector::FromUpstream(std::string_view bytes, InspectorOutput* out) {
  if (upstream_buf_.empty() && response_body_ && !websocket_ && !pending_.empty() &&
      !pending_.front().local) {
    // A download's common case: body bytes of the response in progress with
    // nothing held back. They are counted and passed on without first being
    // copied into upstream_buf_; the same steps as UpstreamBytes' body case.
    auto s = response_body_->Feed(bytes);
    out->to_client.append(bytes.data(), s.used);
    upstream_buf_.assign(bytes.substr(s.used));
    if (s.error) {
      out->close = true;
      upstream_buf_.clear();
    } else if (s.done) {
      EndResponseBody(out);
      UpstreamBytes(out);
    }
    FlushLocal(out);
    return;
  }
  upstream_buf_.append(bytes);
  UpstreamBytes(out);
  FlushLocal(out);
}

void Inspector::EndResponseBody(InspectorOutput* out) {
  response_body_.reset();
  bool resume = pending_.front().websocket;  // a refused upgrade: HTTP goes on
  pending_.pop_front();
  FlushLocal(out);
  if (close_after_response_) {
    out->close = true;
    return;
  }
  if (resume) ClientBytes(out);
}

void Inspector::UpstreamBytes(InspectorOutput* out) {
  while (!upstream_buf_.empty()) {
    if (websocket_) {
      out->to_client += upstream_buf_;
      upstream_buf_.clear();
      return;
    }
    if (pending_.empty() || pending_.front().local) {
      // Bytes nobody asked for: the upstream is not speaking HTTP/1.1
      // responses in order, so nothing it says can be attributed.
      out->close = true;
      upstream_buf_.clear();
      return;
    }
    Pending& front = pending_.front();
    if (response_body_) {
      auto s = response_body_->Feed(upstream_buf_);
      out->to_client.append(upstream_buf_, 0, s.used);
      upstream_buf_.erase(0, s.used);
      if (s.error) {
        out->close = true;
        upstream_buf_.clear();
        return;
      }
      if (!s.done) return;
      EndResponseBody(out);
      continue;
    }
    ResponseParse r =
        ParseResponseHead(upstream_buf_, config_.max_head, front.method, front.websocket);
    if (r.state == proxy::ParseState::kIncomplete) return;
    if (r.state == proxy::ParseState::kError) {
      out->close = true;
      upstream_buf_.clear();
      return;
    }
    const ResponseInfo& info = r.response;
    out->to_client.append(upstream_buf_, 0, info.head_length);
    upstream_buf_.erase(0, info.head_length);
    if (info.interim) continue;
    if (request_body_ && !info.switched) {
      size_t forwarded = 0;
      for (const auto& p : pending_) forwarded += !p.local;
      if (forwarded == 1) {
        // A final answer while the request's body is still coming: a server
        // that answers without reading the body may read the rest as a
        // next request. None of it is relayed, and the connection ends
        // after this answer.
        request_body_.reset();
        body_mode_ = BodyMode::kRelay;
        client_stopped_ = true;
        client_buf_.clear();
        close_after_response_ = true;
      }
    }
    if (info.switched) {
      websocket_ = true;
      websocket_graphql_ = front.websocket_graphql;
      websocket_audit_ = front.websocket_text_audit && !websocket_graphql_;
      frames_.emplace(front.websocket_text_allowed || front.websocket_text_audit ||
                      websocket_graphql_ != nullptr);
      if (config_.credentials) frames_->ScanForPlaceholders(cred::PlaceholderHoldBack());
      pending_.pop_front();
      out->to_client += upstream_buf_;
      upstream_buf_.clear();
      ClientBytes(out);
      return;
    }
    bool was_websocket = front.websocket;
    if (info.body_length != 0) {
      response_body_.emplace(info.body_length);
    } else {
      pending_.pop_front();
      FlushLocal(out);
      if (close_after_response_) {
        out->close = true;
        upstream_buf_.clear();
        return;
      }
    }
    if (was_websocket && !response_body_) ClientBytes(out);
  }
}

}  // namespace rf::l7
