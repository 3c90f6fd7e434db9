#include "l7/inspector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/ascii.h"
#include "l7/glob.h"

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
  nlohmann::json j = {{"error", "policy_denied"}, {"detail", ev.reason},     {"method", ev.method},
                      {"path", ev.path},          {"endpoint", ev.endpoint}, {"rule", ev.rule}};
  if (!ev.hint.empty()) j["allow_with"] = ev.hint;
  // Replacement of invalid UTF-8: a path is bytes, JSON is text.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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

RequestEvent Inspector::Decide(const InspectedRequest& q, std::string_view method,
                               bool* audit_only_deny, std::string_view body) {
  RequestEvent ev;
  ev.method = std::string(method);
  ev.path = q.target.path;
  *audit_only_deny = false;
  const InspectedEndpoint* first = nullptr;
  Verdict first_verdict, allow_verdict, audit_verdict;
  const InspectedEndpoint *allow_by = nullptr, *audit_by = nullptr;
  bool encoded_slash = q.target.path.find("%2F") != std::string::npos;
  std::optional<graphql::Request> gql;  // classified once, judged per endpoint
  for (const auto& e : config_.endpoints) {
    if (!e.path.empty() && !GlobMatch(e.path, q.target.path)) continue;
    Verdict v;
    if (e.rules.protocol == Protocol::kGraphql) {
      // A GraphQL endpoint whose path matches is authoritative: what it
      // refuses, no broader endpoint of the host lets through.
      if (!gql) gql = graphql::ClassifyHttp(method, q.target, q.forward_head, body);
      ev.graphql = gql->operations, ev.graphql_error = gql->error, ev.graphql_shape = true;
      if (body.size() > e.rules.graphql_max_body) {
        v.rule = "graphql_max_body_bytes";
        v.reason = "GraphQL request body larger than graphql_max_body_bytes (" +
                   std::to_string(e.rules.graphql_max_body) + ")";
      } else {
        v = graphql::Evaluate(e.rules, *gql);
      }
      if (!v.allowed) {
        ev.endpoint = e.label, ev.policy = e.policy, ev.rule = v.rule, ev.reason = v.reason;
        ev.hint = v.hint;
        return ev;
      }
    } else if (encoded_slash && !e.rules.allow_encoded_slash) {
      v.rule = "allow_encoded_slash";
      v.reason = "encoded '/' (%2F) in the path; the endpoint can set allow_encoded_slash: true";
      if (e.rules.audit_only) v.allowed = v.would_deny = true;
    } else {
      v = Evaluate(e.rules, method, q.target);
    }
    if (!first) first = &e, first_verdict = v;
    if (StartsWith(v.rule, "deny_rules") && !v.allowed) {
      ev.endpoint = e.label, ev.policy = e.policy, ev.rule = v.rule, ev.reason = v.reason;
      return ev;  // an enforced deny of any selected endpoint wins
    }
    if (v.allowed && !v.would_deny && !allow_by) allow_by = &e, allow_verdict = v;
    if (v.allowed && v.would_deny && !audit_by) audit_by = &e, audit_verdict = v;
  }
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

void Inspector::Refuse(InspectorOutput* out, RequestEvent ev, bool close_after, int status) {
  ev.status = status;
  Pending p;
  p.local = true;
  p.close_after = close_after;
  p.response = LocalResponse(status, RefusalBody(ev), close_after);
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
    if (websocket_ && websocket_graphql_ >= 0) {
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
      out->to_upstream.append(in.substr(0, s.used));
      in.remove_prefix(s.used);
      if (s.error) {
        // The upstream has part of a body it cannot finish: both go.
        out->close = true;
        client_stopped_ = true;
        in = {};
        return;
      }
      if (!s.done) return;
      request_body_.reset();
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
    in.remove_prefix(q.head_length);
    if (!HostMatches(q.host)) {
      RequestEvent ev;
      ev.method = q.method, ev.path = q.target.path;
      ev.reason = "Host '" + q.host + "' is not the tunnel's destination " + config_.host + ":" +
                  std::to_string(config_.port);
      Refuse(out, std::move(ev), true);
      return;
    }
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
        // Not all here yet: the head is parsed again with the rest.
        in = std::string_view(in.data() - q.head_length, in.size() + q.head_length);
        return;
      }
      body = in.substr(0, static_cast<size_t>(q.body_length));
    }
    bool audit_deny = false;
    RequestEvent ev = Decide(q, q.method, &audit_deny, body);
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
      for (int pass = 0; pass < 2 && p.websocket_graphql < 0; ++pass) {
        for (size_t i = 0; i < config_.endpoints.size(); ++i) {
          const auto& e = config_.endpoints[i];
          bool candidate = pass == 0 ? e.label == ev.endpoint
                                     : e.path.empty() || GlobMatch(e.path, q.target.path);
          if (candidate && e.rules.GraphqlPolicy()) {
            p.websocket_graphql = static_cast<int>(i);
            websocket_endpoint_ = e.label, websocket_policy_ = e.policy;
            break;
          }
        }
      }
    }
    pending_.push_back(std::move(p));
    out->to_upstream += q.forward_head;
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

void Inspector::GraphqlFrames(std::string_view& in, InspectorOutput* out) {
  const InspectedEndpoint& ep = config_.endpoints[static_cast<size_t>(websocket_graphql_)];
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
        client_stopped_ = true;
        client_buf_.clear();
        close_after_response_ = true;
      }
    }
    if (info.switched) {
      websocket_ = true;
      websocket_graphql_ = front.websocket_graphql;
      websocket_audit_ = front.websocket_text_audit && websocket_graphql_ < 0;
      frames_.emplace(front.websocket_text_allowed || front.websocket_text_audit ||
                      websocket_graphql_ >= 0);
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
