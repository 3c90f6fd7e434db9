// The HTTP conversation on one inspected connection, without sockets: the
// proxy feeds it the plaintext each side sent (after TLS, when there is TLS)
// and sends what it returns. Every request is checked against the
// endpoints selected for it before a byte of it goes upstream; a refused
// request is answered with a 403 in its place in the response order
// (pipelining), and the upstream never sees it.
//
// Endpoint selection: the candidates are the endpoints that matched host,
// port and caller at L4. Those whose `path` glob matches the request path
// (an empty `path` matches all) are selected. A deny rule of any selected
// endpoint refuses the request (audit-only endpoints log it instead); else
// an allow of any selected endpoint passes it; else it is refused with the
// first endpoint's reason and a rule that would allow it.
//
// A refused request that carries a body is answered and the connection
// closed after the answer: the body is never relayed, and skipping it
// would mean reading an attacker-sized body for nothing.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credentials/store.h"
#include "l7/graphql.h"
#include "l7/message.h"
#include "l7/rules.h"
#include "l7/websocket.h"

namespace rf::l7 {

struct InspectedEndpoint {
  std::string path;  // selector glob; empty: every path
  EndpointRules rules;
  std::string label;   // "policy NAME endpoint N", for events
  std::string policy;  // NAME: the network_policies entry
  // request_body_credential_rewrite: placeholders in the bodies of the
  // requests this endpoint allows are rewritten (else refused).
  bool body_rewrite = false;
};

struct InspectorConfig {
  std::vector<InspectedEndpoint> endpoints;
  std::string host;  // the CONNECT (or forward) authority's host
  uint16_t port = 0;
  bool tls = false;  // the default port of the Host field is 443, else 80
  size_t max_head = 16384;
  // Credentials of the run (docs/credentials.md): placeholders in header
  // values and the query are replaced where a binding matches the host,
  // port and path, and the request is refused anywhere else (403
  // credential_endpoint_mismatch, nothing forwarded). A placeholder in a
  // body is refused before it reaches the upstream, or rewritten where the
  // endpoint opts in (JSON, form and text bodies up to kMaxRewriteBody).
  std::shared_ptr<const cred::Store> credentials;
};

inline constexpr size_t kMaxRewriteBody = 256 * 1024;

// One per request (and one per refused WebSocket text message).
struct RequestEvent {
  std::string method;
  std::string path;  // normalised; never the query (values may be secrets)
  bool allowed = false;
  bool would_deny = false;
  int status = 0;        // the proxy's own answer, 0 when forwarded
  std::string endpoint;  // its label
  std::string policy;    // the network_policies entry it belongs to
  std::string rule;
  std::string reason;
  std::string hint;
  std::string error;  // the refusal body's `error`; empty: policy_denied
  // MCP and JSON-RPC: the call's method and tools/call's tool (never its
  // arguments).
  std::string rpc_method;
  std::string tool;
  // GraphQL endpoints: the operations judged (type, name, root fields;
  // never variables), and the refusal's body in GraphQL's error shape.
  std::vector<graphql::Operation> graphql;
  std::string graphql_error;  // why it could not be classified
  bool graphql_shape = false;
};

struct InspectorOutput {
  std::string to_upstream;
  std::string to_client;
  std::vector<RequestEvent> events;
  bool close = false;  // flush to_client, then close both sides
};

class Inspector {
 public:
  explicit Inspector(InspectorConfig config) : config_(std::move(config)) {
    for (const auto& e : config_.endpoints)
      any_encoded_slash_ = any_encoded_slash_ || e.rules.allow_encoded_slash;
  }

  void FromClient(std::string_view bytes, InspectorOutput* out);
  // Requests decided from now on use `endpoints` (a live policy change,
  // docs/live-policy.md); none: every request is refused.
  void SetEndpoints(std::vector<InspectedEndpoint> endpoints) {
    config_.endpoints = std::move(endpoints);
    any_encoded_slash_ = false;
    for (const auto& e : config_.endpoints)
      any_encoded_slash_ = any_encoded_slash_ || e.rules.allow_encoded_slash;
  }
  void FromUpstream(std::string_view bytes, InspectorOutput* out);
  // Bytes the inspector holds (a head not complete yet, or an MCP or
  // JSON-RPC body being judged), for the proxy's memory bound: never more
  // than the head limit plus the endpoints' max_body_bytes.
  size_t buffered() const { return client_buf_.size() + upstream_buf_.size(); }
  // Requests waiting for their answer (forwarded or the proxy's own): the
  // tunnel stops reading the client past a bound, so refused requests sent
  // without reading their answers cannot pile up.
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    bool local = false;    // answered by the proxy
    std::string response;  // when local
    bool close_after = false;
    std::string method;      // when forwarded
    bool websocket = false;  // forwarded WebSocket upgrade
    bool websocket_text_allowed = false;
    bool websocket_text_audit = false;
    // The endpoint judging GraphQL-over-WebSocket messages, as it was when
    // the upgrade was decided.
    std::shared_ptr<const InspectedEndpoint> websocket_graphql;
  };
  void ClientBytes(InspectorOutput* out);
  void ClientBytesFrom(std::string_view& in, InspectorOutput* out);
  void UpstreamBytes(InspectorOutput* out);
  // The response body in progress is complete: the next response (or the
  // client bytes held back behind a refused upgrade) may go on.
  void EndResponseBody(InspectorOutput* out);
  void FlushLocal(InspectorOutput* out);
  RequestEvent Decide(const InspectedRequest& q, std::string_view method, bool* audit_only_deny,
                      const InspectedEndpoint** decided = nullptr, std::string_view body = {});
  // The credential steps of an allowed request (docs/credentials.md):
  // false when it was refused.
  bool CredentialHead(InspectedRequest& q, RequestEvent& ev, InspectorOutput* out);
  // A body being scanned (relayed, a tail held back) or collected for
  // rewriting; false when it was refused.
  bool ScanBody(std::string_view data, bool done, InspectorOutput* out);
  bool CollectBody(std::string_view data, bool done, InspectorOutput* out);
  void CredentialRefusal(InspectorOutput* out, RequestEvent ev, int status, bool mid_body,
                         const std::string& why);
  // One endpoint's verdict; setting *hard refuses whatever the others say
  // (a malformed call).
  using EndpointJudge = std::function<Verdict(const InspectedEndpoint&, bool* hard)>;
  // The verdict of the endpoints selected by the request's path, combined.
  RequestEvent Judge(const InspectedRequest& q, std::string_view method, const EndpointJudge& judge,
                     bool* audit_only_deny, const InspectedEndpoint** decided = nullptr);
  Verdict HttpVerdict(const InspectedEndpoint& e, const InspectedRequest& q,
                      std::string_view method) const;
  // Whether an MCP or JSON-RPC endpoint is selected for the request.
  bool RpcSelected(const InspectedRequest& q) const;
  // Judges (and relays or refuses) such a request whose head starts `in`;
  // false: stop reading `in` for now (a body still incomplete, or closed).
  bool RpcRequest(std::string_view& in, InspectedRequest& q, InspectorOutput* out);
  // The largest graphql_max_body_bytes of the GraphQL endpoints selected
  // for `path`; 0 when none is.
  size_t GraphqlBodyLimit(const std::string& path) const;
  // Client frames on a GraphQL-over-WebSocket connection: each text message
  // whole, judged before a byte of it is relayed.
  void GraphqlFrames(std::string_view& in, InspectorOutput* out);
  bool HostMatches(const std::string& host_field) const;
  // The proxy's own answer in the request's place (403 for a rule, the
  // parser's status for a malformed request).
  void Refuse(InspectorOutput* out, RequestEvent ev, bool close_after, int status = 403,
              const std::string& body = {});

  InspectorConfig config_;
  // Targets are normalised keeping %2F when any endpoint allows it; each
  // endpoint then checks for itself (Decide).
  bool any_encoded_slash_ = false;
  std::string client_buf_, upstream_buf_;
  std::deque<Pending> pending_;
  std::optional<BodyCounter> request_body_, response_body_;
  bool response_head_done_ = false;
  bool client_stopped_ = false;   // no more client bytes are read
  bool stop_after_body_ = false;  // the request in progress closes the connection
  // The upstream answered the request whose body is still coming: the rest
  // of it is never relayed, and the connection ends after that answer.
  bool close_after_response_ = false;
  bool continue_sent_ = false;  // 100 Continue for the RPC body being held
  bool websocket_ = false;      // the connection switched to WebSocket
  std::optional<ClientFrameScanner> frames_;
  bool websocket_audit_ = false;
  std::string websocket_path_;
  std::string websocket_endpoint_;
  std::string websocket_policy_;
  // The request body in progress and its credential handling.
  enum class BodyMode { kRelay, kScan, kCollect };
  BodyMode body_mode_ = BodyMode::kRelay;
  std::string body_tail_;  // kScan: bytes held back (a prefix may continue)
  std::string body_head_;  // kCollect: the head, sent once the body is rewritten
  std::string body_data_;  // kCollect: the body as received (framing included)
  bool body_chunked_ = false;
  std::string body_path_;    // the request's path, for the binding
  RequestEvent body_event_;  // the request's event, for a refusal's
  std::shared_ptr<const InspectedEndpoint> websocket_graphql_;
};

}  // namespace rf::l7
